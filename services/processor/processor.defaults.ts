/**
 * The processor's defaults, apart from its service so that the config reader (moleculer.config.ts)
 * can read them without loading the service.
 */

/** `order.created` events handled in one transaction at most (PROCESSOR_BATCH_SIZE). */
export const DEFAULT_PROCESSOR_BATCH_SIZE = 16;
