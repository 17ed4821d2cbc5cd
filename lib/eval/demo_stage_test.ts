import assert from "node:assert/strict";
import { writeDocs } from "../io/jsonl.ts";
import { createRun } from "../run/run_folder.ts";
import { evalStage, isLanguage, itemSentences } from "./demo_stage.ts";
import { requireBenchDir } from "./testing.ts";

const BENCH = requireBenchDir();

Deno.test("itemSentences() and isLanguage() pick whole Korean and English sentences", () => {
  const s = itemSentences(
    "짧다. 이 문장은 충분히 길어서 항목으로 쓸 수 있습니다. Click the OK button to close it.",
  );
  assert.deepEqual(s, [
    "이 문장은 충분히 길어서 항목으로 쓸 수 있습니다.",
    "Click the OK button to close it.",
  ]);
  assert.equal(isLanguage(s[0], "ko"), true);
  assert.equal(isLanguage(s[1], "ko"), false);
  assert.equal(isLanguage(s[1], "en"), true);
});

Deno.test({
  name: "evalStage.run() scores the before and after models and records the checkpoint hook",
  ignore: !BENCH,
  async fn() {
    const dir = await Deno.makeTempDir();
    const ko = await Deno.readTextFile(`${BENCH}/satKorean/kimyujeong_dongbaekkkot.txt`);
    const en = (await Deno.readTextFile(`${BENCH}/lambada/lambada_test.jsonl`)).split("\n")
      .slice(0, 600).filter((l) => l).map((l) => JSON.parse(l).text as string);
    const koParas = ko.split("\n").filter((p) => p.trim());
    await writeDocs(`${dir}/ko.jsonl`, koParas.map((text, i) => ({ id: `${i}`, text, meta: {} })));
    await writeDocs(`${dir}/en.jsonl`, en.map((text, i) => ({ id: `${i}`, text, meta: {} })));
    const run = await createRun({
      task: "demo",
      config: {},
      runsDir: dir,
      gpu: false,
      echo: false,
    });
    const artifacts = new Map([
      ["corpus.ko.docs", `${dir}/ko.jsonl`],
      ["corpus.en.docs", `${dir}/en.jsonl`],
      ["train.cpt", `${dir}/ckpt`],
    ]);
    const figures = await evalStage.run({ run, cacheDir: `${dir}/cache`, quiet: true, artifacts });
    run.close();
    const scores = figures.scores as Record<string, Record<string, Record<string, number>>>;
    assert.deepEqual(Object.keys(scores).sort(), [
      "help_en_choice",
      "help_en_cloze",
      "help_ko_choice",
      "help_ko_cloze",
    ]);
    // The English-only model knows no Hangul: continuing on Korean lowers Korean perplexity.
    const ppl = scores.help_ko_cloze.perplexity;
    assert.ok(ppl.after < ppl.before, JSON.stringify(ppl));
    assert.deepEqual((figures.checkpoint_hook as { evaluated: boolean }).evaluated, false);
    assert.match(await Deno.readTextFile(run.path("eval/before_after.md")), /help_ko_cloze/);
    assert.match(await Deno.readTextFile(run.path("eval/tokens.md")), /help_en_choice/);
    await Deno.remove(dir, { recursive: true });
  },
});
