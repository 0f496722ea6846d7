import type { ServiceSchema } from "moleculer";
import type { ServiceName } from "../moleculer.config";
import ApiService from "./api/api.service";
import OrdersService from "./orders/orders.service";
import ProcessorService from "./processor/processor.service";

/** Every service of the product, by the name `SERVICES` uses. */
export const serviceSchemas: Record<ServiceName, ServiceSchema<any>> = {
	api: ApiService,
	orders: OrdersService,
	processor: ProcessorService
};
