import type { AnyServiceSchema } from "../lib/broker/service-schema";
import type { ServiceName } from "../moleculer.config";
import ApiService from "./api/api.service";
import DeadLettersService from "./dead-letters/dead-letters.service";
import OrdersService from "./orders/orders.service";
import ProcessorService from "./processor/processor.service";

/** Every service of the product, by the name `SERVICES` uses. */
export const serviceSchemas: Record<ServiceName, AnyServiceSchema> = {
	api: ApiService,
	orders: OrdersService,
	processor: ProcessorService
};

/**
 * The schemas a node runs for the names in `SERVICES`: the api node also runs the dead-letter
 * service behind its admin endpoints.
 */
export function schemasToStart(names: ServiceName[]): Array<{ name: string; schema: AnyServiceSchema }> {
	const list = names.map(name => ({ name: name as string, schema: serviceSchemas[name] }));
	if (names.includes("api")) list.push({ name: "deadLetters", schema: DeadLettersService });
	return list;
}

/**
 * The services of one node, ready for `broker.createService`, each with its settings. The api waits
 * for the other services of its process before it listens, so that its first requests are served
 * instead of answered 503.
 */
export function servicesToCreate(names: ServiceName[], settings: Record<string, Record<string, unknown>>): AnyServiceSchema[] {
	const list = schemasToStart(names);
	return list.map(({ name, schema }) => ({
		name,
		mixins: [schema],
		// What the environment gives a service stays on its node: Moleculer broadcasts every other
		// setting in its discovery packets, and these hold the JWT secret and database URLs.
		settings: { ...settings[name], $secureSettings: Object.keys(settings[name] ?? {}) },
		...(name === "api" ? { dependencies: list.map(s => s.name).filter(other => other !== "api") } : {})
	}));
}
