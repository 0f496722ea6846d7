/**
 * withMixins checks the joins between mixins at compile time: `npm test` type-checks this file
 * (tsc --noEmit), and each `@ts-expect-error` below fails that check if the error it marks is no
 * longer reported.
 */
import { withMixins, type Mixin } from "../../../../lib/broker/service-schema";

interface Clockwork {
	tick(): number;
}

const GivesClockwork: Mixin<{ settings: { tickMs: number }; methods: Clockwork; vars: { ticks: number } }> = {
	name: "clockwork",
	settings: { tickMs: 10 },
	methods: {
		tick() {
			return 1;
		}
	}
};

const NeedsClockwork: Mixin<{ settings: object; methods: { twice(): number }; vars: object }, Clockwork> = {
	name: "needs-clockwork",
	methods: {
		twice(this: Clockwork) {
			return this.tick() * 2;
		}
	}
};

describe("Test withMixins", () => {
	it("should give the service what its mixins give, in Moleculer's order", () => {
		const schema = withMixins(NeedsClockwork, GivesClockwork)<{ label: string }, { seen: number }>({
			name: "watch",
			settings: { label: "w" },
			created() {
				// Typed from the mixins and the service's own parts: a misspelt name does not compile.
				const total: number = this.tick() + this.twice() + this.settings.tickMs + this.ticks + this.seen;
				const label: string = this.settings.label;
				// @ts-expect-error: no mixin gives `tock`
				this.tock();
				void total;
				void label;
			}
		});
		expect(schema.name).toBe("watch");
		expect(schema.mixins).toEqual([NeedsClockwork, GivesClockwork]);
	});

	it("should refuse a mixin whose needs no mixin of the list gives", () => {
		// @ts-expect-error: NeedsClockwork needs `tick`, which nothing in the list gives
		const schema = withMixins(NeedsClockwork)({ name: "broken" });
		expect(schema.mixins).toEqual([NeedsClockwork]);
	});
});
