import assert from "node:assert/strict";
import { writeDocs } from "../io/jsonl.ts";
import { createRun } from "../run/run_folder.ts";
import { evalStage, isLanguage, itemSentences } from "./demo_stage.ts";
import { requireBenchDir } from "./testing.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import { parseLlamaConfig } from "../model/config.ts";
import { saveModel } from "../model/hf_folder.ts";
import { initParams } from "../model/params.ts";
import { byteLevelTokenizerJson, learnByteMerges } from "../train/tokenizer.ts";

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

/** A tiny random Llama saved as a model folder with `tokJson` as its tokenizer. */
async function checkpoint(dir: string, tokJson: Record<string, unknown>, vocab: number) {
  const cfg = parseLlamaConfig({
    hidden_size: 16,
    intermediate_size: 32,
    num_attention_heads: 2,
    num_hidden_layers: 1,
    vocab_size: vocab,
    max_position_embeddings: 512,
    tie_word_embeddings: true,
  });
  await Deno.mkdir(`${dir}/tok`, { recursive: true });
  await writeJsonAtomic(`${dir}/tok/tokenizer.json`, tokJson);
  await saveModel(dir, cfg, initParams(cfg, 1), { tokenizerDir: `${dir}/tok` });
}

Deno.test({
  name: "evalStage.run() evaluates both checkpoints with --backend jikji: scores, tokens, seconds",
  ignore: !BENCH,
  async fn() {
    const dir = await Deno.makeTempDir();
    const ko = await Deno.readTextFile(`${BENCH}/satKorean/kimyujeong_dongbaekkkot.txt`);
    const en = (await Deno.readTextFile(`${BENCH}/lambada/lambada_test.jsonl`)).split("\n")
      .slice(0, 600).filter((l) => l).map((l) => JSON.parse(l).text as string);
    const koParas = ko.split("\n").filter((p) => p.trim());
    await writeDocs(`${dir}/ko.jsonl`, koParas.map((text, i) => ({ id: `${i}`, text, meta: {} })));
    await writeDocs(`${dir}/en.jsonl`, en.map((text, i) => ({ id: `${i}`, text, meta: {} })));
    const baseTok = byteLevelTokenizerJson();
    const merged = byteLevelTokenizerJson(learnByteMerges(koParas.slice(0, 50), 48));
    await checkpoint(`${dir}/base`, baseTok, 260);
    await checkpoint(`${dir}/cpt`, merged, 260 + 48);
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
      ["train.base", `${dir}/base`],
      ["train.cpt", `${dir}/cpt`],
    ]);
    const figures = await evalStage.run({ run, cacheDir: `${dir}/cache`, quiet: true, artifacts });
    run.close();
    const per = figures.per_task as Record<
      string,
      Record<string, { tokens: number; seconds: number; metrics: Record<string, number> }>
    >;
    assert.deepEqual(Object.keys(per).sort(), ["base", "cpt"]);
    assert.deepEqual(Object.keys(per.cpt).sort(), [
      "help_en_choice",
      "help_en_cloze",
      "help_ko_choice",
      "help_ko_cloze",
    ]);
    for (const m of ["base", "cpt"]) {
      for (const t of Object.values(per[m])) {
        assert.ok(
          t.tokens > 0 && t.seconds > 0 && Number.isFinite(t.metrics.acc),
          JSON.stringify(t),
        );
      }
    }
    // the Korean merges read Korean in fewer tokens; English is unchanged byte for byte
    assert.ok(per.cpt.help_ko_cloze.tokens < per.base.help_ko_cloze.tokens);
    assert.equal(per.cpt.help_en_cloze.tokens, per.base.help_en_cloze.tokens);
    const md = await Deno.readTextFile(run.path("eval/before_after.md"));
    assert.match(md, /help_ko_cloze \| tokens read/);
    assert.match(await Deno.readTextFile(run.path("eval/tokens.md")), /help_en_choice/);
    await Deno.remove(dir, { recursive: true });
  },
});
