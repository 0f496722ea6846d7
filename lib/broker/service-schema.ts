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

/** What a mixin gives the service it is mixed into: settings, methods, and state on the instance. */
export interface MixinShape {
	settings: object;
	methods: object;
	vars: object;
}

/** The key of a mixin's type-only description: no mixin object has it at run time. */
declare const mixinTypes: unique symbol;

/**
 * A mixin schema whose type says what it gives (`TGives`) and which methods it needs of the service
 * that mixes it in (`TNeeds`, given by another mixin): {@link withMixins} checks the joins.
 */
export type Mixin<TGives extends MixinShape, TNeeds extends object = object> = Partial<AnyServiceSchema> & {
	readonly [mixinTypes]?: { gives: TGives; needs: TNeeds };
};

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
type GivesOf<M> = M extends Mixin<infer G, object> ? G : never;
type NeedsOf<M> = M extends Mixin<MixinShape, infer N> ? N : never;
type ObjectOr<T> = [T] extends [never] ? object : T;

/** What a list of mixins gives together, under one key of {@link MixinShape}. */
export type GivenBy<TMixins extends readonly unknown[], K extends keyof MixinShape> = ObjectOr<UnionToIntersection<GivesOf<TMixins[number]>[K]>>;
type NeededBy<TMixins extends readonly unknown[]> = ObjectOr<UnionToIntersection<NeedsOf<TMixins[number]>>>;

/** The mixins as they are when each one's needs are given by the list; else a type error naming what is missing. */
type CheckedMixins<TMixins extends readonly unknown[]> =
	GivenBy<TMixins, "methods"> extends NeededBy<TMixins>
		? TMixins
		: { error: "a mixin needs methods that no mixin of the list gives"; missing: Exclude<keyof NeededBy<TMixins>, keyof GivenBy<TMixins, "methods">> };

/**
 * A service schema built on `TMixins`: `this` in its handlers is what the mixins give plus the
 * service's own settings (`TSettings`) and state (`TVars`), derived rather than restated by hand.
 * `TExtra` takes hooks that a mixin calls (moleculer-db's `afterConnected`).
 */
export type MixedServiceSchema<TMixins extends readonly unknown[], TSettings, TVars> = PartialSettingsSchema<
	TSettings & GivenBy<TMixins, "settings">,
	GivenBy<TMixins, "methods">,
	TVars & GivenBy<TMixins, "vars">
> & {
	/** moleculer-db's hook, called once the database is connected and migrated (the database mixin). */
	afterConnected?(this: ServiceThis<TSettings & GivenBy<TMixins, "settings">, GivenBy<TMixins, "methods">, TVars & GivenBy<TMixins, "vars">>): void | Promise<void>;
};

/**
 * Mixes `mixins` into a service schema with its joins checked: each mixin's needs must be given by
 * the list, and the schema's `this` is what they give. The order is Moleculer's: the last mixin
 * starts first and stops last.
 */
export function withMixins<const TMixins extends readonly Mixin<MixinShape, object>[]>(...mixins: TMixins & CheckedMixins<TMixins>) {
	return <TSettings extends object = object, TVars extends object = object>(
		schema: Omit<MixedServiceSchema<TMixins, TSettings, TVars>, "mixins">
	): MixedServiceSchema<TMixins, TSettings, TVars> => ({ ...schema, mixins: [...mixins] }) as MixedServiceSchema<TMixins, TSettings, TVars>;
}
