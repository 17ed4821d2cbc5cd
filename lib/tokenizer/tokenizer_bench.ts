/**
 * `bench tokenizer`, on the LibreOffice help text (Korean and English, documents split by a hash
 * of their id into training and held-out):
 *
 * - Jikji's Unigram trainer against Debian's `spm_train` at equal vocabulary size (8k) on the same
 *   Korean training text: training seconds, and tokens per character on held-out text
 *   (`spm_encode` for sentencepiece's model);
 * - Jikji's sentencepiece processor against `spm_encode` encoding the training text with
 *   spm_train's model, in MB/s;
 * - encode speed of the merged tokenizer with Jikji's encoder against `@huggingface/tokenizers`
 *   (transformers.js's tokenizer code) on the original Llama 3.1, and that library on the merged
 *   file, in MB/s of UTF-8 text (transformers.js itself needs `--allow-ffi`, which the bench does
 *   not get: `transformers_js_encode.ts --time` times it on the held-out files this bench writes
 *   to `data/cache/bench-tokenizer/`);
 * - tokens per Hangul syllable of Korean held-out lines before and after the merge.
 *
 * @module
 */

import { Tokenizer } from "@huggingface/tokenizers";
import { helpDocs, obtainHelpHtml } from "../data/libreoffice_help.ts";
import { type Doc, writeDocs } from "../io/jsonl.ts";
import type { BenchResult, BenchSuite } from "../bench/harness.ts";
import { timeMedian } from "../bench/harness.ts";
import { ByteLevelBpe } from "./bpe.ts";
import { BUILD_DEFAULTS, buildTokenizer, LLAMA31_TOKENIZER, readBase } from "./build.ts";
import { isHeldOut } from "./corpus.ts";
import { countPreTokens, spmValidPiece, spmWords } from "./pretokens.ts";
import { trainUnigram } from "./unigram_trainer.ts";
import { SentencePieceProcessor } from "./sentencepiece.ts";

const encoder = new TextEncoder();

async function helpTexts(lang: "ko" | "en", cacheDir: string) {
  const dir = await obtainHelpHtml(lang, cacheDir);
  const docs: Doc[] = [], train: string[] = [], heldOut: string[] = [];
  for await (const d of helpDocs(lang, dir)) {
    docs.push(d);
    (isHeldOut(d.id) ? heldOut : train).push(d.text);
  }
  return { docs, train, heldOut };
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr).slice(-500)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function hasCommand(cmd: string): Promise<boolean> {
  try {
    await new Deno.Command(cmd, { args: ["--help"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

/** The tokenizer suite. */
export const tokenizerBench: BenchSuite = {
  name: "tokenizer",
  summary: "Unigram trainer vs spm_train; merged tokenizer encode speed and tokens per syllable",
  async *run(ctx): AsyncIterable<BenchResult> {
    const work = `${ctx.cacheDir}/bench-tokenizer`;
    await Deno.mkdir(work, { recursive: true });
    const ko = await helpTexts("ko", ctx.cacheDir);
    const en = await helpTexts("en", ctx.cacheDir);
    const trainText = ko.train.join("\n") + "\n";
    const heldLines = ko.heldOut.join("\n").split("\n").filter((l) => l.trim());
    await Deno.writeTextFile(`${work}/ko_train.txt`, trainText);
    await Deno.writeTextFile(`${work}/ko_held.txt`, heldLines.join("\n") + "\n");
    const heldChars = heldLines.reduce((a, l) => a + l.length, 0);
    const vocab = 8000;
    const note = `${(encoder.encode(trainText).length / 1e6).toFixed(2)} MB Korean training text`;
    ctx.log(`tokenizer: ${note}, ${heldLines.length} held-out lines`);

    // Jikji's trainer, timed from the text file to the finished model.
    const t0 = performance.now();
    const counts = new Map<string, number>();
    for (const line of (await Deno.readTextFile(`${work}/ko_train.txt`)).split("\n")) {
      countPreTokens(counts, spmWords(line));
    }
    const model = trainUnigram(counts, { vocabSize: vocab, isValidPiece: spmValidPiece });
    const jikjiSeconds = (performance.now() - t0) / 1000;
    let jikjiTokens = 0;
    for (const l of heldLines) for (const w of spmWords(l)) jikjiTokens += model.encode(w).length;

    if (await hasCommand("spm_train")) {
      const t1 = performance.now();
      await run("spm_train", [
        `--input=${work}/ko_train.txt`,
        `--model_prefix=${work}/spm${vocab}`,
        `--vocab_size=${vocab}`,
        "--character_coverage=0.9995",
        "--model_type=unigram",
        "--minloglevel=2",
      ]);
      const spmSeconds = (performance.now() - t1) / 1000;
      const encoded = await run("spm_encode", [
        `--model=${work}/spm${vocab}.model`,
        `${work}/ko_held.txt`,
      ]);
      const spmTokens = encoded.split("\n").reduce((a, l) => a + (l ? l.split(" ").length : 0), 0);
      yield {
        name: `Unigram training, ${vocab} pieces`,
        value: jikjiSeconds,
        unit: "s",
        peer: "spm_train",
        peer_value: spmSeconds,
        note,
      };
      yield {
        name: `held-out tokens/char, ${vocab} pieces`,
        value: jikjiTokens / heldChars,
        unit: "tokens/char",
        peer: "spm_train + spm_encode",
        peer_value: spmTokens / heldChars,
      };
      // Encoding with sentencepiece's own model: Jikji's processor (warm, same ids) against
      // spm_encode (a process per run: start and model load included) on the training text.
      const spm = SentencePieceProcessor.fromModel(
        await Deno.readFile(`${work}/spm${vocab}.model`),
        `spm${vocab}.model`,
      );
      const trainLines = trainText.split("\n").filter((l) => l.trim());
      const trainBytes = encoder.encode(trainText).length;
      const mb = (ms: number) => trainBytes / 1e6 / (ms / 1000);
      const reps = ctx.quick ? 1 : 3;
      const ours = await timeMedian(() => trainLines.forEach((l) => spm.encodeIds(l)), reps);
      const theirs = await timeMedian(
        () =>
          run("spm_encode", [
            `--model=${work}/spm${vocab}.model`,
            "--output_format=id",
            `${work}/ko_train.txt`,
          ]),
        reps,
      );
      yield {
        name: `sentencepiece encode, ${vocab}-piece model (Jikji processor)`,
        value: mb(ours),
        unit: "MB/s",
        peer: "spm_encode",
        peer_value: mb(theirs),
        note: `${(trainBytes / 1e6).toFixed(2)} MB; spm_encode timed as a process`,
      };
    } else {
      ctx.log("tokenizer: spm_train not installed (apt-get install sentencepiece): no peer");
      yield { name: `Unigram training, ${vocab} pieces`, value: jikjiSeconds, unit: "s", note };
    }

    // The merged tokenizer (the default build) and encode speed.
    const koPath = `${work}/ko.jsonl.gz`;
    await writeDocs(koPath, ko.docs);
    const build = await buildTokenizer({
      korean: [koPath],
      english: [],
      out: `${work}/merged`,
      ...BUILD_DEFAULTS,
      log: () => {},
    });
    const koRows = build.rows.filter((r) => r.set === "Korean held-out");
    yield {
      name: "Korean held-out tokens/syllable, merged",
      value: koRows[1].tokens_per_hangul!,
      unit: "tokens/syllable",
      peer: "Llama 3.1",
      peer_value: koRows[0].tokens_per_hangul!,
      note: `+${build.vocabSize - 128256} ids`,
    };
    const mergedJson = await readBase(`${work}/merged/tokenizer.json`);
    const baseJson = await readBase(LLAMA31_TOKENIZER);
    const merged = ByteLevelBpe.fromJson(mergedJson);
    const hfBase = new Tokenizer(baseJson, {});
    const hfMerged = new Tokenizer(mergedJson, {});
    const reps = ctx.quick ? 1 : 3;
    const enLines = en.heldOut.join("\n").split("\n").filter((l) => l.trim());
    // The same held-out files serve transformers.js's timing (see transformers_js_encode.ts).
    await Deno.writeTextFile(`${work}/en_held.txt`, enLines.join("\n") + "\n");
    for (const [set, lines] of [["Korean", heldLines], ["English", enLines]] as const) {
      const bytes = lines.reduce((a, l) => a + encoder.encode(l).length, 0);
      const mbs = (ms: number) => bytes / 1e6 / (ms / 1000);
      const ours = mbs(await timeMedian(() => lines.forEach((l) => merged.encode(l)), reps));
      const peer = mbs(
        await timeMedian(
          () => lines.forEach((l) => hfBase.encode(l, { add_special_tokens: false })),
          reps,
        ),
      );
      yield {
        name: `encode ${set}, merged (Jikji encoder)`,
        value: ours,
        unit: "MB/s",
        peer: "@huggingface/tokenizers, Llama 3.1",
        peer_value: peer,
        note: `${(bytes / 1e6).toFixed(2)} MB held-out`,
      };
      yield {
        name: `encode ${set}, merged (@huggingface/tokenizers)`,
        value: mbs(
          await timeMedian(
            () => lines.forEach((l) => hfMerged.encode(l, { add_special_tokens: false })),
            reps,
          ),
        ),
        unit: "MB/s",
      };
    }
  },
};
