/**
 * Main text from an HTML page: parse with linkedom, take the links (before anything is removed,
 * so navigation still feeds the frontier), drop boilerplate by tag and role (nav, header, footer,
 * aside, forms, scripts, …), prefer `<article>`/`<main>` when present, prune link-dense blocks
 * (menus, tag clouds, "related posts"), generated-documentation navigation (DocBook, Sphinx,
 * Javadoc bars and breadcrumbs) and runs of very short lines (text density), then render the rest
 * with {@linkcode blockText}, one line per block, the title kept once. Also reports the title, the Hangul share, meta-robots
 * directives and whether the page is access-restricted or holds a blocked keyword.
 *
 * @module
 */

import { DOMParser } from "linkedom";
import {
  blockText,
  childrenOf,
  dropGeneratedNavigation,
  dropRepeatedTitle,
  type TextNodeLike,
} from "../data/html_text.ts";
import { normalizeUrl } from "./url.ts";
import { hangulRatio } from "../data/hangul.ts";

/** Markers of pages a reader cannot see without an account: login walls, private posts,
 * paywalls (Korean blog and café platforms use these phrasings). */
export const DEFAULT_RESTRICTED_MARKERS: readonly string[] = [
  "비밀글입니다",
  "비밀글 기능으로 보호된 글입니다",
  "로그인이 필요합니다",
  "로그인 후 이용",
  "로그인 후 열람",
  "접근 권한이 없습니다",
  "권한이 없습니다",
  "회원만 열람",
  "유료 회원 전용",
  "구독자 전용",
  "유료 기사",
];

/** Options of {@linkcode extractPage}. */
export interface ExtractOptions {
  /** Phrases marking access-restricted pages (default {@linkcode DEFAULT_RESTRICTED_MARKERS}). */
  restrictedMarkers?: readonly string[];
  /** Pages containing any of these (case-insensitive) are skipped. */
  blockedKeywords?: readonly string[];
  /** A block whose link text is at least this share of its text is pruned (default 0.5). */
  maxLinkDensity?: number;
}

/** What {@linkcode extractPage} finds. */
export interface Extracted {
  title: string;
  text: string;
  /** Hangul share of `text`, as the filter's rule measures it (`lib/data/hangul.ts`). */
  hangulRatio: number;
  /** Normalised outgoing links (rel=nofollow and meta nofollow respected). */
  links: string[];
  /** Meta robots says noindex: do not keep the text. */
  noindex: boolean;
  /** Why the page is skipped ("restricted:…", "login_wall", "blocked_keyword:…"), if it is. */
  skip?: string;
}

const BOILERPLATE = [
  "script",
  "style",
  "noscript",
  "template",
  "iframe",
  "svg",
  "canvas",
  "nav",
  "aside",
  "form",
  "button",
  "select",
  "textarea",
  "input",
  "menu",
  "dialog",
  "[role=navigation]",
  "[role=banner]",
  "[role=contentinfo]",
  "[role=complementary]",
  "[role=search]",
  "[aria-hidden=true]",
  "[hidden]",
].join(",");

const PRUNABLE = new Set([
  "DIV",
  "SECTION",
  "UL",
  "OL",
  "DL",
  "TABLE",
  "TBODY",
  "TR",
  "TD",
  "LI",
  "P",
  "SPAN",
]);

export { hangulRatio } from "../data/hangul.ts";

// deno-lint-ignore no-explicit-any
type El = any;

function _len(s: string | null | undefined): number {
  return (s ?? "").replace(/\s+/g, "").length;
}

/** Drops runs of three or more one-word lines (menus without links, share buttons, tag lists). */
function _dropShortRuns(text: string): string {
  const lines = text.split("\n");
  const short = lines.map((l) => l.split(" ").length <= 1 && l.length <= 12);
  const keep = lines.map(() => true);
  for (let i = 0; i < lines.length;) {
    if (!short[i]) {
      i++;
      continue;
    }
    let j = i;
    while (j < lines.length && short[j]) j++;
    if (j - i >= 3) { for (let k = i; k < j; k++) keep[k] = false; }
    i = j;
  }
  return lines.filter((_, i) => keep[i]).join("\n");
}

/**
 * Removes each block under `root` (not `root` itself) holding at least two links whose link text
 * is at least `maxDensity` of its text, inner blocks first, so a removed menu no longer counts in
 * the blocks around it. One post-order pass: linear in the size of the tree, however many links
 * or however deep the nesting.
 */
function _pruneLinkDense(root: El, maxDensity: number): void {
  // per element: [anchors, linked chars, all chars] of what remains under it
  const stats = new Map<El, [number, number, number]>();
  const doomed: El[] = [];
  const stack: [El, boolean][] = [[root, false]];
  while (stack.length) {
    const [node, visited] = stack.pop()!;
    const kids = childrenOf(node);
    if (!visited) {
      stack.push([node, true]);
      for (const c of kids) if (c.nodeType === 1) stack.push([c, false]);
      continue;
    }
    let anchors = 0, linked = 0, total = 0;
    for (const c of kids) {
      if (c.nodeType === 3) total += _len(c.textContent);
      const s = c.nodeType === 1 ? stats.get(c) : undefined;
      if (s) [anchors, linked, total] = [anchors + s[0], linked + s[1], total + s[2]];
    }
    const name = String(node.nodeName).toUpperCase();
    if (name === "A") [anchors, linked] = [anchors + 1, linked + total];
    stats.set(node, [anchors, linked, total]);
    if (
      node !== root && PRUNABLE.has(name) && anchors >= 2 && total > 0 &&
      linked / total >= maxDensity
    ) {
      doomed.push(node);
      stats.set(node, [0, 0, 0]);
    }
  }
  for (const el of doomed) el.remove();
}

/**
 * Extracts the main text, title and links of `html` fetched from `url`.
 *
 * @example
 * ```ts
 * import { extractPage } from "./extract.ts";
 * const page = extractPage(
 *   "<title>글</title><nav><a href='/a'>홈</a></nav><article><p>본문입니다.</p></article>",
 *   "http://example.com/post",
 * );
 * console.log(page.text, page.links); // 본문입니다. ["http://example.com/a"]
 * ```
 */
export function extractPage(html: string, url: string, options: ExtractOptions = {}): Extracted {
  let doc: El = new DOMParser().parseFromString(html, "text/html");
  // an empty page (or one of nothing but whitespace) parses to no document element at all
  if (!doc.documentElement) doc = new DOMParser().parseFromString("<html></html>", "text/html");
  const metaRobots = [...doc.querySelectorAll("meta[name]")]
    .filter((m: El) => /^(robots|jikjibot)$/i.test(m.getAttribute("name") ?? ""))
    .map((m: El) => (m.getAttribute("content") ?? "").toLowerCase())
    .join(",");
  const noindex = /\b(noindex|none)\b/.test(metaRobots);
  const nofollow = /\b(nofollow|none)\b/.test(metaRobots);

  let base = url;
  const baseHref = doc.querySelector("base[href]")?.getAttribute("href");
  if (baseHref) base = normalizeUrl(baseHref, url) ?? url;
  const links: string[] = [];
  if (!nofollow) {
    const seen = new Set<string>();
    for (const a of doc.querySelectorAll("a[href],area[href]")) {
      if (/\bnofollow\b/i.test(a.getAttribute("rel") ?? "")) continue;
      const u = normalizeUrl(a.getAttribute("href") ?? "", base);
      if (u && !seen.has(u)) {
        seen.add(u);
        links.push(u);
      }
    }
  }

  const title = (doc.querySelector("title")?.textContent ??
    doc.querySelector("meta[property='og:title']")?.getAttribute("content") ??
    doc.querySelector("h1")?.textContent ?? "").replace(/\s+/g, " ").trim();
  const hasPassword = doc.querySelector("input[type=password]") !== null;

  for (const el of [...doc.querySelectorAll(BOILERPLATE)]) el.remove();
  dropGeneratedNavigation(doc);
  // header/footer of the page (not those inside an article, which hold its title and byline)
  for (const el of [...doc.querySelectorAll("header,footer")]) {
    if (!el.closest("article,main,[role=main]")) el.remove();
  }
  const candidates = [...doc.querySelectorAll("article,main,[role=main]")];
  let root: El = doc.body ?? doc.documentElement ?? doc;
  if (candidates.length > 0) {
    const best = candidates
      .map((el: El) => ({ el, n: _len(el.textContent) }))
      .sort((a, b) => b.n - a.n)[0];
    // Use it when it holds most of the page's text (a lone teaser <article> is not the page).
    if (best.n >= 0.5 * _len(root.textContent)) root = best.el;
  }

  _pruneLinkDense(root, options.maxLinkDensity ?? 0.5);

  const text = dropRepeatedTitle(_dropShortRuns(blockText(root as TextNodeLike)), title);
  const result: Extracted = { title, text, hangulRatio: hangulRatio(text), links, noindex };

  const haystack = `${title}\n${text}`;
  const marker = (options.restrictedMarkers ?? DEFAULT_RESTRICTED_MARKERS).find((m) =>
    haystack.includes(m)
  );
  if (marker) result.skip = `restricted:${marker}`;
  else if (hasPassword && _len(text) < 600) result.skip = "login_wall";
  else {
    const lower = haystack.toLowerCase();
    const kw = (options.blockedKeywords ?? []).find((k) => lower.includes(k.toLowerCase()));
    if (kw) result.skip = `blocked_keyword:${kw}`;
  }
  return result;
}
