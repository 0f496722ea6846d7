import type { ServiceSchema } from "moleculer";
import type { ServiceName } from "../moleculer.config";
import ApiService from "./api/api.service";
import DeadLettersService from "./dead-letters/dead-letters.service";
import OrdersService from "./orders/orders.service";
import ProcessorService from "./processor/processor.service";

/** Every service of the product, by the name `SERVICES` uses. */
export const serviceSchemas: Record<ServiceName, ServiceSchema<any>> = {
	api: ApiService,
	orders: OrdersService,
	processor: ProcessorService
};

/**
 * The schemas a node runs for the names in `SERVICES`: the api node also runs the dead-letter
 * service behind its admin endpoints.
 */
export function schemasToStart(names: ServiceName[]): Array<{ name: string; schema: ServiceSchema<any> }> {
	const list = names.map(name => ({ name: name as string, schema: serviceSchemas[name] }));
	if (names.includes("api")) list.push({ name: "deadLetters", schema: DeadLettersService });
	return list;
}
