/**
 * Mints a bearer token for the configured JWT_SECRET (and JWT_ISSUER / JWT_AUDIENCE when set):
 *
 *   npm run -s token -- --sub c-1 --role customer [--ttl 3600]
 *
 * Prints the token alone on stdout, so that `TOKEN=$(npm run -s token -- --sub c-1)` works.
 * `--help` prints the usage (exit 0); a wrong argument prints one line and the usage line on
 * stderr (exit 2); a configuration that cannot mint (no JWT_SECRET) prints one line (exit 1).
 */
import { readEnvironment } from "../moleculer.config";
import { Roles, type Role } from "../lib/auth/caller";
import { SUBJECT_RULE, isSubject, mintToken } from "../lib/auth/tokens";
import { isStartupError } from "../lib/startup-error";

const USAGE = "usage: npm run -s token -- --sub <customer id> [--role customer|admin] [--ttl <seconds>]";

const HELP = [
	USAGE,
	"",
	"Prints a bearer token signed with JWT_SECRET (with JWT_ISSUER and JWT_AUDIENCE when they are set).",
	"  --sub <customer id>   the token's subject: the customer it acts as (an admin's name for --role admin)",
	"  --role <role>         customer (the default) or admin",
	"  --ttl <seconds>       how long it is valid: 3600 by default, at most JWT_MAX_TTL_S (86400 by default)",
	"  -h, --help            this text",
	"",
	"Example: TOKEN=$(npm run -s token -- --sub c-1)"
].join("\n");

/** A wrong argument: reported with the usage line, exit 2. */
class UsageError extends Error {}

interface TokenArgs {
	help: boolean;
	sub?: string;
	role: string;
	ttl: string;
}

const OPTIONS = ["sub", "role", "ttl"] as const;

/** Reads `--name value`, `--name=value` and `-h`/`--help`; a value may start with one dash (`--ttl -5`), not two. */
function parseArgs(argv: string[]): TokenArgs {
	const args: TokenArgs = { help: false, role: "customer", ttl: "3600" };
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		if (arg === "-h" || arg === "--help") {
			args.help = true;
			continue;
		}
		const match = /^--([^=]+)(?:=(.*))?$/s.exec(arg);
		if (!match) throw new UsageError(`Unexpected argument '${arg}': give each value after its option, e.g. --sub ${arg}.`);
		const name = match[1] as (typeof OPTIONS)[number];
		if (!OPTIONS.includes(name)) throw new UsageError(`Unknown option '--${match[1]}': the options are --sub, --role, --ttl and --help.`);
		let value = match[2];
		if (value === undefined) {
			const next = argv[i + 1];
			if (next === undefined || next.startsWith("--")) throw new UsageError(`--${name} needs a value.`);
			value = next;
			i++;
		}
		args[name] = value;
	}
	return args;
}

async function main(argv: string[]): Promise<void> {
	const args = parseArgs(argv);
	if (args.help) {
		process.stdout.write(`${HELP}\n`);
		return;
	}
	const config = readEnvironment(process.env);
	if (!config.jwt.secret) {
		throw new Error("JWT_SECRET is not set: tokens can be minted only for a configured secret (an identity provider mints its own).");
	}
	if (args.sub === undefined) throw new UsageError("--sub is required: the customer id the token acts as.");
	if (!isSubject(args.sub)) throw new UsageError(`--sub must be ${SUBJECT_RULE}.`);
	if (!Roles.includes(args.role as Role)) throw new UsageError(`--role must be one of ${Roles.join(", ")}, not '${args.role}'.`);
	const ttl = Number(args.ttl);
	const maxTtl = config.jwt.maxTokenLifetimeSeconds;
	if (!/^[0-9]+$/.test(args.ttl) || ttl < 1 || ttl > Number.MAX_SAFE_INTEGER) {
		throw new UsageError(`--ttl must be a whole number of seconds from 1 to ${maxTtl}, not '${args.ttl}'.`);
	}
	if (ttl > maxTtl) {
		throw new UsageError(`--ttl ${ttl} is longer than JWT_MAX_TTL_S (${maxTtl} s): the api would refuse the token. Ask for ${maxTtl} s or less, or raise JWT_MAX_TTL_S.`);
	}
	const token = await mintToken(config.jwt.secret, {
		sub: args.sub,
		role: args.role as Role,
		ttlSeconds: ttl,
		issuer: config.jwt.issuer,
		audience: config.jwt.audience
	});
	process.stdout.write(token + "\n");
}

main(process.argv.slice(2)).catch(err => {
	if (err instanceof UsageError) {
		process.stderr.write(`${err.message}\n${USAGE}\n`);
		process.exit(2);
	}
	process.stderr.write(`${isStartupError(err) ? err.message : (err as Error).message}\n`);
	process.exit(1);
});
