/**
 * The product's own processes (`node dist/bin/start.js`), as a deployment runs them; `npm test`
 * builds dist/ first. Shared with the bench and the chaos run.
 */
export { freePort, startNode, type NodeProcess } from "../../../scripts/support/local-services";
