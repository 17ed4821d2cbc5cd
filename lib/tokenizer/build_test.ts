import assert from "node:assert/strict";
import { Tokenizer } from "@huggingface/tokenizers";
import { writeDocs } from "../io/jsonl.ts";
import { UserError } from "../io/errors.ts";
import { ByteLevelBpe } from "./bpe.ts";
import { idAgreementProblems } from "./added_tokens.ts";
import { type BuildOptions, buildTokenizer } from "./build.ts";
import { isHeldOut, readSplit } from "./corpus.ts";
import { SPACE_MARK } from "./pretokens.ts";
import { ENGLISH_LINES, koreanCorpus, LLAMA_PATH } from "./testing.ts";
import { llama31TokenizerConfig } from "./llama31.ts";
import { PieceType, UnigramModel } from "./unigram.ts";

async function corpusDir(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const lines = koreanCorpus(4000);
  const docs = [];
  for (let i = 0; i < lines.length; i += 20) {
    docs.push({ id: `ko-${i}`, text: lines.slice(i, i + 20).join("\n"), meta: {} });
  }
  await writeDocs(`${dir}/ko.jsonl.gz`, docs);
  await Deno.writeTextFile(`${dir}/en.txt`, ENGLISH_LINES.join("\n") + "\n");
  return dir;
}

function options(dir: string, over: Partial<BuildOptions> = {}): BuildOptions {
  return {
    korean: [`${dir}/ko.jsonl.gz`],
    english: [`${dir}/en.txt`],
    base: LLAMA_PATH,
    out: `${dir}/out`,
    add: 500,
    unigramVocab: 700,
    unit: "jamo",
    characterCoverage: 0.9995,
    maxPieceLength: 16,
    heldOutEvery: 10,
    englishLimit: 100,
    log: () => {},
    ...over,
  };
}

Deno.test("buildTokenizer() writes a merged tokenizer, a Unigram vocabulary and a report", async () => {
  const dir = await corpusDir();
  const r = await buildTokenizer(options(dir));
  const out = `${dir}/out`;
  const mergedJson = JSON.parse(await Deno.readTextFile(`${out}/tokenizer.json`));
  const merged = ByteLevelBpe.fromJson(mergedJson);
  // every reader (Rust tokenizers too) gives the special tokens their ids: see added_tokens.ts
  assert.deepEqual(idAgreementProblems(mergedJson), []);
  assert.equal(merged.size, r.vocabSize);
  assert.ok(r.vocabSize > 128256 && r.vocabSize <= 128256 + 500);
  const ko = r.rows.filter((x) => x.set === "Korean held-out");
  const en = r.rows.filter((x) => x.set === "English");
  assert.ok(ko[1].tokens_per_hangul! < 0.7 * ko[0].tokens_per_hangul!, JSON.stringify(ko));
  assert.equal(en[1].tokens, en[0].tokens);
  assert.match(
    await Deno.readTextFile(`${out}/report.md`),
    /\| merged \(Jikji\) \| Korean held-out/,
  );
  // The chat format travels with the merged tokenizer: Llama 3.1's tokenizer_config.json (the
  // merge appends ids after its special tokens, so added_tokens_decoder still holds) with Llama
  // 3.1 Instruct's chat template, and the ids that end a turn.
  assert.deepEqual(
    JSON.parse(await Deno.readTextFile(`${out}/tokenizer_config.json`)),
    await llama31TokenizerConfig(),
  );
  assert.match(
    JSON.parse(await Deno.readTextFile(`${out}/tokenizer_config.json`)).chat_template,
    /Cutting Knowledge Date: December 2023/,
  );
  assert.deepEqual(JSON.parse(await Deno.readTextFile(`${out}/generation_config.json`)), {
    bos_token_id: 128000,
    eos_token_id: [128001, 128008, 128009],
  });
  // The vocabulary file: one `piece\tscore` line per id, and the Unigram tokenizer.json agrees.
  const vocab = (await Deno.readTextFile(`${out}/unigram.vocab`)).trimEnd().split("\n");
  assert.equal(vocab[0], "<unk>\t0");
  const json = JSON.parse(await Deno.readTextFile(`${out}/unigram.tokenizer.json`));
  assert.deepEqual(idAgreementProblems(json), []);
  assert.equal(json.model.vocab.length, vocab.length);
  const model = new UnigramModel(
    json.model.vocab.map(([piece, score]: [string, number], i: number) => ({
      piece,
      score,
      type: i === 0
        ? PieceType.UNKNOWN
        : /^<0x..>$/.test(piece)
        ? PieceType.BYTE
        : i < 3
        ? PieceType.CONTROL
        : PieceType.NORMAL,
    })),
  );
  const hf = new Tokenizer(json, {});
  for (const line of koreanCorpus(30, 77)) {
    const text = line.replaceAll(".", "");
    assert.deepEqual(
      hf.encode(text, { add_special_tokens: false }).ids,
      model.encode(text.replaceAll(" ", SPACE_MARK)),
      text,
    );
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("readSplit() counts empty, non-UTF-8 and malformed entries instead of failing", async () => {
  const dir = await Deno.makeTempDir();
  const bad = new Uint8Array([0xed, 0x95, 0x9c, 0x0a, 0xff, 0xfe, 0x41, 0x0a, 0x0a, 0x20, 0x0a]);
  await Deno.writeFile(`${dir}/a.txt`, bad);
  await Deno.writeTextFile(
    `${dir}/b.jsonl`,
    '{"id":"1","text":"한글","meta":{}}\nnot json\n{"id":"2","text":"","meta":{}}\n',
  );
  const { train, heldOut, stats } = await readSplit([`${dir}/a.txt`, `${dir}/b.jsonl`]);
  assert.deepEqual(stats, { docs: 2, empty: 3, invalidUtf8: 1, badLines: 1 });
  assert.equal(train.length + heldOut.length, 2);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("isHeldOut() holds out about 1 in N documents, the same ones every time", () => {
  let n = 0;
  for (let i = 0; i < 10000; i++) if (isHeldOut(`doc-${i}`)) n++;
  assert.ok(n > 900 && n < 1100, String(n));
  assert.equal(isHeldOut("doc-17"), isHeldOut("doc-17"));
});

Deno.test("buildTokenizer() refuses Korean input without Hangul instead of adding 0 ids", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/ko.txt`, ENGLISH_LINES.join("\n") + "\n");
  await assert.rejects(
    () => buildTokenizer(options(dir, { korean: [`${dir}/ko.txt`] })),
    (err: unknown) =>
      err instanceof UserError && /ko\.txt: \d+ training documents but no Hangul/.test(err.message),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("buildTokenizer() refuses a truncated base tokenizer.json in one line", async () => {
  const dir = await corpusDir();
  const text = await Deno.readTextFile(LLAMA_PATH);
  await Deno.writeTextFile(`${dir}/base.json`, text.slice(0, 100_000));
  await assert.rejects(
    () => buildTokenizer(options(dir, { base: `${dir}/base.json` })),
    (err: unknown) =>
      err instanceof UserError && /base\.json: not JSON — truncated or corrupt/.test(err.message),
  );
  await Deno.remove(dir, { recursive: true });
});
