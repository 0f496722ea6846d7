/**
 * A SKU's stock as the admin API reads and sets it (`processor.getStock`, `processor.setStock`):
 * the actions validate their params with these schemas, and the OpenAPI document shows them.
 */
import { orderItemSchema } from "./events";

/** Largest number of available units an admin may set for one SKU. */
export const MAX_STOCK_UNITS = 2_000_000_000;

/** A SKU, as an order line names it. */
export const skuSchema = orderItemSchema.properties.sku;

export const getStockSchema = { type: "object", required: ["sku"], properties: { sku: skuSchema } } as const;

export const setStockSchema = {
	type: "object",
	required: ["sku", "available"],
	additionalProperties: false,
	properties: { sku: skuSchema, available: { type: "integer", minimum: 0, maximum: MAX_STOCK_UNITS } }
} as const;
