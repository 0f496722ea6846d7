/**
 * The Compose setup keeps its doors closed: RabbitMQ, PostgreSQL, Prometheus and Grafana are
 * published on the host's loopback at most, nothing runs with a well-known login (RabbitMQ's guest,
 * a password equal to its user, Grafana's admin/admin), every password and key comes from a
 * variable Compose refuses to go without, and every node gets the cluster key.
 *
 * Read as Compose reads the files (docker compose / docker-compose config when installed, else the
 * YAML interpolated here: test/support/compose.ts).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ComposeConfigError, composeConfig, composeReader, interpolate, isLoopback, portOf, type ComposeConfig } from "../../support/compose";
import { REPO_ROOT } from "../../support/ops-pack";

const PRODUCT = ["docker-compose.yml"];
const WITH_OPS = ["docker-compose.yml", "ops/docker-compose.ops.yml"];

/** Distinct values, so that each one can be traced to where it ends up. */
const VARIABLES = {
	RABBITMQ_PASSWORD: "spec-rabbitmq-password-5f1c",
	ORDERS_DB_PASSWORD: "spec-orders-db-password-9a2e",
	PROCESSOR_DB_PASSWORD: "spec-processor-db-password-3d7b",
	CLUSTER_SECRET: "spec-cluster-secret-0123456789abcdef0123456789abcdef",
	GRAFANA_ADMIN_PASSWORD: "spec-grafana-password-7c4d"
} as const;
const REQUIRED_BY_PRODUCT = ["RABBITMQ_PASSWORD", "ORDERS_DB_PASSWORD", "PROCESSOR_DB_PASSWORD", "CLUSTER_SECRET"] as const;

/** The services that run the product (a SERVICES variable), by name. */
function nodes(config: ComposeConfig) {
	return Object.entries(config.services).filter(([, service]) => service.environment.SERVICES);
}

function without(name: string): Record<string, string> {
	const rest: Record<string, string> = { ...VARIABLES };
	delete rest[name];
	return rest;
}

describe(`Compose files, as read by ${composeReader()}`, () => {
	const product = composeConfig(PRODUCT, { ...VARIABLES });
	const withOps = composeConfig(WITH_OPS, { ...VARIABLES });
	const rabbitmq = product.services.rabbitmq;

	it("should have RabbitMQ, the two databases and the three kinds of node", () => {
		expect(Object.keys(product.services).sort()).toEqual(["api", "orders", "orders-db", "processor", "processor-db", "rabbitmq"]);
		expect(nodes(product).map(([name]) => name).sort()).toEqual(["api", "orders", "processor"]);
		expect(Object.keys(withOps.services)).toEqual(expect.arrayContaining(["prometheus", "grafana"]));
	});

	it("should publish RabbitMQ (AMQP and the management UI) on the host's loopback only", () => {
		for (const port of rabbitmq.ports) expect({ port, loopback: isLoopback(port.hostIp) }).toEqual({ port, loopback: true });
		const management = rabbitmq.ports.filter(port => port.target === 15672);
		for (const port of management) expect(port.hostIp).toBe("127.0.0.1");
	});

	it("should publish nothing but the API beyond the host's loopback", () => {
		for (const [name, service] of Object.entries(withOps.services)) {
			if (name === "api") continue;
			for (const port of service.ports) expect({ name, port, loopback: isLoopback(port.hostIp) }).toEqual({ name, port, loopback: true });
		}
		for (const name of ["orders-db", "processor-db", "prometheus", "grafana"]) expect(withOps.services[name]).toBeDefined();
	});

	it("should run RabbitMQ with its own user and the password from RABBITMQ_PASSWORD, not guest", () => {
		const user = rabbitmq.environment.RABBITMQ_DEFAULT_USER;
		expect(user).toBeTruthy();
		expect(user).not.toBe("guest");
		expect(rabbitmq.environment.RABBITMQ_DEFAULT_PASS).toBe(VARIABLES.RABBITMQ_PASSWORD);
	});

	it("should connect every node to RabbitMQ as that user, and no service with guest", () => {
		const { RABBITMQ_DEFAULT_USER: user, RABBITMQ_DEFAULT_PASS: password } = rabbitmq.environment;
		for (const [name, service] of nodes(product)) {
			const url = new URL(service.environment.TRANSPORTER);
			expect({ name, protocol: url.protocol, host: url.hostname, user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) }).toEqual({
				name,
				protocol: "amqp:",
				host: "rabbitmq",
				user,
				password
			});
		}
		for (const [name, service] of Object.entries(withOps.services)) {
			for (const [variable, value] of Object.entries(service.environment)) {
				expect({ name, variable, guest: /guest:guest|\/\/guest[:@]|^guest$/i.test(value) }).toEqual({ name, variable, guest: false });
			}
		}
	});

	it("should give every node the same CLUSTER_SECRET, from the variable", () => {
		for (const [name, service] of nodes(product)) {
			expect({ name, key: service.environment.CLUSTER_SECRET }).toEqual({ name, key: VARIABLES.CLUSTER_SECRET });
			// Set but empty unless given: the previous key of a rotation.
			expect({ name, previous: service.environment.CLUSTER_SECRET_PREVIOUS }).toEqual({ name, previous: "" });
		}
		const rotating = composeConfig(PRODUCT, { ...VARIABLES, CLUSTER_SECRET_PREVIOUS: "spec-previous-key-0123456789abcdef0123456789" });
		for (const [name, service] of nodes(rotating)) expect({ name, previous: service.environment.CLUSTER_SECRET_PREVIOUS }).toEqual({ name, previous: "spec-previous-key-0123456789abcdef0123456789" });
	});

	it("should give the api JWT_SECRET from the variable (empty: a secret made for the run)", () => {
		expect(product.services.api.environment.JWT_SECRET).toBe("");
		const jwtSecret = "spec-jwt-secret-0123456789abcdef0123456789abcdef";
		expect(composeConfig(PRODUCT, { ...VARIABLES, JWT_SECRET: jwtSecret }).services.api.environment.JWT_SECRET).toBe(jwtSecret);
	});

	it("should run each PostgreSQL with the password of its variable, and the nodes use it", () => {
		const orders = product.services["orders-db"].environment;
		const processor = product.services["processor-db"].environment;
		expect(orders.POSTGRES_PASSWORD).toBe(VARIABLES.ORDERS_DB_PASSWORD);
		expect(processor.POSTGRES_PASSWORD).toBe(VARIABLES.PROCESSOR_DB_PASSWORD);
		const passwordOf = (url: string) => decodeURIComponent(new URL(url).password);
		expect(passwordOf(product.services.orders.environment.ORDERS_DATABASE_URL)).toBe(VARIABLES.ORDERS_DB_PASSWORD);
		expect(passwordOf(product.services.api.environment.RATE_LIMIT_DATABASE_URL)).toBe(VARIABLES.ORDERS_DB_PASSWORD);
		expect(passwordOf(product.services.processor.environment.PROCESSOR_DATABASE_URL)).toBe(VARIABLES.PROCESSOR_DB_PASSWORD);
	});

	it("should let Grafana's admin in with GRAFANA_ADMIN_PASSWORD only", () => {
		expect(withOps.services.grafana.environment.GF_SECURITY_ADMIN_PASSWORD).toBe(VARIABLES.GRAFANA_ADMIN_PASSWORD);
	});

	it.each(REQUIRED_BY_PRODUCT.map(name => [name]))("should refuse to read docker-compose.yml without %s", name => {
		expect(() => composeConfig(PRODUCT, without(name))).toThrow(name);
		expect(() => composeConfig(PRODUCT, { ...without(name), [name]: "" })).toThrow(name);
	});

	it("should refuse to read the operations override without GRAFANA_ADMIN_PASSWORD", () => {
		expect(() => composeConfig(WITH_OPS, without("GRAFANA_ADMIN_PASSWORD"))).toThrow("GRAFANA_ADMIN_PASSWORD");
	});
});

describe(".env.example", () => {
	const lines = readFileSync(join(REPO_ROOT, ".env.example"), "utf8")
		.split("\n")
		.filter(line => /^[A-Z_]+=/.test(line));
	const values = Object.fromEntries(lines.map(line => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));

	it("should list every variable the compose files require, and ship no value for any secret", () => {
		for (const name of Object.keys(VARIABLES)) expect({ name, listed: name in values, value: values[name] }).toEqual({ name, listed: true, value: "" });
		for (const name of ["JWT_SECRET", "CLUSTER_SECRET_PREVIOUS"]) expect({ name, value: values[name] }).toEqual({ name, value: "" });
	});

	it("should be the template of a .env that git ignores", () => {
		expect(readFileSync(join(REPO_ROOT, ".gitignore"), "utf8").split("\n")).toContain(".env");
	});
});

describe("Test support: Compose's interpolation and port forms", () => {
	it.each([
		["a ${X} b", { X: "1" }, "a 1 b"],
		["${X:-d}", {}, "d"],
		["${X:-d}", { X: "" }, "d"],
		["${X-d}", { X: "" }, ""],
		["$X$$", { X: "v" }, "v$"],
		["${X:?why}", { X: "v" }, "v"]
	])("should read %s with %j as %s", (text, variables, expected) => {
		expect(interpolate(text, variables)).toBe(expected);
	});

	it("should refuse a required variable that is missing or empty", () => {
		expect(() => interpolate("${X:?set X}", {})).toThrow(ComposeConfigError);
		expect(() => interpolate("${X:?set X}", { X: "" })).toThrow("set X");
		expect(() => interpolate("${X?set X}", {})).toThrow("set X");
		expect(interpolate("${X?set X}", { X: "" })).toBe("");
	});

	it.each([
		["5672:5672", { hostIp: undefined, published: 5672, target: 5672 }],
		["127.0.0.1:15672:15672/tcp", { hostIp: "127.0.0.1", published: 15672, target: 15672 }],
		["[::1]:5672:5672", { hostIp: "::1", published: 5672, target: 5672 }],
		["3000", { hostIp: undefined, published: undefined, target: 3000 }],
		[{ host_ip: "127.0.0.1", published: "9090", target: 9090, protocol: "tcp" }, { hostIp: "127.0.0.1", published: 9090, target: 9090 }],
		[{ published: 3000, target: 3000 }, { hostIp: undefined, published: 3000, target: 3000 }]
	])("should read the port %j", (raw, expected) => {
		expect(portOf(raw)).toEqual(expected);
	});

	it("should read the files the same way with the yaml fallback", () => {
		const viaYaml = composeConfig(WITH_OPS, { ...VARIABLES }, "yaml");
		const viaReader = composeConfig(WITH_OPS, { ...VARIABLES });
		for (const name of Object.keys(viaReader.services)) {
			expect({ name, environment: viaYaml.services[name]?.environment }).toEqual({ name, environment: viaReader.services[name].environment });
			expect({ name, ports: viaYaml.services[name]?.ports }).toEqual({ name, ports: viaReader.services[name].ports });
		}
	});
});
