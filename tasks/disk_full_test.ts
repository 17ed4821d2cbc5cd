/**
 * A full disk and a read-only one, on small tmpfs mounts inside the project: the task stops with
 * one line naming the path it could not write, exit 2, and leaves no half-written or temporary
 * file behind. Mounting needs root; where the machine does not allow it the tests say so loudly
 * and are skipped.
 */

import assert from "node:assert/strict";
import { writeDocs } from "../lib/io/jsonl.ts";
import { mulberry32 } from "../lib/quality/classifier/prng.ts";
import { ROOT, runTask, taskStderrLines } from "./_testing.ts";

async function mount(dir: string, options: string): Promise<boolean> {
  await Deno.mkdir(dir, { recursive: true });
  try {
    const r = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", options, "tmpfs", dir],
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return false;
  }
}

async function umount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: [dir], stdout: "null", stderr: "null" }).output();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

const PROBE = `${ROOT}/runs/test-tmp/mount-probe-${crypto.randomUUID().slice(0, 8)}`;
const CAN_MOUNT = await mount(PROBE, "size=64k");
if (CAN_MOUNT) await umount(PROBE);
else {
  await Deno.remove(PROBE, { recursive: true }).catch(() => {});
  console.warn(
    "SKIPPED disk_full_test.ts: this machine does not allow `mount -t tmpfs` (needs root)",
  );
}

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) out.push(...(await files(`${dir}/${e.name}`)).map((f) => `${e.name}/${f}`));
    else out.push(e.name);
  }
  return out;
}

/** 400 documents of random Hangul words: too many bytes, even gzipped, for the small disks. */
async function corpus(rel: string): Promise<string> {
  const path = `${rel}/docs.jsonl`;
  const rand = mulberry32(7);
  const word = () =>
    Array.from(
      { length: 2 + Math.floor(rand() * 3) },
      () => String.fromCharCode(0xac00 + Math.floor(rand() * 11172)),
    ).join("");
  const doc = () => Array.from({ length: 120 }, word).join(" ") + ".";
  await writeDocs(
    `${ROOT}/${path}`,
    Array.from({ length: 400 }, (_, i) => ({ id: `d${i}`, text: doc(), meta: {} })),
  );
  return path;
}

Deno.test({
  name: "deno task filter on a full disk: one line naming the path, exit 2, nothing half-written",
  ignore: !CAN_MOUNT,
  fn: async () => {
    const rel = `runs/test-tmp/full-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.mkdir(`${ROOT}/${rel}`, { recursive: true });
    const input = await corpus(rel);
    const disk = `${ROOT}/${rel}/disk`;
    assert.ok(await mount(disk, "size=48k"));
    try {
      const steps = `${rel}/steps.yaml`;
      await Deno.writeTextFile(`${ROOT}/${steps}`, "steps:\n  - normalize: {}\n");
      const r = await runTask([
        "filter",
        "run",
        "--quiet",
        "--config",
        steps,
        "--input",
        input,
        "--output",
        `${rel}/disk/out`,
      ]);
      const lines = taskStderrLines(r.stderr);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], new RegExp(`^error: ${rel}/disk/out/.*: no space left on the device`));
      console.log(`  ${lines[0]}`);
      const left = await files(disk);
      assert.ok(!left.some((f) => f.endsWith(".tmp")), `temporary files left: ${left}`);
      assert.ok(!left.some((f) => /kept\/part-/.test(f)), `a half-written shard: ${left}`);
    } finally {
      await umount(disk);
      await Deno.remove(`${ROOT}/${rel}`, { recursive: true });
    }
  },
});

Deno.test({
  name: "deno task filter and train tokenize on a read-only disk: one line naming the path",
  ignore: !CAN_MOUNT,
  fn: async () => {
    const rel = `runs/test-tmp/ro-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.mkdir(`${ROOT}/${rel}`, { recursive: true });
    const input = await corpus(rel);
    const disk = `${ROOT}/${rel}/ro`;
    assert.ok(await mount(disk, "ro,size=16k"));
    try {
      await Deno.writeTextFile(
        `${ROOT}/${rel}/tokenizer.json`,
        JSON.stringify((await import("../lib/train/tokenizer.ts")).byteLevelTokenizerJson()),
      );
      for (
        const args of [
          ["filter", "run", "--quiet", "--input", input, "--output", `${rel}/ro/out`],
          [
            "train",
            "tokenize",
            "--quiet",
            "--tokenizer",
            `${rel}/tokenizer.json`,
            "--output",
            `${rel}/ro/all.tok`,
            input,
          ],
        ]
      ) {
        const r = await runTask(args);
        const lines = taskStderrLines(r.stderr);
        assert.equal(r.code, 2, r.stderr);
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0], new RegExp(`^error: ${rel}/ro/.*: the file system is read-only`));
      }
    } finally {
      await umount(disk);
      await Deno.remove(`${ROOT}/${rel}`, { recursive: true });
    }
  },
});
