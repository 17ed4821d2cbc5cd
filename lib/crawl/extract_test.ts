import assert from "node:assert/strict";
import { extractPage, hangulRatio } from "./extract.ts";
import { hangulRatio as filterHangulRatio } from "../filter/rules.ts";

const BLOG = `<!DOCTYPE html><html><head><title> 여행 일기 </title></head><body>
<header><h1>내 블로그</h1><a href="/login">로그인</a></header>
<nav><a href="/">홈</a><a href="/tag/a">태그</a></nav>
<div id="content">
  <h2>부산 여행</h2>
  <p>오늘은 <a href="/busan">부산</a>에 다녀왔습니다. 바다가 정말 아름다웠습니다.</p>
  <p>저녁에는 돼지국밥을 먹었습니다.</p>
  <div class="related"><a href="/p/1">다른 글 하나</a> <a href="/p/2">다른 글 둘</a> <a href="/p/3">셋</a></div>
  <ul class="share"><li>공유</li><li>좋아요</li><li>구독</li><li>신고</li></ul>
</div>
<aside><a href="/p/9">인기 글</a></aside>
<footer>Copyright 2025 <a href="https://other.example/" rel="nofollow">호스팅</a></footer>
<script>var x = "스크립트";</script>
</body></html>`;

Deno.test("extractPage() keeps the post and drops navigation, link lists and short runs", () => {
  const page = extractPage(BLOG, "https://blog.example/2025/01/post?utm_source=x");
  assert.equal(page.title, "여행 일기");
  assert.equal(
    page.text,
    "부산 여행\n오늘은 부산에 다녀왔습니다. 바다가 정말 아름다웠습니다.\n저녁에는 돼지국밥을 먹었습니다.",
  );
  assert.ok(page.links.includes("https://blog.example/busan"));
  assert.ok(page.links.includes("https://blog.example/p/9"), "links are taken before pruning");
  assert.ok(!page.links.some((l) => l.includes("other.example")), "rel=nofollow followed");
  assert.equal(page.skip, undefined);
  assert.ok(page.hangulRatio > 0.9);
});

Deno.test("extractPage() honours <base href> and meta robots", () => {
  const html = `<html><head><base href="../../"><meta name="robots" content="noindex, nofollow">
    </head><body><p>본문 <a href="x/y.html">링크</a></p></body></html>`;
  const page = extractPage(html, "http://h/a/b/c/page.html");
  assert.equal(page.noindex, true);
  assert.deepEqual(page.links, []);
  const follow = extractPage(
    html.replace("noindex, nofollow", "noarchive"),
    "http://h/a/b/c/p.html",
  );
  assert.equal(follow.noindex, false);
  assert.deepEqual(follow.links, ["http://h/a/x/y.html"]);
});

Deno.test("extractPage() flags login walls, private posts and blocked keywords", () => {
  const wall = `<html><body><main><p>회원 전용 공간입니다.</p><form><input name="id">
    <input type="password" name="pw"></form></main></body></html>`;
  assert.equal(extractPage(wall, "http://h/").skip, "login_wall");
  const secret = "<html><body><p>비밀글입니다. 작성자만 볼 수 있어요.</p></body></html>";
  assert.equal(extractPage(secret, "http://h/").skip, "restricted:비밀글입니다");
  assert.equal(extractPage(secret, "http://h/", { restrictedMarkers: [] }).skip, undefined);
  const casino = "<html><body><p>최고의 Casino 사이트!</p></body></html>";
  assert.equal(
    extractPage(casino, "http://h/", { blockedKeywords: ["casino"] }).skip,
    "blocked_keyword:casino",
  );
  // a long article with a login box in the sidebar is not a wall
  const long = `<html><body><article><p>${"긴 본문 문장입니다. ".repeat(80)}</p></article>
    <aside><form><input type="password"></form></aside></body></html>`;
  assert.equal(extractPage(long, "http://h/").skip, undefined);
});

Deno.test("extractPage().hangulRatio is the filter rule's Hangul share of the text", () => {
  assert.equal(hangulRatio, filterHangulRatio);
  const page = extractPage(
    "<html><body><p>한글 ABC 123 !! 문장입니다.</p></body></html>",
    "http://example.com/",
  );
  assert.equal(page.hangulRatio, filterHangulRatio(page.text));
  assert.equal(page.hangulRatio, 7 / 16);
});
