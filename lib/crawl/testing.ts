/**
 * Test helpers: a generated test site served on 127.0.0.1 that logs every request it receives
 * (arrival time, path), with robots rules, redirects (a chain, a loop, one into a disallowed
 * path), EUC-KR pages, a page failing with 500 twice, a 429 with `Retry-After`, an oversized page,
 * a login wall, a private post, a blocked keyword, a non-HTML file, a sitemap index pointing to
 * a gzip sitemap, and an optional chain of numbered pages for long crawls.
 *
 * @module
 */

import type { LoggedRequest } from "./mirror.ts";
export type { LoggedRequest };

/** A running test site. */
export interface TestSite {
  origin: string;
  log: LoggedRequest[];
  close(): Promise<void>;
}

/** "한국어 웹 페이지입니다. 똠방각하" in CP949 (from `iconv -f utf-8 -t cp949`); 똠 is a CP949
 * extension syllable outside EUC-KR proper. */
export const CP949_BYTES = new Uint8Array([
  199,
  209,
  177,
  185,
  190,
  238,
  32,
  192,
  165,
  32,
  198,
  228,
  192,
  204,
  193,
  246,
  192,
  212,
  180,
  207,
  180,
  217,
  46,
  32,
  140,
  99,
  185,
  230,
  176,
  162,
  199,
  207,
]);
/** The text of {@linkcode CP949_BYTES}. */
export const CP949_TEXT = "한국어 웹 페이지입니다. 똠방각하";

const NAV = `<header><a href="/">홈</a> <a href="/a.html">가</a></header>
<nav><ul><li><a href="/">처음</a></li><li><a href="/a.html">글 가</a></li>
<li><a href="/b.html">글 나</a></li></ul></nav>`;
const FOOTER = `<footer>© 2025 테스트 사이트 · <a href="/terms">약관</a></footer>`;

function page(title: string, body: string, extraHead = ""): string {
  return `<!DOCTYPE html><html lang="ko"><head><meta charset="utf-8">${extraHead}` +
    `<title>${title}</title></head><body>${NAV}<main>${body}</main>` +
    `<aside>인기 글: <a href="/a.html">가</a> <a href="/b.html">나</a></aside>${FOOTER}</body></html>`;
}

/** Paragraph text of the plain pages, so tests can check what was kept. */
export const PAGE_TEXT: Record<string, string> = {
  "/a.html": "첫 번째 글입니다. 세종대왕은 훈민정음을 만들었습니다.",
  "/b.html": "두 번째 글입니다. 직지는 현존하는 가장 오래된 금속활자본입니다.",
  "/target.html": "리디렉션을 두 번 거쳐 도착한 글입니다.",
  "/flaky.html": "서버 오류가 두 번 난 뒤에 열리는 글입니다.",
  "/busy.html": "요청이 너무 많다는 응답 뒤에 열리는 글입니다.",
  "/private/open.html": "비공개 폴더 안이지만 허용된 글입니다.",
  "/from-sitemap.html": "사이트맵에서만 찾을 수 있는 글입니다.",
};

async function gzip(text: string): Promise<Uint8Array> {
  const s = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

/** Options of {@linkcode startTestSite}. */
export interface TestSiteOptions {
  /** Add `/p/0.html` … `/p/{n-1}.html`, each linking to the next three, linked from `/`. */
  chainPages?: number;
  /** Delay before answering each request, ms. */
  latencyMs?: number;
  /** A `Crawl-delay` (seconds) in robots.txt for every agent. */
  crawlDelay?: number;
}

/** Starts the test site on 127.0.0.1 (a free port). */
export async function startTestSite(options: TestSiteOptions = {}): Promise<TestSite> {
  const log: LoggedRequest[] = [];
  const counts = new Map<string, number>();
  const sitemapGz = await gzip(
    `<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">` +
      `<url><loc>/from-sitemap.html</loc></url><url><loc>/a.html#dup</loc></url></urlset>`,
  );
  const chain = options.chainPages ?? 0;
  const html = (body: string | Uint8Array, status = 200, headers: Record<string, string> = {}) =>
    new Response(body as BodyInit, {
      status,
      headers: { "content-type": "text/html; charset=utf-8", ...headers },
    });
  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const path = url.pathname + url.search;
    log.push({ t: performance.now(), path, userAgent: req.headers.get("user-agent") ?? "" });
    const n = (counts.get(path) ?? 0) + 1;
    counts.set(path, n);
    if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs));
    const origin = url.origin;
    switch (url.pathname) {
      case "/robots.txt":
        return new Response(
          [
            "User-agent: *",
            "Disallow: /private/",
            "Allow: /private/open.html",
            "Disallow: /*.pdf$",
            ...(options.crawlDelay !== undefined ? [`Crawl-delay: ${options.crawlDelay}`] : []),
            "",
            "User-agent: OtherBot",
            "Disallow: /",
            "",
            `Sitemap: ${origin}/sitemap_index.xml`,
          ].join("\n"),
          { headers: { "content-type": "text/plain" } },
        );
      case "/": {
        const links = [
          "/a.html",
          "/b.html",
          "/r1",
          "/loop1",
          "/go-private",
          "/private/secret.html",
          "/private/open.html",
          "/doc.pdf",
          "/euckr.html",
          "/euckr-meta.html",
          "/flaky.html",
          "/busy.html",
          "/big.html",
          "/login.html",
          "/secret-post.html",
          "/blocked.html",
          "/image.png",
          "/missing.html",
          "/a.html?utm_source=x#frag",
          "mailto:someone@example.com",
          ...(chain > 0 ? ["/p/0.html"] : []),
        ].map((h) => `<li><a href="${h}">${h}</a></li>`).join("");
        return html(
          page(
            "목록",
            `<h1>목록</h1><p>이 사이트의 글 목록입니다. 아래에서 고르세요.</p><ul>${links}</ul>`,
          ),
        );
      }
      case "/a.html":
      case "/b.html":
      case "/target.html":
      case "/private/open.html":
      case "/from-sitemap.html":
        return html(
          page(url.pathname, `<article><h1>제목</h1><p>${PAGE_TEXT[url.pathname]}</p></article>`),
        );
      case "/flaky.html":
        if (n <= 2) return new Response("oops", { status: 500 });
        return html(page("flaky", `<p>${PAGE_TEXT[url.pathname]}</p>`));
      case "/busy.html":
        if (n === 1) {
          return new Response("slow down", { status: 429, headers: { "retry-after": "1" } });
        }
        return html(page("busy", `<p>${PAGE_TEXT[url.pathname]}</p>`));
      case "/r1":
        return new Response(null, { status: 301, headers: { location: "/r2" } });
      case "/r2":
        return new Response(null, { status: 302, headers: { location: `${origin}/target.html` } });
      case "/loop1":
        return new Response(null, { status: 302, headers: { location: "/loop2" } });
      case "/loop2":
        return new Response(null, { status: 302, headers: { location: "/loop1" } });
      case "/go-private":
        return new Response(null, { status: 302, headers: { location: "/private/secret.html" } });
      case "/private/secret.html":
      case "/doc.pdf":
        return html("must never be requested");
      case "/euckr.html": {
        const head = new TextEncoder().encode("<html><head><title>euc-kr</title></head><body><p>");
        const tail = new TextEncoder().encode("</p></body></html>");
        return html(new Uint8Array([...head, ...CP949_BYTES, ...tail]), 200, {
          "content-type": "text/html; charset=EUC-KR",
        });
      }
      case "/euckr-meta.html": {
        const head = new TextEncoder().encode(
          '<html><head><meta http-equiv="Content-Type" content="text/html; charset=ks_c_5601-1987">' +
            "<title>meta</title></head><body><p>",
        );
        const tail = new TextEncoder().encode("</p></body></html>");
        return html(new Uint8Array([...head, ...CP949_BYTES, ...tail]), 200, {
          "content-type": "text/html",
        });
      }
      case "/big.html":
        return html(page("big", `<p>${"아주 큰 페이지. ".repeat(20000)}</p>`));
      case "/login.html":
        return html(page(
          "로그인",
          `<h1>로그인</h1><p>계정으로 들어오세요.</p><form><input name="id"><input type="password" name="pw"><button>들어가기</button></form>`,
        ));
      case "/secret-post.html":
        return html(page("비밀", `<p>비밀글입니다. 작성자와 관리자만 볼 수 있습니다.</p>`));
      case "/blocked.html":
        return html(
          page("광고", `<p>온라인 도박 사이트를 소개하는 글입니다. 지금 가입하세요.</p>`),
        );
      case "/image.png":
        return new Response(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), {
          headers: { "content-type": "image/png" },
        });
      case "/sitemap_index.xml":
        return new Response(
          `<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">` +
            `<sitemap><loc>${origin}/sitemap-pages.xml.gz</loc></sitemap></sitemapindex>`,
          { headers: { "content-type": "application/xml" } },
        );
      case "/sitemap-pages.xml.gz":
        return new Response(sitemapGz as BodyInit, {
          headers: { "content-type": "application/gzip" },
        });
    }
    const m = /^\/p\/(\d+)\.html$/.exec(url.pathname);
    if (m && Number(m[1]) < chain) {
      const i = Number(m[1]);
      const next = [1, 2, 3].map((d) => i + d).filter((j) => j < chain)
        .map((j) => `<a href="/p/${j}.html">다음 ${j}</a>`).join(" ");
      return html(
        page(
          `글 ${i}`,
          `<p>연속 글 ${i}번입니다. 한국어 문장이 여기에 있습니다.</p><p>${next}</p>`,
        ),
      );
    }
    return new Response("not found", { status: 404 });
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  const addr = server.addr as Deno.NetAddr;
  return {
    origin: `http://127.0.0.1:${addr.port}`,
    log,
    close: () => server.shutdown(),
  };
}

/** The smallest gap between consecutive requests in a log, ms. */
export function minGap(log: LoggedRequest[]): number {
  let min = Infinity;
  for (let i = 1; i < log.length; i++) min = Math.min(min, log[i].t - log[i - 1].t);
  return min;
}
