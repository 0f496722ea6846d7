import type { Service, ServiceSchema } from "moleculer";

/**
 * A service schema whose own `settings` are only part of `TSettings`: a mixin's defaults, or the
 * fixed settings of a service whose other settings (port, database URL, …) the node passes from
 * the environment when it creates the service (`serviceSettings` in moleculer.config.ts). Inside
 * the schema, `this.settings` is the whole `TSettings`, as Moleculer merges it before any handler runs.
 */
export type PartialSettingsSchema<TSettings, TMethods, TVars> = Omit<ServiceSchema<TSettings, TMethods, TVars>, "settings"> & {
	settings?: Partial<TSettings>;
	/**
	 * Moleculer's `merged` hook (missing from its types): called with the schema once the mixins and
	 * the node's settings are merged into it, before the actions are made; it may still change them.
	 */
	merged?: (schema: ServiceSchema) => void;
};

/** What `this` is in the handlers and methods of a `ServiceSchema<TSettings, TMethods, TVars>`. */
export type ServiceThis<TSettings, TMethods, TVars> = Service<TSettings> & TMethods & TVars;

/**
 * A schema of any settings, methods and vars: what Moleculer's `mixins` and a list of different
 * services take. A schema typed with its own settings fits neither `ServiceSchema` nor
 * `Partial<ServiceSchema>`, whose `this` is a bare `Service` (`Service<S>` is invariant in `S`).
 */
export type AnyServiceSchema = ServiceSchema<any, any, any>;
