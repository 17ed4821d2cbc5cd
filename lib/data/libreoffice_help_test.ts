import assert from "node:assert/strict";
import { DOMParser } from "linkedom";
import { helpPageText } from "./libreoffice_help.ts";
import { blockText, type TextNodeLike } from "./html_text.ts";

const FIXTURE = new URL("../../data/fixtures/libreoffice_page.html", import.meta.url);

Deno.test("helpPageText() returns the title and the DisplayArea text, one line per block", async () => {
  const page = helpPageText(await Deno.readTextFile(FIXTURE));
  assert.ok(page);
  assert.equal(page.title, "표준 필터");
  assert.equal(
    page.text,
    [
      "표준 필터",
      "필터링 옵션을 설정할 수 있습니다.",
      "표준 필터를 사용하면 자동 필터보다",
      "많은 옵션을 쓸 수 있습니다.",
      "첫째",
      "둘째",
      "열 이름",
      "조건",
    ].join("\n"),
  );
});

Deno.test("helpPageText() returns null for a page without a main area", () => {
  assert.equal(helpPageText("<html><body><p>x</p></body></html>"), null);
});

Deno.test("blockText() drops scripts and styles and collapses whitespace", () => {
  const doc = new DOMParser().parseFromString(
    "<div><style>p{}</style><p> a \t b </p>c<br>d<script>e</script></div>",
    "text/html",
  );
  assert.equal(blockText(doc.querySelector("div") as unknown as TextNodeLike), "a b\nc\nd");
});
