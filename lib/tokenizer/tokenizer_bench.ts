/**
 * `bench tokenizer`, on the LibreOffice help text (Korean and English, documents split by a hash
 * of their id into training and held-out):
 *
 * - Jikji's Unigram trainer against Debian's `spm_train` at equal vocabulary size (8k and 16k) on
 *   the same Korean training text: training seconds, peak resident memory (each trainer in a
 *   process of its own: `unigram_file_train.ts` reports its own `ru_maxrss`, GNU `time` reports
 *   spm_train's), and tokens per character on held-out text (`spm_encode` for sentencepiece's
 *   model);
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
import { spmWords } from "./pretokens.ts";
import { fileURLToPath } from "node:url";
import { parseSentencePieceVocab, SentencePieceProcessor } from "./sentencepiece.ts";
import { UnigramModel } from "./unigram.ts";

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

/** Peak resident memory of a finished child from GNU time's `-f %M` file (KiB), in MiB. */
async function _peakFromTime(path: string): Promise<number | undefined> {
  const kib = Number((await Deno.readTextFile(path)).trim().split("\n").at(-1));
  return Number.isFinite(kib) && kib > 0 ? kib / 1024 : undefined;
}

/**
 * Runs `cmd` under GNU time when `withTime`: its seconds and peak resident memory in MiB (the
 * child's `ru_maxrss`). The trainers are timed this way rather than by reading their own
 * getrusage, since a child forked from the bench starts with the bench's peak as its own.
 */
async function timed(cmd: string, args: string[], rssFile: string, withTime: boolean) {
  const t0 = performance.now();
  const stdout = withTime
    ? await run("time", ["-f", "%M", "-o", rssFile, cmd, ...args])
    : await run(cmd, args);
  const seconds = (performance.now() - t0) / 1000;
  return { stdout, seconds, peakMiB: withTime ? await _peakFromTime(rssFile) : undefined };
}

/** Jikji's trainer on `work`/ko_train.txt in a `deno` process of its own; undefined without deno. */
async function trainInProcess(work: string, size: number, withTime: boolean) {
  const vocab = `${work}/jikji${size}.vocab`;
  const script = fileURLToPath(new URL("./unigram_file_train.ts", import.meta.url));
  const args = ["run", `--allow-read=${work}`, `--allow-write=${work}`, script];
  try {
    const out = await timed(
      "deno",
      [...args, `${work}/ko_train.txt`, `${size}`, vocab],
      `${work}/jikji${size}.rss`,
      withTime,
    );
    return { vocab, seconds: JSON.parse(out.stdout).seconds as number, peakMiB: out.peakMiB };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotCapable) return;
    throw err;
  }
}

/** spm_train at `size` pieces: seconds and, under GNU time, peak memory in MiB. */
async function spmTrain(work: string, size: number, withTime: boolean) {
  const prefix = `${work}/spm${size}`;
  const args = [
    `--input=${work}/ko_train.txt`,
    `--model_prefix=${prefix}`,
    `--vocab_size=${size}`,
    "--character_coverage=0.9995",
    "--model_type=unigram",
    "--minloglevel=2",
  ];
  const out = await timed("spm_train", args, `${prefix}.rss`, withTime);
  return { model: `${prefix}.model`, seconds: out.seconds, peakMiB: out.peakMiB };
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
    const heldTokens = (model: UnigramModel) =>
      heldLines.reduce(
        (a, l) => a + spmWords(l).reduce((b, w) => b + model.encode(w).length, 0),
        0,
      );
    const hasSpm = await hasCommand("spm_train");
    if (!hasSpm) {
      ctx.log("tokenizer: spm_train not installed (apt-get install sentencepiece): no peer");
    }
    const hasTime = await hasCommand("time");
    if (!hasTime) {
      ctx.log("tokenizer: GNU time not installed (apt-get install time): no peak memory");
    }
    for (const size of [vocab, 2 * vocab]) {
      // Both trainers in processes of their own, timed from the text file to the finished model
      // (Jikji's: unigram_file_train.ts), their peak memory read by GNU time.
      const spm = hasSpm ? await spmTrain(work, size, hasTime) : undefined;
      const jikji = await trainInProcess(work, size, hasTime);
      if (!jikji) {
        ctx.log(
          "tokenizer: cannot run `deno` (not on PATH or not in --allow-run): no trainer figures",
        );
        continue;
      }
      const model = new UnigramModel(
        parseSentencePieceVocab(await Deno.readTextFile(jikji.vocab), jikji.vocab),
      );
      yield {
        name: `Unigram training, ${size} pieces`,
        value: jikji.seconds,
        unit: "s",
        ...(spm ? { peer: "spm_train", peer_value: spm.seconds } : {}),
        note,
      };
      if (jikji.peakMiB) {
        yield {
          name: `Unigram training peak memory, ${size} pieces`,
          value: jikji.peakMiB,
          unit: "MiB",
          ...(spm?.peakMiB ? { peer: "spm_train", peer_value: spm.peakMiB } : {}),
          note: "peak resident memory of the training process (GNU time's %M)",
        };
      }
      if (!spm) continue;
      const encoded = await run("spm_encode", [`--model=${spm.model}`, `${work}/ko_held.txt`]);
      const spmTokens = encoded.split("\n").reduce((a, l) => a + (l ? l.split(" ").length : 0), 0);
      yield {
        name: `held-out tokens/char, ${size} pieces`,
        value: heldTokens(model) / heldChars,
        unit: "tokens/char",
        peer: "spm_train + spm_encode",
        peer_value: spmTokens / heldChars,
      };
    }
    if (hasSpm) {
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
