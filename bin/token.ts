/**
 * Mints a bearer token for the configured JWT_SECRET (and JWT_ISSUER / JWT_AUDIENCE when set):
 *
 *   npm run -s token -- --sub c-1 --role customer [--ttl 3600]
 *
 * Prints the token alone on stdout, so that `TOKEN=$(npm run -s token -- --sub c-1)` works.
 */
import { parseArgs } from "node:util";
import { readEnvironment } from "../moleculer.config";
import { Roles, type Role } from "../lib/auth/caller";
import { SUBJECT_RULE, isSubject, mintToken } from "../lib/auth/tokens";
import { isStartupError } from "../lib/startup-error";

const USAGE = "usage: npm run -s token -- --sub <customer id> [--role customer|admin] [--ttl <seconds, default 3600>]";

async function main(): Promise<void> {
	const { values } = parseArgs({
		options: { sub: { type: "string" }, role: { type: "string", default: "customer" }, ttl: { type: "string", default: "3600" } },
		strict: true
	});
	const config = readEnvironment(process.env);
	if (!config.jwt.secret) {
		throw new Error("JWT_SECRET is not set: tokens can be minted only for a configured secret (an identity provider mints its own).");
	}
	if (!isSubject(values.sub)) throw new Error(`--sub must be ${SUBJECT_RULE}. ${USAGE}`);
	if (!Roles.includes(values.role as Role)) throw new Error(`--role must be one of ${Roles.join(", ")}. ${USAGE}`);
	const ttl = Number(values.ttl);
	const maxTtl = config.jwt.maxTokenLifetimeSeconds;
	if (!Number.isInteger(ttl) || ttl < 1) throw new Error(`--ttl must be a whole number of seconds from 1 to ${maxTtl}. ${USAGE}`);
	if (ttl > maxTtl) {
		throw new Error(`--ttl ${ttl} is longer than JWT_MAX_TTL_S (${maxTtl} s): the api would refuse the token. Ask for ${maxTtl} s or less, or raise JWT_MAX_TTL_S. ${USAGE}`);
	}
	const token = await mintToken(config.jwt.secret, {
		sub: values.sub,
		role: values.role as Role,
		ttlSeconds: ttl,
		issuer: config.jwt.issuer,
		audience: config.jwt.audience
	});
	process.stdout.write(token + "\n");
}

main().catch(err => {
	process.stderr.write(`${isStartupError(err) ? err.message : (err as Error).message}\n`);
	process.exit(1);
});
