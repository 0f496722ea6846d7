import { Errors } from "moleculer";

export const ERR_DEAD_LETTER_NOT_FOUND = "DEAD_LETTER_NOT_FOUND";

/** No dead letter has this id (404). */
export class DeadLetterNotFoundError extends Errors.MoleculerClientError {
	constructor(id: string) {
		super(`Dead letter '${id}' was not found; list them with GET /api/admin/dead-letters.`, 404, ERR_DEAD_LETTER_NOT_FOUND, { id });
	}
}
