/**
 * `bench filter`: throughput of each filter step (MB/s of UTF-8 text in) and of MinHash signatures
 * on the CPU (WebAssembly loop; peer: the plain TypeScript reference) and on WebGPU, on the Korean
 * LibreOffice help text; then the whole default pipeline through the runner.
 *
 * @module
 */

import type { Doc } from "../io/jsonl.ts";
import { writeDocs } from "../io/jsonl.ts";
import { helpDocs, obtainHelpHtml } from "../data/libreoffice_help.ts";
import { normalizeText } from "../filter/normalize.ts";
import { LinePunctuation, Rules } from "../filter/rules.ts";
import { scrubPii } from "../filter/pii.ts";
import {
  makePermutations,
  MINHASH_DEFAULTS,
  shingleHashes,
  signatureCpu,
} from "../filter/minhash.ts";
import { WasmMinhasher } from "../filter/minhash_wasm.ts";
import { WasmPool } from "../filter/minhash_pool.ts";
import { GpuMinhasher } from "../filter/minhash_gpu.ts";
import { FilterRunner } from "../filter/runner.ts";
import { clusterRuns, DedupSigner } from "../filter/dedup.ts";
import { DEFAULT_PIPELINE } from "../filter/pipeline.ts";
import { type BenchResult, type BenchSuite, timeMedian } from "./harness.ts";

const _enc = new TextEncoder();

/** The filter suite. */
export const filterBench: BenchSuite = {
  name: "filter",
  summary: "filter steps and MinHash signatures (CPU vs WebGPU) on Korean LibreOffice help text",
  async *run(ctx): AsyncIterable<BenchResult> {
    const htmlDir = await obtainHelpHtml("ko", ctx.cacheDir);
    const raw: Doc[] = [];
    for await (const d of helpDocs("ko", htmlDir)) raw.push(d);
    const docs = raw.map((d) => ({ ...d, text: normalizeText(d.text) }));
    const bytes = docs.reduce((a, d) => a + _enc.encode(d.text).length, 0);
    const mb = (ms: number, b = bytes) => b / 1e6 / (ms / 1000);
    const reps = ctx.quick ? 1 : 3;
    const note = `${docs.length} docs, ${(bytes / 1e6).toFixed(2)} MB`;
    ctx.log(`filter: ${note} of Korean help text`);

    yield {
      name: "normalize",
      value: mb(await timeMedian(() => raw.forEach((d) => normalizeText(d.text)), reps)),
      unit: "MB/s",
      note,
    };
    const lp = new LinePunctuation();
    yield {
      name: "line_punctuation",
      value: mb(await timeMedian(() => docs.forEach((d) => lp.transform(d)), reps)),
      unit: "MB/s",
    };
    const rules = new Rules();
    yield {
      name: "rules (paper defaults)",
      value: mb(
        await timeMedian(() => docs.forEach((d) => rules.filter({ ...d, meta: {} })), reps),
      ),
      unit: "MB/s",
      note: "most help pages fail the Hangul check first and skip the rest",
    };
    const strict = new Rules({ min_hangul_ratio: 0, min_words: 0 });
    yield {
      name: "rules (every check on every doc)",
      value: mb(await timeMedian(() => docs.forEach((d) => strict.filter(d)), reps)),
      unit: "MB/s",
    };
    yield {
      name: "pii",
      value: mb(await timeMedian(() => docs.forEach((d) => scrubPii(d.text)), reps)),
      unit: "MB/s",
    };

    const { bands, rows, ngram } = MINHASH_DEFAULTS;
    const perms = makePermutations(bands * rows, 1);
    let shingles: Uint32Array[] = [];
    const shingleMs = await timeMedian(() => {
      shingles = docs.map((d) => shingleHashes(d.text, ngram, "word"));
    }, reps);
    const nShingles = shingles.reduce((a, s) => a + s.length, 0);
    yield {
      name: "shingling (word 5-grams)",
      value: mb(shingleMs),
      unit: "MB/s",
      note: `${nShingles} shingles`,
    };
    const wasm = new WasmMinhasher(perms);
    const wasmMs = await timeMedian(() => shingles.forEach((s) => wasm.signature(s)), reps);
    // the plain TypeScript reference on a tenth of the documents, scaled
    const tenth = shingles.filter((_, i) => i % 10 === 0);
    const tenthBytes = docs.filter((_, i) => i % 10 === 0).reduce(
      (a, d) => a + _enc.encode(d.text).length,
      0,
    );
    const refMs = await timeMedian(() => tenth.forEach((s) => signatureCpu(s, perms)), 1, 0);
    yield {
      name: "minhash signatures CPU (shingling + WebAssembly, 1 core)",
      value: mb(shingleMs + wasmMs),
      unit: "MB/s",
      peer: "plain TypeScript reference (shingling + signatureCpu)",
      peer_value: mb(shingleMs * tenthBytes / bytes + refMs, tenthBytes),
      note: `${bands}×${rows} permutations`,
    };
    const pool = new WasmPool(perms, 2);
    try {
      const poolMs = await timeMedian(() => pool.signatures(shingles), reps);
      yield {
        name: "minhash signatures CPU (shingling + WebAssembly, 2 worker threads)",
        value: mb(shingleMs + poolMs),
        unit: "MB/s",
        peer: "same, 1 core",
        peer_value: mb(shingleMs + wasmMs),
        note: `${navigator.hardwareConcurrency} cores on this machine; shingling stays on 1`,
      };
    } finally {
      pool.close();
    }
    let gpu: GpuMinhasher | undefined;
    try {
      gpu = await GpuMinhasher.create(perms);
    } catch (err) {
      ctx.log(`filter: no WebGPU adapter (${(err as Error).message}); GPU figures skipped`);
    }
    if (gpu) {
      const gpuMs = await timeMedian(() => gpu.signatures(shingles), reps);
      yield {
        name: "minhash signatures WebGPU (shingling + kernel + readback)",
        value: mb(shingleMs + gpuMs),
        unit: "MB/s",
        peer: "CPU WebAssembly (1 core)",
        peer_value: mb(shingleMs + wasmMs),
        note: gpu.rt.gpu.description,
      };
    }

    const dir = await Deno.makeTempDir({ dir: ctx.cacheDir, prefix: "bench-filter-" });
    try {
      let k = 0;
      const dedupMs = await timeMedian(async () => {
        const sigDir = `${dir}/sig${k++}`;
        const signer = await DedupSigner.open(sigDir, 0, {
          exact: true,
          minhash: MINHASH_DEFAULTS,
          device: "cpu",
        });
        for (const d of docs) await signer.add(d);
        await signer.close();
        await clusterRuns([sigDir]);
      }, reps);
      yield {
        name: "exact + MinHash-LSH dedup, all docs (CPU sign, sorted runs, merge, union-find)",
        value: mb(dedupMs),
        unit: "MB/s",
      };
      await writeDocs(`${dir}/in.jsonl`, raw);
      const rawBytes = raw.reduce((a, d) => a + _enc.encode(d.text).length, 0);
      for (const device of ["cpu", "auto"] as const) {
        if (device === "auto" && !gpu) continue;
        const pipeline = DEFAULT_PIPELINE.map((s) =>
          "minhash_dedup" in s ? { minhash_dedup: { device } } : s
        );
        let i = 0;
        const ms = await timeMedian(
          async () => {
            await new FilterRunner({
              input: `${dir}/in.jsonl`,
              output: `${dir}/out-${device}-${i++}`,
              pipeline,
            }).runAll();
          },
          ctx.quick ? 1 : 2,
          0,
        );
        yield {
          name: `whole default pipeline (runner, dedup on ${device === "cpu" ? "CPU" : "GPU"})`,
          value: mb(ms, rawBytes),
          unit: "MB/s",
          note: "read, 4 steps, write, dedup merge",
        };
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
};
