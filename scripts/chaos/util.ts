/**
 * Small helpers of the chaos script: time-stamped logging, a seeded random generator (so that two
 * runs with one seed take the same decisions) and integer settings. Unique names, polling, sleeping
 * and free ports come from the test kit (test/support/services.ts).
 */

const started = Date.now();

/** Prints one time-stamped line to stdout: wall clock and seconds since the script started. */
export function log(message: string): void {
	const elapsed = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
	process.stdout.write(`${new Date().toISOString()} [+${elapsed}s] ${message}\n`);
}

export interface Random {
	/** A float in [0, 1). */
	next(): number;
	/** An integer in [min, max], both included. */
	int(min: number, max: number): number;
	/** One element, chosen by weight. */
	weighted<T>(choices: Array<{ value: T; weight: number }>): T;
}

/** mulberry32: a tiny, good-enough seeded generator. */
export function seededRandom(seed: number): Random {
	let state = seed >>> 0;
	const next = (): number => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
	return {
		next,
		int: (min, max) => min + Math.floor(next() * (max - min + 1)),
		weighted: choices => {
			const total = choices.reduce((sum, c) => sum + c.weight, 0);
			let roll = next() * total;
			for (const choice of choices) {
				roll -= choice.weight;
				if (roll < 0) return choice.value;
			}
			return choices[choices.length - 1].value;
		}
	};
}

/** Reads an integer environment variable, or the fallback. */
export function envInt(name: string, fallback: number): number {
	const raw = process.env[name];
	if (raw === undefined || raw.trim() === "") return fallback;
	const value = Number(raw);
	if (!Number.isInteger(value)) throw new Error(`${name}='${raw}' is not an integer.`);
	return value;
}
