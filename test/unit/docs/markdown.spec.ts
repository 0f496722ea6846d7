/**
 * The Markdown files render as their authors meant, read by a CommonMark parser (the reference
 * implementation, commonmark.js) as GitHub's renderer reads them: every fenced block is closed by a
 * fence of its own, so no block swallows the sections after it; every `## ` line outside a code
 * block is a section heading; no paragraph is said twice; the README's Layout is a code block.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { Parser, type Node } from "commonmark";
import { REPO_ROOT } from "../../support/ops-pack";

/** What the parser made of one file, with 1-based source lines. */
interface Rendered {
	lines: string[];
	headings: Array<{ level: number; line: number; text: string }>;
	codeBlocks: Array<{ start: number; end: number; fenced: boolean }>;
	paragraphs: Array<{ line: number; text: string }>;
	/** The top-level blocks in order, for "what follows this heading". */
	blocks: Node[];
}

/** An opening or closing fence: up to three spaces, then three or more backticks or tildes. */
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

function textOf(node: Node): string {
	let text = "";
	const walker = node.walker();
	for (let step = walker.next(); step; step = walker.next()) {
		if (step.entering && step.node.literal !== null && step.node.type !== "code_block") text += step.node.literal;
		if (step.entering && (step.node.type === "softbreak" || step.node.type === "linebreak")) text += " ";
	}
	return text.replace(/\s+/g, " ").trim();
}

function render(source: string): Rendered {
	const document = new Parser().parse(source);
	const lines = source.split("\n");
	const rendered: Rendered = { lines, headings: [], codeBlocks: [], paragraphs: [], blocks: [] };
	for (let block = document.firstChild; block; block = block.next) rendered.blocks.push(block);
	const walker = document.walker();
	for (let step = walker.next(); step; step = walker.next()) {
		const { node, entering } = step;
		// Inline nodes carry no source position; every node looked at here is a block.
		if (!entering || !node.sourcepos) continue;
		const [[start], [end]] = node.sourcepos;
		if (node.type === "heading") rendered.headings.push({ level: node.level, line: start, text: textOf(node) });
		if (node.type === "code_block") rendered.codeBlocks.push({ start, end, fenced: FENCE.test(lines[start - 1]) });
		if (node.type === "paragraph") rendered.paragraphs.push({ line: start, text: textOf(node) });
	}
	return rendered;
}

/** The fenced blocks whose last line is not a closing fence matching their opening one. */
function unclosedFences({ lines, codeBlocks }: Rendered): string[] {
	return codeBlocks
		.filter(block => block.fenced)
		.filter(block => {
			const opening = FENCE.exec(lines[block.start - 1])![1];
			const closing = lines[block.end - 1].match(/^ {0,3}(`{3,}|~{3,})\s*$/)?.[1];
			return block.end === block.start || !closing || closing[0] !== opening[0] || closing.length < opening.length;
		})
		.map(block => `line ${block.start}: a fence opened here is closed by no fence (the block runs to line ${block.end})`);
}

/**
 * Lines that start with `## ` outside a code block as its author sees the file — every line that
 * starts with a fence opens or closes one, whatever follows on it — and yet render as no
 * second-level heading.
 */
function lostSectionHeadings({ lines, headings }: Rendered): string[] {
	const h2Lines = new Set(headings.filter(h => h.level === 2).map(h => h.line));
	let inFence = false;
	const lost: string[] = [];
	lines.forEach((text, index) => {
		if (FENCE.test(text)) inFence = !inFence;
		else if (!inFence && text.startsWith("## ") && !h2Lines.has(index + 1)) lost.push(`line ${index + 1}: "${text}" does not render as a heading`);
	});
	return lost;
}

/** Paragraphs that appear more than once, with the lines of each copy. */
function repeatedParagraphs({ paragraphs }: Rendered): string[] {
	const byText = new Map<string, number[]>();
	for (const { text, line } of paragraphs) byText.set(text, [...(byText.get(text) ?? []), line]);
	return [...byText].filter(([, at]) => at.length > 1).map(([text, at]) => `lines ${at.join(", ")}: "${text.slice(0, 80)}…"`);
}

function markdownFiles(): string[] {
	const docs = (dir: string): string[] =>
		readdirSync(dir, { withFileTypes: true }).flatMap(entry =>
			entry.isDirectory() ? docs(join(dir, entry.name)) : entry.name.endsWith(".md") ? [join(dir, entry.name)] : []
		);
	return [join(REPO_ROOT, "README.md"), ...docs(join(REPO_ROOT, "docs")), join(REPO_ROOT, "k8s", "README.md"), join(REPO_ROOT, "ops", "README.md")];
}

describe("Markdown files as a CommonMark renderer shows them", () => {
	describe("the checks themselves", () => {
		it("should report a fence that a line of text after ``` does not close", () => {
			const broken = render("## One\n\n```sql\nSELECT 1;\n``` `X-Correlation-Id` follows\n\n## Two\n\ntext\n");
			expect(unclosedFences(broken)).toHaveLength(1);
			expect(lostSectionHeadings(broken)).toEqual(['line 7: "## Two" does not render as a heading']);
		});

		it("should report a paragraph said twice, and pass a file that renders as written", () => {
			expect(repeatedParagraphs(render("Same words.\n\nOther.\n\nSame\nwords.\n"))).toHaveLength(1);
			const sound = render("## One\n\n```sh\n## a shell comment\n```\n\n## Two\n\ntext\n");
			expect([...unclosedFences(sound), ...lostSectionHeadings(sound), ...repeatedParagraphs(sound)]).toEqual([]);
		});
	});

	describe.each(markdownFiles().map(file => [relative(REPO_ROOT, file), file]))("%s", (_name, file) => {
		const rendered = render(readFileSync(file, "utf8"));

		it("should close every fenced block with a fence", () => {
			expect(unclosedFences(rendered)).toEqual([]);
		});

		it("should render every '## ' line outside a code block as a section heading", () => {
			expect(lostSectionHeadings(rendered)).toEqual([]);
		});

		it("should say no paragraph twice", () => {
			expect(repeatedParagraphs(rendered)).toEqual([]);
		});
	});

	it("should show the README's Layout as a code block right under its heading", () => {
		const rendered = render(readFileSync(join(REPO_ROOT, "README.md"), "utf8"));
		const at = rendered.blocks.findIndex(block => block.type === "heading" && block.level === 2 && textOf(block) === "Layout");
		expect(at).toBeGreaterThan(-1);
		const next = rendered.blocks[at + 1];
		expect(next.type).toBe("code_block");
		expect(next.literal).toContain("bin/start.ts");
		expect(next.literal).toContain("k8s/");
	});
});
