/**
 * `bench quality`: the model-based quality filters on the Korean LibreOffice help text (~4.8 MB,
 * ~635k words) against their reference tools, run in the same benchmark when installed:
 *
 * - KenLM's `lmplz` for the 5-gram build;
 * - KenLM's `query` for scoring the text file with the same ARPA (model load plus every line, as
 *   a process), against Jikji's load through its binary cache (`arpa_cache.ts`) and its ARPA parse;
 *   also `query` on `build_binary`'s file;
 * - Debian's `fasttext` for the classifier on the "mostly Hangul?" line task (40k train / 10k test
 *   lines of Korean and English help text).
 *
 * KenLM is not in Debian: build it and put its `bin/` on PATH (`lmplz`, `query` and
 * `build_binary` are in the bench task's `--allow-run`; without them the KenLM rows have no peer).
 *
 * @module
 */

import { helpDocs, obtainHelpHtml } from "../data/libreoffice_help.ts";
import type { Doc } from "../io/jsonl.ts";
import { type BenchResult, type BenchSuite, timeMedian } from "../bench/harness.ts";
import { trainNgram } from "./ngram/train.ts";
import { readArpa, writeArpa } from "./ngram/arpa.ts";
import { loadArpa } from "./ngram/arpa_cache.ts";
import type { NgramModel } from "./ngram/model.ts";
import { whitespaceTokenizer } from "./ngram/vocab.ts";
import {
  type FastTextArgs,
  testFastText,
  trainFastText,
  trainFastTextParallel,
} from "./classifier/fasttext.ts";
import { hangulTask } from "./classifier/hangul_task.ts";

/** Runs a tool; undefined when it is not installed (or not allowed). */
async function _run(
  cmd: string,
  args: string[],
  stdinPath?: string,
): Promise<{ ok: boolean; seconds: number; stdout: string; stderr: string } | undefined> {
  const t0 = performance.now();
  try {
    const child = new Deno.Command(cmd, {
      args,
      stdin: stdinPath ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdinPath) {
      const f = await Deno.open(stdinPath);
      await f.readable.pipeTo(child.stdin);
    }
    const out = await child.output();
    const dec = new TextDecoder();
    return {
      ok: out.success,
      seconds: (performance.now() - t0) / 1000,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotCapable) return;
    if (err instanceof Deno.errors.PermissionDenied) return;
    throw err;
  }
}

/** Median milliseconds of `reps` runs of a tool reading `stdinPath`, and its last stdout. */
async function _timedTool(cmd: string, args: string[], stdinPath: string, reps: number) {
  const times: number[] = [];
  let stdout = "";
  for (let i = 0; i < reps; i++) {
    const r = await _run(cmd, args, stdinPath);
    if (!r?.ok) return;
    times.push(r.seconds * 1000);
    stdout = r.stdout;
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], stdout };
}

/** Largest |Δ| of log10 probabilities and backoffs between two models with the same n-grams. */
function _maxDiff(a: NgramModel, b: NgramModel): number {
  let max = 0;
  for (let k = 1; k <= a.order; k++) {
    for (let i = 0; i < a.prob[k - 1].length; i++) {
      const ids = a.gramIds(k, i).map((id) => b.vocab.id(a.vocab.words[id]));
      const j = b.find(ids);
      if (j < 0) return Infinity;
      max = Math.max(
        max,
        Math.abs(a.prob[k - 1][i] - b.prob[k - 1][j]),
        Math.abs(a.backoff[k - 1][i] - b.backoff[k - 1][j]),
      );
    }
  }
  return max;
}

/** The classifier settings both tools use in the benchmark. */
export const BENCH_FT_ARGS: Partial<FastTextArgs> = {
  dim: 10,
  epoch: 5,
  lr: 0.1,
  wordNgrams: 1,
  minn: 2,
  maxn: 4,
  bucket: 200_000,
};

/** The quality suite. */
export const qualityBench: BenchSuite = {
  name: "quality",
  summary: "5-gram MKN build and query vs KenLM lmplz; classifier training and P@1 vs fastText",
  async *run(ctx): AsyncIterable<BenchResult> {
    const dir = `${ctx.cacheDir}/bench-quality`;
    await Deno.mkdir(dir, { recursive: true });
    const ko: Doc[] = [];
    for await (const d of helpDocs("ko", await obtainHelpHtml("ko", ctx.cacheDir))) ko.push(d);
    const text = ko.map((d) => d.text).join("\n") + "\n";
    const textPath = `${dir}/ko.txt`;
    await Deno.writeTextFile(textPath, text);
    const lines = text.split("\n");
    const mb = new TextEncoder().encode(text).length / 1e6;
    const reps = ctx.quick ? 1 : 3;
    ctx.log(`quality: ${mb.toFixed(1)} MB of Korean help text`);

    // --- 5-gram build
    let model: NgramModel | undefined;
    let words = 0;
    // Timed like lmplz: read the text file, count, estimate, write the ARPA file.
    const buildMs = await timeMedian(
      async () => {
        const r = await trainNgram((await Deno.readTextFile(textPath)).split("\n"), { order: 5 });
        await writeArpa(r.model, `${dir}/jikji.arpa`);
        model = r.model;
        words = r.tokens - r.sentences;
      },
      reps,
      0,
    );
    const lmplz = await _run(
      "lmplz",
      ["-o", "5", "-S", "1G", "-T", dir, "--arpa", `${dir}/lmplz.arpa`],
      textPath,
    );
    if (lmplz && !lmplz.ok) ctx.log(`quality: lmplz failed: ${lmplz.stderr.slice(-300)}`);
    yield {
      name: "5-gram MKN build (text → ARPA)",
      value: buildMs / 1000,
      unit: "s",
      ...(lmplz?.ok ? { peer: "KenLM lmplz", peer_value: lmplz.seconds } : {}),
      note:
        `${mb.toFixed(1)} MB, ${words} words; ${
          lmplz ? "" : "lmplz not on PATH or not in --allow-run; "
        }` +
        `n-grams ${model!.counts().join("/")}`,
    };

    // --- query speed
    const toks = lines.map((l) => whitespaceTokenizer(l)).filter((t) => t.length > 0);
    let n = 0;
    const queryMs = await timeMedian(
      () => {
        n = 0;
        for (const t of toks) {
          model!.scoreSentence(t);
          n += t.length + 1;
        }
      },
      reps,
      1,
    );
    yield {
      name: "5-gram query",
      value: n / (queryMs / 1000),
      unit: "words/s",
      note: `${n} words`,
    };

    // --- scoring a file: model load + every line, against KenLM's query on the same ARPA
    const arpa = `${dir}/jikji.arpa`;
    await loadArpa(arpa); // writes the binary cache beside the ARPA; later loads read it
    const scoreFile = (m: NgramModel, path: string) => {
      let logprob = 0, tokens = 0;
      for (const line of Deno.readTextFileSync(path).split("\n").slice(0, -1)) {
        const s = m.scoreSentence(whitespaceTokenizer(line));
        logprob += s.logprob;
        tokens += s.words + 1;
      }
      return Math.pow(10, -logprob / tokens);
    };
    let ppl = 0;
    const cachedMs = await timeMedian(
      async () => (ppl = scoreFile(await loadArpa(arpa), textPath)),
      reps,
      1,
    );
    const parseMs = await timeMedian(
      async () => scoreFile(await readArpa(arpa), textPath),
      reps,
      0,
    );
    const query = await _timedTool("query", ["-v", "summary", arpa], textPath, reps);
    const built = await _run("build_binary", [arpa, `${dir}/jikji.kenlm`]);
    const queryBin = built?.ok
      ? await _timedTool("query", ["-v", "summary", `${dir}/jikji.kenlm`], textPath, reps)
      : undefined;
    const queryPpl = query && Number(/Perplexity including OOVs:\s*(\S+)/.exec(query.stdout)?.[1]);
    const speed = (ms: number) => mb / (ms / 1000);
    const noQuery = "query not on PATH or not in --allow-run";
    yield {
      name: "5-gram score a file, binary cache (load + score)",
      value: speed(cachedMs),
      unit: "MB/s",
      ...(query ? { peer: "KenLM query, same ARPA", peer_value: speed(query.ms) } : {}),
      note: `${mb.toFixed(1)} MB; perplexity ${ppl.toFixed(4)}` +
        (query ? ` (query: ${queryPpl}); query timed as a process` : `; ${noQuery}`),
    };
    yield {
      name: "5-gram score a file, ARPA parsed (load + score)",
      value: speed(parseMs),
      unit: "MB/s",
      ...(query ? { peer: "KenLM query, same ARPA", peer_value: speed(query.ms) } : {}),
    };
    if (queryBin) {
      yield {
        name: "5-gram score a file, binary cache vs KenLM's binary",
        value: speed(cachedMs),
        unit: "MB/s",
        peer: "KenLM query, build_binary's file",
        peer_value: speed(queryBin.ms),
      };
    }

    // --- agreement with lmplz's ARPA
    if (lmplz?.ok) {
      const theirs = await readArpa(`${dir}/lmplz.arpa`);
      yield {
        name: "max abs diff of log10 p and backoff vs lmplz",
        value: _maxDiff(theirs, model!),
        unit: "log10",
        note: `lmplz n-grams ${theirs.counts().join("/")}`,
      };
    }

    // --- classifier
    const en: Doc[] = [];
    for await (const d of helpDocs("en", await obtainHelpHtml("en", ctx.cacheDir))) en.push(d);
    const task = hangulTask([...ko, ...en], 50_000, 1);
    const train = task.slice(0, 40_000), test = task.slice(40_000);
    const fmt = (ex: typeof task) =>
      ex.map((e) => e.labels.map((l) => `__label__${l}`).join(" ") + " " + e.text).join("\n") +
      "\n";
    await Deno.writeTextFile(`${dir}/hangul.train.txt`, fmt(train));
    await Deno.writeTextFile(`${dir}/hangul.test.txt`, fmt(test));
    let clf: ReturnType<typeof trainFastText> | undefined;
    const trainMs = await timeMedian(
      () => {
        clf = trainFastText(train, BENCH_FT_ARGS);
      },
      reps,
      0,
    );
    const p1 = testFastText(clf!, test).p1;
    let clf2: ReturnType<typeof trainFastText> | undefined;
    const trainMs2 = await timeMedian(
      async () => {
        clf2 = await trainFastTextParallel(train, BENCH_FT_ARGS, { threads: 2 });
      },
      reps,
      0,
    );
    const p1x2 = testFastText(clf2!, test).p1;
    const a = BENCH_FT_ARGS;
    const ft = await _run("fasttext", [
      "supervised",
      "-input",
      `${dir}/hangul.train.txt`,
      "-output",
      `${dir}/hangul.ft`,
      "-dim",
      `${a.dim}`,
      "-epoch",
      `${a.epoch}`,
      "-lr",
      `${a.lr}`,
      "-wordNgrams",
      `${a.wordNgrams}`,
      "-minn",
      `${a.minn}`,
      "-maxn",
      `${a.maxn}`,
      "-bucket",
      `${a.bucket}`,
      "-verbose",
      "0",
    ]);
    let ftP1: number | undefined;
    if (ft?.ok) {
      const t = await _run("fasttext", ["test", `${dir}/hangul.ft.bin`, `${dir}/hangul.test.txt`]);
      const m = t && /P@1\s+([\d.]+)/.exec(t.stdout);
      if (m) ftP1 = Number(m[1]);
    }
    const note = `${train.length} train / ${test.length} test lines; dim ${a.dim}, char n-grams ` +
      `${a.minn}-${a.maxn}, ${a.epoch} epochs${ft ? "" : "; fasttext not installed"}`;
    yield {
      name: "classifier training",
      value: trainMs / 1000,
      unit: "s",
      ...(ft?.ok ? { peer: "fastText 0.9.2 (Debian)", peer_value: ft.seconds } : {}),
      note,
    };
    yield {
      name: "classifier training, 2 Hogwild threads",
      value: trainMs2 / 1000,
      unit: "s",
      ...(ft?.ok ? { peer: "fastText 0.9.2 (Debian)", peer_value: ft.seconds } : {}),
      note: `${note}; P@1 ${p1x2.toFixed(4)}`,
    };
    yield {
      name: "classifier P@1",
      value: p1,
      unit: "P@1",
      ...(ftP1 !== undefined ? { peer: "fastText 0.9.2 (Debian)", peer_value: ftP1 } : {}),
      note,
    };
  },
};
