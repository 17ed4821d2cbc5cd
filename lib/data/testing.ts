/**
 * Test fixtures: small multi-page Korean documentation sites in the shapes generators write —
 * DocBook (PostgreSQL's manual: `navheader`/`navfooter` tables with 이전/위로/다음, the title
 * repeated), Sphinx (relation bars, sidebar, breadcrumbs, footer buttons) and Javadoc (top, sub
 * and bottom bars, member tables) — with paragraphs hard-wrapped in the source, as such
 * generators and hand-written HTML do, and `<pre>` code.
 *
 * @module
 */

import { countHangulSyllables } from "./hangul.ts";
import { mulberry32 } from "../quality/classifier/prng.ts";

const SUBJECTS = [
  "서버는",
  "관리자는",
  "사용자는",
  "이 명령은",
  "백업 도구는",
  "설정 파일은",
  "새 버전은",
  "복제본은",
  "클라이언트는",
  "감시 프로그램은",
  "예약 작업은",
  "확장 모듈은",
  "검색 엔진은",
  "보안 정책은",
];
const OBJECTS = [
  "연결을",
  "자료를",
  "암호를",
  "로그를",
  "색인을",
  "문자 집합을",
  "권한을",
  "포트를",
  "인증서를",
  "통계를",
  "임시 파일을",
  "버퍼를",
  "캐시를",
  "트랜잭션을",
  "사용자 목록을",
  "경고 메시지를",
];
const ADVERBS = [
  "먼저",
  "반드시",
  "자동으로",
  "정기적으로",
  "한 번 더",
  "조용히",
  "빠르게",
  "천천히",
  "모두",
  "안전하게",
  "차례대로",
  "따로",
];
const VERBS = [
  "확인합니다.",
  "기록합니다.",
  "바꿀 수 있습니다.",
  "되살립니다.",
  "검사해야 합니다.",
  "지웁니다.",
  "내보냅니다.",
  "불러옵니다.",
  "잠급니다.",
  "정리합니다.",
  "보여 줍니다.",
  "압축합니다.",
];
const PLACES = [
  "시작할 때",
  "접속한 뒤",
  "장애가 생기면",
  "설치하기 전에",
  "매일 밤",
  "종료하기 전에",
  "업그레이드할 때",
  "디스크가 가득 차면",
  "요청이 몰리면",
  "설정을 바꾼 뒤",
  "처음 실행할 때",
];

/** Sentence `k` of an endless supply of varied ones (the same for the same `k`). */
function sentence(k: number): string {
  const rnd = mulberry32(k * 7919 + 13);
  const pick = (xs: string[]) => xs[Math.floor(rnd() * xs.length)];
  return `${pick(SUBJECTS)} ${pick(PLACES)} ${pick(OBJECTS)} ${pick(ADVERBS)} ${pick(VERBS)}`;
}

/** `n` sentences starting at `k`, joined. */
function sentences(k: number, n: number): string {
  return Array.from({ length: n }, (_, i) => sentence(k + i)).join(" ");
}

/** Hard-wraps `text` at spaces after about `width` characters, as generators indent source. */
function wrap(text: string, width = 28, indent = "      "): string {
  const out: string[] = [];
  let line = "";
  for (const w of text.split(" ")) {
    if (line && line.length + w.length > width) {
      out.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) out.push(line);
  return out.join(`\n${indent}`);
}

/** A paragraph of three sentences starting at `k`, hard-wrapped. */
function para(k: number): string {
  return `<p>${wrap(sentences(k, 3))}</p>`;
}

/** One page: its path, its HTML and the Korean text a reader reads there (the main content). */
export interface DocPage {
  path: string;
  html: string;
  /** The main content as text (headings, paragraphs, items, cells; no navigation). */
  content: string;
}

const CODE = "psql -U postgres\nCREATE DATABASE test;\n  \\q";

function docbookPage(i: number, n: number): DocPage {
  const title = `${i + 1}.2. 서버 설치 ${i + 1}`;
  const link = (j: number) => `page${j}.html`;
  const nav = (cls: string) =>
    `<div class="${cls}"><table width="100%" summary="Navigation ${
      cls === "navheader" ? "header" : "footer"
    }">
  <tr><th colspan="3" align="center">${title}</th></tr>
  <tr><td width="20%" align="left">${
      i > 0 ? `<a accesskey="p" href="${link(i - 1)}">이전</a>` : ""
    }</td>
  <th width="60%" align="center">${i + 1}장. 설치</th>
  <td width="20%" align="right">${
      i + 1 < n ? `<a accesskey="n" href="${link(i + 1)}">다음</a>` : ""
    }</td></tr>
  <tr><td align="left">${title}</td><td align="center"><a accesskey="u" href="index.html">위로</a></td>
  <td align="right"><a accesskey="h" href="index.html">처음</a></td></tr></table><hr></div>`;
  const html = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${title}</title></head><body>
${nav("navheader")}
<div class="sect1" id="install-${i}"><div class="titlepage"><h2 class="title">${title}</h2></div>
    ${para(100 * i)}
    ${para(100 * i + 3)}
    <div class="itemizedlist"><ul class="itemizedlist">
      <li class="listitem"><p>${wrap(sentence(100 * i + 6))}</p></li>
      <li class="listitem"><p>${wrap(sentence(100 * i + 7))}</p></li>
    </ul></div>
<pre class="programlisting">${CODE}</pre>
    ${para(100 * i + 8)}
</div>
${nav("navfooter")}
</body></html>`;
  const k = 100 * i;
  const content = [
    title,
    sentences(k, 3),
    sentences(k + 3, 3),
    sentence(k + 6),
    sentence(k + 7),
    sentences(k + 8, 3),
  ].join("\n");
  return { path: `docbook/${link(i)}`, html, content };
}

function sphinxPage(i: number, n: number): DocPage {
  const title = `설정 안내 ${i + 1}`;
  const rel = `<div class="related" role="navigation" aria-label="related navigation"><h3>탐색</h3>
<ul><li><a href="genindex.html">색인</a></li>${
    i + 1 < n ? `<li><a href="page${i + 1}.html">다음</a> |</li>` : ""
  }${i > 0 ? `<li><a href="page${i - 1}.html">이전</a> |</li>` : ""}
<li class="nav-item nav-item-0"><a href="index.html">문서 목록</a> &#187;</li></ul></div>`;
  const html = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${title} &#8212; 안내서</title></head><body>
${rel}
<div class="document"><div class="documentwrapper"><div class="bodywrapper"><div class="body" role="main">
  <div role="navigation" aria-label="breadcrumbs navigation"><ul class="wy-breadcrumbs">
    <li><a href="index.html">홈</a> &raquo;</li><li>${title}</li></ul></div>
  <section id="s${i}"><h1>${title}<a class="headerlink" href="#s${i}">¶</a></h1>
  ${para(1000 + 100 * i)}
  <div class="highlight-console notranslate"><div class="highlight"><pre><span></span>$ ./configure --prefix=/usr/local
$ make install
</pre></div></div>
  <table class="docutils"><thead><tr><th>옵션</th><th>설명</th></tr></thead><tbody>
    <tr><td>port</td><td>${wrap(sentence(1000 + 100 * i + 3), 20)}</td></tr>
    <tr><td>listen</td><td>${wrap(sentence(1000 + 100 * i + 4), 20)}</td></tr></tbody></table>
  ${para(1000 + 100 * i + 5)}
  </section>
  <div class="rst-footer-buttons" role="navigation" aria-label="footer"><a href="page${
    (i + 1) % n
  }.html" class="btn">다음 장으로</a></div>
</div></div></div>
<div class="sphinxsidebar" role="navigation" aria-label="main navigation"><h3>목차</h3>
<ul><li><a href="page0.html">설정 안내 1</a></li><li><a href="page1.html">설정 안내 2</a></li></ul></div>
</div>
${rel}
<div class="footer">&#169; 저작권 2024, 문서 작성자들.</div>
</body></html>`;
  const k = 1000 + 100 * i;
  const content = [
    title,
    sentences(k, 3),
    "옵션",
    "설명",
    sentence(k + 3),
    sentence(k + 4),
    sentences(k + 5, 3),
  ].join("\n");
  return { path: `sphinx/page${i}.html`, html, content };
}

function javadocPage(i: number, n: number): DocPage {
  const title = `Connection${i} 클래스`;
  const bar = (cls: string) =>
    `<div class="${cls}"><ul class="navList"><li><a href="overview-summary.html">개요</a></li>
<li><a href="package-summary.html">패키지</a></li><li class="navBarCell1Rev">클래스</li>
<li><a href="page${(i + 1) % n}.html">다음 클래스</a></li></ul></div>`;
  const html = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${title}</title></head><body>
${bar("topNav")}
<div class="subNav"><ul class="navList"><li><a href="page${
    (i + n - 1) % n
  }.html">이전 클래스</a></li>
<li><a href="page${(i + 1) % n}.html">다음 클래스</a></li></ul></div>
<div class="header"><h2 title="${title}" class="title">${title}</h2></div>
<div class="contentContainer"><div class="description"><div class="block">${
    wrap(sentences(2000 + 100 * i, 4), 30, "")
  }</div></div>
<table class="memberSummary" summary="메서드 요약 표"><tr><th>메서드</th><th>설명</th></tr>
<tr><td><code>open()</code></td><td><div class="block">${
    wrap(sentence(2000 + 100 * i + 4), 24, "")
  }</div></td></tr>
<tr><td><code>close()</code></td><td><div class="block">${
    wrap(sentence(2000 + 100 * i + 5), 24, "")
  }</div></td></tr></table></div>
${bar("bottomNav")}
</body></html>`;
  const k = 2000 + 100 * i;
  const content = [title, sentences(k, 4), "메서드", "설명", sentence(k + 4), sentence(k + 5)]
    .join("\n");
  return { path: `javadoc/page${i}.html`, html, content };
}

/** The three sites, `pages` pages each, with an index page per site linking to them all. */
export function docSites(pages = 4): DocPage[] {
  const out: DocPage[] = [];
  for (
    const [site, make] of [["docbook", docbookPage], ["sphinx", sphinxPage], [
      "javadoc",
      javadocPage,
    ]] as const
  ) {
    for (let i = 0; i < pages; i++) out.push(make(i, pages));
    const links = Array.from(
      { length: pages },
      (_, i) => `<li><a href="page${i}.html">${i}</a></li>`,
    );
    out.push({
      path: `${site}/index.html`,
      html: `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${site}</title></head>` +
        `<body><ul>${links.join("")}</ul></body></html>`,
      content: "",
    });
  }
  return out;
}

/** Writes {@linkcode docSites} under `dir`; returns the pages and their Hangul syllables. */
export async function writeDocSites(
  dir: string,
  pages = 4,
): Promise<{ pages: DocPage[]; hangul: number }> {
  const all = docSites(pages);
  let hangul = 0;
  for (const p of all) {
    await Deno.mkdir(`${dir}/${p.path.split("/")[0]}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${p.path}`, p.html);
    hangul += countHangulSyllables(p.content);
  }
  return { pages: all, hangul };
}
