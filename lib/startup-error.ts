/**
 * An error that stops a node at start-up for a reason its operator can fix (a bad variable, a
 * database that does not exist, a data folder another process holds). `bin/start.ts` prints its
 * message as one line and exits 1, without a stack trace: the message must say what is wrong and
 * what to do.
 */
export class StartupError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "StartupError";
	}
}

/** Thrown at start-up for a variable that cannot be used, naming it and what it accepts. */
export class ConfigError extends StartupError {
	constructor(variable: string, value: string, expected: string) {
		super(`${variable}='${value}' is not valid: expected ${expected}.`);
		this.name = "ConfigError";
	}
}

/** True for an error whose message alone explains a failed start. */
export function isStartupError(err: unknown): err is StartupError {
	return err instanceof StartupError;
}
