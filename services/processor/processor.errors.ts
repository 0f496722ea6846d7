import { Errors } from "moleculer";

export const ERR_SKU_NOT_FOUND = "SKU_NOT_FOUND";

/** No stock row has this SKU (404). */
export class SkuNotFoundError extends Errors.MoleculerClientError {
	constructor(sku: string) {
		super(`SKU '${sku}' was not found.`, 404, ERR_SKU_NOT_FOUND, { sku });
	}
}
