/**
 * `deno task filter run --executor slurm` against a real single-node Slurm (started by
 * lib/executor/slurm_testing.ts): 8 input shards on 4 ranks, one rank cancelled, the same command
 * resubmitting only that rank, and the output identical to a local run; then the next stage
 * (`train tokenize`, 2 ranks) chained after the filter's merge job.
 */

import assert from "node:assert/strict";
import { dirname } from "node:path";
import { type Doc, readDocs, writeDocs } from "../lib/io/jsonl.ts";
import { FilterRunner, type PipelineSpec } from "../lib/filter/runner.ts";
import { slurmTest } from "../lib/executor/slurm_testing.ts";
import { waitForJobs } from "../lib/executor/slurm.ts";
import { ROOT, taskStderrLines } from "./_testing.ts";
import { byteLevelTokenizerJson } from "../lib/train/tokenizer.ts";
import { readShard } from "../lib/train/shards.ts";

const PIPELINE: PipelineSpec = [
  { normalize: {} },
  { rules: { min_words: 5, min_hangul_ratio: 0.5 } },
  { pii: {} },
  { exact_dedup: {} },
  { minhash_dedup: { device: "cpu" } },
];

const WORDS = "하늘 바다 사람 마을 학교 시장 도서관 공원 기차 노래 바람 가을 겨울 아침 저녁".split(
  " ",
);

/** 8 files of documents: some dropped by the rules, some exact copies across files. */
async function makeInput(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/in`, { recursive: true });
  for (let f = 0; f < 8; f++) {
    const docs: Doc[] = [];
    for (let i = 0; i < 6; i++) {
      const n = f * 6 + i;
      const words = Array.from({ length: 12 }, (_, k) => WORDS[(n * 7 + k * (n % 5 + 1)) % 15]);
      let text = `${words.join(" ")}입니다. 연락처 010-1234-${String(1000 + n)}.`;
      if (i === 5) text = "짧은 글"; // too few words
      if (i === 4 && f > 0) text = `${"같은 문장이 여러 파일에 들어 있습니다 ".repeat(3)}끝.`; // copies
      docs.push({ id: `${f}-${i}`, text, meta: { file: f } });
    }
    await writeDocs(`${dir}/in/part-${f}.jsonl`, docs);
  }
}

/** Every file of an output folder that holds documents, decompressed, by relative path. */
async function outputs(out: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const sub of ["kept", "removed", "rejects"]) {
    const walk = async (d: string) => {
      for await (const e of Deno.readDir(d)) {
        const p = `${d}/${e.name}`;
        if (e.isDirectory) await walk(p);
        else {
          const docs: string[] = [];
          for await (const doc of readDocs(p)) docs.push(JSON.stringify(doc));
          files[p.slice(out.length + 1)] = docs.join("\n");
        }
      }
    };
    await walk(`${out}/${sub}`).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
  return files;
}

const _stats = async (out: string) => {
  const s = JSON.parse(await Deno.readTextFile(`${out}/stats.json`));
  delete s.seconds;
  return s;
};

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

slurmTest(
  "filter --executor slurm: 8 shards on 4 ranks, a cancelled rank resubmitted, output equals a local run; tokenize chained after its merge",
  async (slurm) => {
    await Deno.mkdir(`${ROOT}/data/cache`, { recursive: true });
    const dir = await Deno.makeTempDir({ dir: `${ROOT}/data/cache`, prefix: "filter-slurm-test-" });
    const rel = dir.slice(ROOT.length + 1);
    try {
      await makeInput(dir);
      await Deno.writeTextFile(`${dir}/pipeline.json`, JSON.stringify({ steps: PIPELINE }));
      // the local reference: the same 4 ranks in this process
      const local = new FilterRunner({
        input: `${dir}/in`,
        output: `${dir}/local`,
        pipeline: PIPELINE,
      });
      const localReport = await local.runAll(4);
      assert.equal(localReport.docs_in, 48);
      assert.ok(localReport.removed_by_reason["exact_dedup:exact_duplicate"] >= 6);

      const env = {
        ...slurm.env,
        NO_COLOR: "1",
        // the array tasks find this deno on PATH (sbatch passes the environment on)
        PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH")}`,
      };
      const run = async (args: string[]) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["task", "-q", ...args],
          cwd: ROOT,
          env,
          stdout: "piped",
          stderr: "piped",
        }).output();
        const dec = new TextDecoder();
        return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
      };
      const filter = (extra: string[]) =>
        run(
          ["filter", "run", "--config", `${rel}/pipeline.json`, "--input", `${rel}/in`]
            .concat(["--output", `${rel}/slurm`, "--world", "4", "--executor", "slurm", "-q"])
            .concat(extra),
        );

      // 1st submission, held: rank 1 is cancelled before it runs, the others run
      const first = await filter(["--slurm-sbatch=--hold"]);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(taskStderrLines(first.stderr), []);
      const sub1 = JSON.parse(first.stdout.trim().split("\n")[0]);
      assert.deepEqual(sub1.ranks, [0, 1, 2, 3]);
      const script = await Deno.readTextFile(`${dir}/slurm/slurm/filter.sbatch`);
      assert.match(script, /#SBATCH --array=0-3\n/);
      let r = await slurm.cli("scancel", [`${sub1.array_job}_1`]);
      assert.equal(r.code, 0, r.stderr);
      r = await slurm.cli("scontrol", ["release", sub1.array_job, sub1.merge_job]);
      await waitForJobs([sub1.array_job, sub1.merge_job], slurm.cli, 200);
      const markers = await Promise.all(
        [0, 1, 2, 3].map((i) =>
          exists(local.markerPath(i).replace(`${dir}/local`, `${dir}/slurm`))
        ),
      );
      assert.deepEqual(markers, [true, false, true, true]);
      assert.equal(await exists(`${dir}/slurm/stats.json`), false); // the merge never ran

      // the same command again: only rank 1, then the merge; the next stage (tokenize, 2 ranks)
      // chained after the merge job (afterok) reads the kept documents once they exist
      const second = await filter([]);
      assert.equal(second.code, 0, second.stderr);
      const sub2 = JSON.parse(second.stdout.trim().split("\n")[0]);
      assert.deepEqual(sub2.ranks, [1]);
      await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(byteLevelTokenizerJson()));
      const tok = await run(
        ["train", "tokenize", "--tokenizer", `${rel}/tokenizer.json`]
          .concat(["--output", `${rel}/kept.tok`, "--world", "2", "--executor", "slurm", "-q"])
          .concat(["--slurm-after", sub2.merge_job, "--slurm-wait", `${rel}/slurm/kept`]),
      );
      assert.equal(tok.code, 0, tok.stderr);
      const script2 = await Deno.readTextFile(`${dir}/kept.tok.ranks/slurm/tokenize.sbatch`);
      assert.match(script2, /#SBATCH --array=0-1\n/);
      const shard = await readShard(`${dir}/kept.tok`);
      assert.equal(shard.docStarts.length - 1, localReport.docs_out);

      assert.deepEqual(await outputs(`${dir}/slurm`), await outputs(`${dir}/local`));
      assert.deepEqual(await _stats(`${dir}/slurm`), await _stats(`${dir}/local`));
      const ranks = await Deno.readTextFile(`${dir}/slurm/slurm/ranks.log`);
      for (const [rank, job] of [[0, sub1.array_job], [1, sub2.array_job], [2, sub1.array_job]]) {
        assert.ok(ranks.includes(`==> rank ${rank} (job ${job}_${rank}) <==`), ranks);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
