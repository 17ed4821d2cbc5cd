/**
 * Plain text from a DOM subtree: block elements (paragraphs, headings, list items, table rows,
 * `<br>`) become line breaks, runs of whitespace inside a line collapse, scripts and styles drop.
 *
 * @module
 */

const BLOCK = new Set([
  "ADDRESS",
  "ARTICLE",
  "ASIDE",
  "BLOCKQUOTE",
  "BR",
  "DD",
  "DIV",
  "DL",
  "DT",
  "FIGCAPTION",
  "FIGURE",
  "FOOTER",
  "FORM",
  "H1",
  "H2",
  "H3",
  "H4",
  "H5",
  "H6",
  "HEADER",
  "HR",
  "LI",
  "MAIN",
  "NAV",
  "OL",
  "P",
  "PRE",
  "SECTION",
  "TABLE",
  "TD",
  "TH",
  "TR",
  "UL",
]);
const SKIP = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "SVG", "HEAD", "META", "LINK"]);

/** The minimal DOM node shape this module walks (linkedom's and browsers' nodes both fit). */
export interface TextNodeLike {
  nodeType: number;
  nodeName: string;
  textContent: string | null;
  childNodes: ArrayLike<TextNodeLike>;
  firstChild?: TextNodeLike | null;
  nextSibling?: TextNodeLike | null;
}

/**
 * The children of `node` in order. Walks `firstChild`/`nextSibling` where the DOM has them:
 * linkedom builds `childNodes` afresh on every access, which made a page of many siblings
 * quadratic.
 */
export function childrenOf(node: TextNodeLike): TextNodeLike[] {
  const out: TextNodeLike[] = [];
  if ("firstChild" in node) {
    for (let c = node.firstChild; c; c = c.nextSibling) out.push(c);
    return out;
  }
  const kids = node.childNodes;
  for (let i = 0; i < kids.length; i++) out.push(kids[i]);
  return out;
}

/** Returns the text of `root` with one line per block element (linear, however deep). */
export function blockText(root: TextNodeLike): string {
  const parts: string[] = [];
  // an explicit stack: 10,000 nested tags must not exhaust the call stack
  const stack: (TextNodeLike | "\n")[] = [root];
  while (stack.length) {
    const node = stack.pop()!;
    if (node === "\n") {
      parts.push("\n");
      continue;
    }
    if (node.nodeType === 3) {
      parts.push(node.textContent ?? "");
      continue;
    }
    if (node.nodeType !== 1 && node.nodeType !== 9 && node.nodeType !== 11) continue;
    const name = node.nodeName.toUpperCase();
    if (SKIP.has(name)) continue;
    const block = BLOCK.has(name);
    if (block) parts.push("\n");
    if (block) stack.push("\n");
    const kids = childrenOf(node);
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]);
  }
  return parts.join("")
    .split("\n")
    .map((line) => line.replace(/[\s\u00a0]+/g, " ").trim())
    .filter((line) => line !== "")
    .join("\n");
}
