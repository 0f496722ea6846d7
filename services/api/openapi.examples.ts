/**
 * The examples of the OpenAPI document's error answers: for each status an operation documents,
 * the problem the gateway makes of the error behind it (toProblem), so that an example can never
 * drift from a real answer.
 */
import { ForbiddenRoleError, MissingTokenError } from "../../lib/auth/auth.errors";
import { RateLimitExceededError } from "../../lib/http/errors";
import { InvalidQueryParameterError, UnsupportedMediaTypeError } from "./api.errors";
import { EXAMPLE_ORDER_ID, type OperationSpec } from "./openapi.operations";
import { queryParameterNames, toOpenApiPath } from "./openapi.params";
import { toProblem, type Problem } from "./problem";
import { BODY_LIMIT_BYTES, type ApiRoute } from "./routes";

/** A correlation id for the examples. */
const EXAMPLE_CORRELATION_ID = "3f1c9a2e-6b7d-4e0a-9c55-2d8e7f1b4a60";

/** The example of an answer with `status`: the problem the gateway makes of the error behind it. */
export function problemExample(route: ApiRoute, spec: OperationSpec, status: number): Problem {
	const instance = toOpenApiPath(route.path).replace(/\{(\w+)\}/g, (_, name: string) => {
		if (name === "sku") return "SKU-0001";
		return route.path.startsWith("/admin/dead-letters") ? "orders-outbox-7" : EXAMPLE_ORDER_ID;
	});
	const { problem } = toProblem(exampleError(route, spec, status), { method: route.method, url: instance });
	if (problem.status !== status) throw new Error(`The example of ${route.action}'s ${status} answer is a ${problem.status}.`);
	return { ...problem, instance, correlationId: EXAMPLE_CORRELATION_ID };
}

/** The error behind an answer with `status`: the operation's own, else the one any operation meets. */
function exampleError(route: ApiRoute, spec: OperationSpec, status: number): unknown {
	const own = spec.errorExamples?.[status as keyof NonNullable<OperationSpec["errorExamples"]>];
	if (own !== undefined) return own;
	switch (status) {
		case 400:
			return new InvalidQueryParameterError("a[b]", "nested", `${route.method} ${toOpenApiPath(route.path)}`, queryParameterNames(route));
		case 401:
			return new MissingTokenError();
		case 403:
			if (route.access === "admin") return new ForbiddenRoleError("admin", "customer");
			break;
		case 413:
			return { type: "entity.too.large", limit: BODY_LIMIT_BYTES };
		case 415:
			return new UnsupportedMediaTypeError("text/plain");
		case 429:
			return new RateLimitExceededError(600, 42);
		case 503:
			return { type: "SERVICE_NOT_AVAILABLE" };
		case 504:
			return { type: "REQUEST_TIMEOUT" };
	}
	throw new Error(`The OpenAPI document has no example of ${route.action}'s ${status} answer: add one to its errorExamples.`);
}
