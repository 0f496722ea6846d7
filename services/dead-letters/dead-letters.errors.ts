import { Errors } from "moleculer";

export const ERR_DEAD_LETTER_NOT_FOUND = "DEAD_LETTER_NOT_FOUND";
export const ERR_NO_BROKER = "NO_BROKER";

/** No dead letter has this id (404). */
export class DeadLetterNotFoundError extends Errors.MoleculerClientError {
	constructor(id: string) {
		super(`Dead letter '${id}' was not found; list them with GET /api/admin/dead-letters.`, 404, ERR_DEAD_LETTER_NOT_FOUND, { id });
	}
}

/** Dead letters live in RabbitMQ: without TRANSPORTER there are none to replay (409). */
export class NoBrokerError extends Errors.MoleculerClientError {
	constructor() {
		super("This node runs without a message broker (TRANSPORTER is unset): there are no dead-letter queues.", 409, ERR_NO_BROKER);
	}
}
