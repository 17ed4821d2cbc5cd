/**
 * `bench io`: the shared JSONL reader and writer (plain and gzip) on the LibreOffice help text,
 * against a naive peer that reads the whole file and `JSON.parse`s each line.
 *
 * @module
 */

import { type Doc, readDocs, writeDocs } from "../io/jsonl.ts";
import { helpDocs, obtainHelpHtml } from "../data/libreoffice_help.ts";
import { type BenchResult, type BenchSuite, timeMedian } from "./harness.ts";

/** The io suite. */
export const ioBench: BenchSuite = {
  name: "io",
  summary: "JSONL document reader/writer throughput, plain and gzip",
  async *run(ctx): AsyncIterable<BenchResult> {
    const htmlDir = await obtainHelpHtml("ko", ctx.cacheDir);
    const docs: Doc[] = [];
    for await (const d of helpDocs("ko", htmlDir)) docs.push(d);
    const reps = ctx.quick ? 1 : 3;
    const copies = ctx.quick ? 1 : 4;
    const all = Array.from(
      { length: copies },
      (_, i) => docs.map((d) => ({ ...d, id: `${i}/${d.id}` })),
    ).flat();
    const dir = `${ctx.cacheDir}/bench-io`;
    await Deno.mkdir(dir, { recursive: true });
    for (const ext of [".jsonl", ".jsonl.gz"]) {
      const path = `${dir}/docs${ext}`;
      const writeMs = await timeMedian(() => writeDocs(path, all), reps, 0);
      const bytes = (await Deno.stat(path)).size;
      const mb = (ms: number) => bytes / 1e6 / (ms / 1000);
      ctx.log(`io: ${all.length} docs, ${(bytes / 1e6).toFixed(1)} MB on disk (${ext})`);
      yield {
        name: `write docs ${ext}`,
        value: mb(writeMs),
        unit: "MB/s",
        note: `${all.length} docs`,
      };
      const readMs = await timeMedian(
        async () => {
          let n = 0;
          for await (const _ of readDocs(path)) n++;
          if (n !== all.length) throw new Error(`read ${n} of ${all.length}`);
        },
        reps,
        1,
      );
      if (ext === ".jsonl") {
        const peerMs = await timeMedian(
          async () => {
            const text = await Deno.readTextFile(path);
            let n = 0;
            for (const line of text.split("\n")) if (line) JSON.parse(line), n++;
            if (n !== all.length) throw new Error("peer miscounted");
          },
          reps,
          1,
        );
        yield {
          name: `read docs ${ext}`,
          value: mb(readMs),
          unit: "MB/s",
          peer: "readTextFile+split+JSON.parse (in memory)",
          peer_value: mb(peerMs),
        };
      } else {
        yield { name: `read docs ${ext}`, value: mb(readMs), unit: "MB/s (compressed)" };
      }
      await Deno.remove(path);
    }
  },
};
