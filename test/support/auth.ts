/**
 * Tokens for the tests: every test system checks HS256 tokens signed with {@link TEST_JWT_SECRET},
 * as a deployment with `JWT_SECRET` set does.
 */
import type { Role } from "../../lib/auth/caller";
import { mintToken } from "../../lib/auth/tokens";
import { LOCAL_JWT_SECRET } from "./services";

/** The secret of the test systems: the same as the product processes the tests start. */
export const TEST_JWT_SECRET = LOCAL_JWT_SECRET;

/** A token of `sub` with `role`, valid for ten minutes. */
export function tokenFor(sub: string, role: Role = "customer", ttlSeconds = 600): Promise<string> {
	return mintToken(TEST_JWT_SECRET, { sub, role, ttlSeconds });
}

/** The `Authorization` header value for a token. */
export function bearer(token: string): string {
	return `Bearer ${token}`;
}
