import { readFileSync } from "node:fs";
import path from "node:path";
import { DOCS_CONTENT_SECURITY_POLICY, DOCS_PATH, OPENAPI_DOCUMENT_PATH, docsResponse } from "../../../../services/api/docs";

const dist = path.dirname(require.resolve("swagger-ui-dist/package.json"));

function page(): string {
	return String(docsResponse("/api/docs")!.body);
}

/** Every `src` and `href` of the page. */
function referencesOf(html: string): string[] {
	return [...html.matchAll(/\s(?:src|href)="([^"]+)"/g)].map(match => match[1]);
}

describe("Test 'docsResponse'", () => {
	describe("the page", () => {
		it("should serve the HTML page at /api/docs, with the CSP it needs", () => {
			const answer = docsResponse("/api/docs");
			expect(answer).toMatchObject({ status: 200, contentType: "text/html; charset=utf-8" });
			expect(answer!.headers["Content-Security-Policy"]).toBe(DOCS_CONTENT_SECURITY_POLICY);
			expect(page()).toMatch(/^<!DOCTYPE html>/);
			expect(page()).toContain('<div id="swagger-ui"></div>');
		});

		it("should serve the same page at /api/docs/ and with a query string", () => {
			expect(docsResponse("/api/docs/")!.body).toBe(page());
			expect(docsResponse("/api/docs?x=1")!.body).toBe(page());
			expect(docsResponse("/api/docs/index.html")!.body).toBe(page());
		});

		it("should hold no inline script or style: every script is a file of this origin", () => {
			const html = page();
			const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
			expect(scripts.length).toBeGreaterThan(0);
			for (const [, attributes, content] of scripts) {
				expect(attributes).toMatch(/\ssrc="\/api\/docs\/[^"]+\.js"/);
				expect(content.trim()).toBe("");
			}
			expect(html).not.toMatch(/<style\b/i);
			expect(html).not.toMatch(/\sstyle=/i);
			expect(html).not.toMatch(/\son[a-z]+=/i);
		});

		it("should load nothing from another host", () => {
			for (const reference of referencesOf(page())) expect(reference).toMatch(/^\/api\//);
		});

		it("should ask for a CSP without unsafe-inline or unsafe-eval", () => {
			expect(DOCS_CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
			expect(DOCS_CONTENT_SECURITY_POLICY).toContain("style-src 'self'");
			expect(DOCS_CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-(inline|eval)/);
		});
	});

	describe("its files", () => {
		it("should serve every file the page names, with its content type", () => {
			const types: Record<string, string> = { ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".png": "image/png" };
			const files = referencesOf(page()).filter(reference => reference.startsWith(`${DOCS_PATH}/`));
			expect(files.length).toBe(6);
			for (const file of files) {
				const answer = docsResponse(file);
				expect(answer).toMatchObject({ status: 200, contentType: types[path.extname(file)] });
				expect(answer!.body.length).toBeGreaterThan(0);
				expect(answer!.headers["X-Content-Type-Options"]).toBe("nosniff");
			}
		});

		it("should serve swagger-ui-dist's own files, read once", () => {
			const bundle = docsResponse("/api/docs/swagger-ui-bundle.js")!.body;
			expect(Buffer.compare(bundle as Buffer, readFileSync(path.join(dist, "swagger-ui-bundle.js")))).toBe(0);
			expect(docsResponse("/api/docs/swagger-ui-bundle.js")!.body).toBe(bundle);
			const css = docsResponse("/api/docs/swagger-ui.css")!.body;
			expect(Buffer.compare(css as Buffer, readFileSync(path.join(dist, "swagger-ui.css")))).toBe(0);
		});

		it("should point Swagger UI at the document from its own initializer, with no online validator", () => {
			const initializer = String(docsResponse("/api/docs/swagger-initializer.js")!.body);
			expect(initializer).toContain(`url: ${JSON.stringify(OPENAPI_DOCUMENT_PATH)}`);
			expect(OPENAPI_DOCUMENT_PATH).toBe("/api/openapi.json");
			expect(initializer).toContain("validatorUrl: null");
			// The standalone preset's logo carries an inline <style>, which the CSP refuses.
			expect(initializer).not.toContain("StandalonePreset");
		});
	});

	describe("paths that are not the docs", () => {
		it.each([
			"/api/docs/../../package.json",
			"/api/docs/..%2F..%2Fpackage.json",
			"/api/docs/%2e%2e/%2e%2e/package.json",
			"/api/docs/%2E%2E%2F%2E%2E%2Fpackage.json",
			"/api/docs/..\\..\\package.json",
			"/api/docs/swagger-ui.css/../../../package.json",
			"/api/docs//etc/passwd",
			"/api/docs/swagger%2Dui.css",
			"/api/docs/swagger-ui.css%00.png",
			"/api/docs/package.json",
			"/api/docs/swagger-ui-bundle.js.map",
			"/api/docs/swagger-ui-standalone-preset.js",
			"/api/docs/constructor",
			"/api/docs/__proto__",
			"/api/docsx",
			"/api/docs.json",
			"/api/openapi.json",
			"/api/orders",
			"/docs"
		])("should answer null for %s", requestPath => {
			expect(docsResponse(requestPath)).toBeNull();
		});
	});
});
