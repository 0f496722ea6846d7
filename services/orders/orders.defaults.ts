/**
 * The orders service's defaults, apart from its service so that the config reader
 * (moleculer.config.ts) can read them without loading the service.
 */

/** Creates one orders node writes at once (CREATE_CONCURRENCY): fewer than the pool's 10 connections. */
export const DEFAULT_CREATE_CONCURRENCY = 8;

/** Creates waiting their turn at most (CREATE_QUEUE_SIZE); past it a create is refused with 503. */
export const DEFAULT_CREATE_QUEUE_SIZE = 1000;
