/**
 * Lints the OpenAPI document the way the tools people point at an API do: Redocly's `recommended`
 * ruleset and Spectral's `spectral:oas`. Both run in one child Node process: Redocly's library is
 * ESM only (jest runs these tests as CommonJS), and a child keeps both tools' own ajv apart from the
 * product's. The rulesets are configured here, each change with its reason.
 */
import { runEsmScript } from "./openapi";
import { pathToFileURL } from "node:url";

/** One finding of either linter, in one shape. */
export interface LintFinding {
	tool: "redocly" | "spectral";
	rule: string;
	severity: "error" | "warn" | "info" | "hint";
	message: string;
	/** JSON pointer (Redocly) or path (Spectral) of the node it is about. */
	at: string;
}

/** Redocly's configuration: its recommended ruleset. No rule is turned off or down; one that is must say why here. */
export const REDOCLY_CONFIG = { extends: ["recommended"] };

/** Spectral's ruleset, on top of `spectral:oas`'s recommended rules. None is turned off or down; one that is must say why here. */
export const SPECTRAL_RULES: Record<string, string> = {};

const LINT_SCRIPT = `
const [redoclyUrl, spectralCore, spectralParsers, spectralRulesets, configText] = process.argv.slice(1);
const { createConfig, lintFromString } = await import(redoclyUrl);
const { Spectral, Document } = (await import(spectralCore)).default;
const Parsers = (await import(spectralParsers)).default;
const { oas } = (await import(spectralRulesets)).default;
const { redocly, spectralRules } = JSON.parse(configText);
let text = "";
for await (const chunk of process.stdin) text += chunk;
const findings = [];
const redoclyProblems = await lintFromString({ source: text, absoluteRef: "openapi.json", config: await createConfig(redocly) });
for (const p of redoclyProblems) {
	findings.push({ tool: "redocly", rule: p.ruleId, severity: p.severity, message: p.message, at: p.location?.[0]?.pointer ?? "" });
}
const spectral = new Spectral();
spectral.setRuleset({ extends: [[oas, "recommended"]], rules: spectralRules });
const severities = ["error", "warn", "info", "hint"];
for (const r of await spectral.run(new Document(text, Parsers.Json, "openapi.json"))) {
	findings.push({ tool: "spectral", rule: String(r.code), severity: severities[r.severity], message: r.message, at: "#/" + r.path.join("/") });
}
process.stdout.write(JSON.stringify(findings));
`;

/** Every finding of Redocly (`recommended`) and Spectral (`spectral:oas`) on a document. */
export function lintOpenApiDocument(document: unknown): Promise<LintFinding[]> {
	const moduleUrl = (name: string) => pathToFileURL(require.resolve(name)).href;
	const args = [
		moduleUrl("@redocly/openapi-core"),
		moduleUrl("@stoplight/spectral-core"),
		moduleUrl("@stoplight/spectral-parsers"),
		moduleUrl("@stoplight/spectral-rulesets"),
		JSON.stringify({ redocly: REDOCLY_CONFIG, spectralRules: SPECTRAL_RULES })
	];
	return runEsmScript<LintFinding[]>("The OpenAPI linters", LINT_SCRIPT, args, document);
}
