/**
 * Real services for the integration and e2e tiers: a PostgreSQL database and a RabbitMQ virtual
 * host of their own per test file, removed afterwards. The code is shared with the bench and the
 * chaos run (scripts/support/local-services.ts).
 */
export {
	ADMIN_DATABASE_URL,
	createTestDatabase,
	createTestVhost,
	queryDatabase,
	uniqueSuffix,
	waitFor,
	type TestDatabase,
	type TestVhost
} from "../../scripts/support/local-services";
