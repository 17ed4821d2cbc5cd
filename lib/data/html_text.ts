/**
 * Plain text from a DOM subtree, one line per block: each paragraph, heading, list item, table
 * cell (and `<br>`) becomes a line, with all whitespace inside it — the source's own line breaks
 * included, so a hard-wrapped paragraph stays one line — collapsed to single spaces; `<pre>` keeps
 * its lines verbatim; scripts and styles drop. {@linkcode dropGeneratedNavigation} removes the
 * navigation that documentation generators put around a page.
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

/**
 * Returns the text of `root` with one line per block element (see the module doc), in time
 * linear in the page's size however deep it nests (an explicit stack, no recursion).
 */
export function blockText(root: TextNodeLike): string {
  const lines: string[] = [];
  let cur = "";
  const flush = () => {
    const t = cur.replace(/[\s\u00a0]+/g, " ").trim();
    if (t !== "") lines.push(t);
    cur = "";
  };
  const endPre = () => {
    // verbatim: the lines as written, only blank lines at either end and trailing spaces trimmed
    const text = cur.replace(/^\s*\n|\s+$/g, "");
    cur = "";
    for (const l of text.split("\n")) lines.push(l.replace(/\s+$/, ""));
  };
  // nodes still to visit (with whether they sit inside <pre>), and where a block or <pre> ends
  type Item = { node: TextNodeLike; pre: boolean } | "end-block" | "end-pre";
  const stack: Item[] = [{ node: root, pre: false }];
  while (stack.length) {
    const item = stack.pop()!;
    if (item === "end-block") {
      flush();
      continue;
    }
    if (item === "end-pre") {
      endPre();
      continue;
    }
    const { node, pre } = item;
    if (node.nodeType === 3) {
      cur += node.textContent ?? "";
      continue;
    }
    if (node.nodeType !== 1 && node.nodeType !== 9 && node.nodeType !== 11) continue;
    const name = node.nodeName.toUpperCase();
    if (SKIP.has(name)) continue;
    const kids = childrenOf(node);
    const visit = (inPre: boolean) => {
      for (let i = kids.length - 1; i >= 0; i--) stack.push({ node: kids[i], pre: inPre });
    };
    if (name === "PRE" && !pre) {
      flush();
      stack.push("end-pre");
      visit(true);
      continue;
    }
    if (pre) {
      if (name === "BR") cur += "\n";
      visit(true);
      continue;
    }
    if (BLOCK.has(name)) {
      flush();
      stack.push("end-block");
    }
    visit(false);
  }
  flush();
  return lines.join("\n");
}

/**
 * Selectors of the navigation that documentation generators wrap around each page: DocBook's
 * header and footer tables (`navheader`, `navfooter`), Sphinx's relation bars, sidebars,
 * breadcrumbs, footer buttons and heading permalinks (¶), Javadoc's top, sub and bottom bars, MkDocs/Doxygen breadcrumbs
 * and any table summarised as navigation.
 */
export const GENERATED_NAVIGATION = [
  ".navheader",
  ".navfooter",
  "table[summary*=navigation i]",
  "div.related",
  ".sphinxsidebar",
  ".rst-footer-buttons",
  "a.headerlink",
  "[aria-label*=breadcrumb i]",
  ".breadcrumb",
  ".breadcrumbs",
  ".wy-breadcrumbs",
  ".topNav",
  ".subNav",
  ".bottomNav",
  ".top-nav",
  ".sub-nav",
  ".bottom-nav",
  "#nav-path",
  ".navpath",
].join(",");

/** The minimal element shape {@linkcode dropGeneratedNavigation} needs (linkedom's fits). */
export interface QueryableLike {
  querySelectorAll(selector: string): ArrayLike<{ remove(): void }>;
}

/**
 * Removes generated-documentation navigation ({@linkcode GENERATED_NAVIGATION}) from `root`;
 * returns how many elements went.
 */
export function dropGeneratedNavigation(root: QueryableLike): number {
  const found = Array.from(root.querySelectorAll(GENERATED_NAVIGATION));
  for (const el of found) el.remove();
  return found.length;
}

/**
 * Drops every line after the first that repeats `title` (generators print the page title in the
 * header bar, the heading and the footer).
 */
export function dropRepeatedTitle(text: string, title: string): string {
  const t = title.replace(/\s+/g, " ").trim();
  if (t === "") return text;
  let seen = false;
  return text.split("\n").filter((l) => {
    if (l !== t) return true;
    if (seen) return false;
    seen = true;
    return true;
  }).join("\n");
}
