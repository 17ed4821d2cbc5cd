import assert from "node:assert/strict";
import { formatBytes, formatDuration, Progress } from "./progress.ts";

function fakeClock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

Deno.test("Progress in plain mode prints a line every interval with rate and ETA", () => {
  const out: string[] = [];
  const clock = fakeClock();
  const p = new Progress({
    label: "docs",
    total: 100,
    unit: "docs",
    mode: "plain",
    plainInterval: 5,
    write: (t) => void out.push(t),
    now: clock.now,
  });
  for (let i = 0; i < 50; i++) {
    clock.advance(200);
    p.tick();
  }
  p.done();
  assert.equal(out.length, 3); // at the first tick, 5 s later, and done
  assert.ok(out.every((l) => l.endsWith("\n") && !l.includes("\r")));
  assert.equal(
    out[1],
    "docs  [######..................] 26.0%  26 docs/100 docs  5 docs/s  ETA 14.8s\n",
  );
  assert.match(out[2], /50\.0%/);
});

Deno.test("Progress in tty mode redraws one line and quiet mode prints nothing", () => {
  const out: string[] = [];
  const clock = fakeClock();
  const p = new Progress({
    label: "x",
    unit: "bytes",
    mode: "tty",
    write: (t) => void out.push(t),
    now: clock.now,
  });
  clock.advance(1000);
  p.tick(2_500_000);
  p.done();
  assert.ok(out[0].startsWith("\r\x1b[2K"));
  assert.match(out[0], /2\.5 MB {2}2\.5 MB\/s/);
  assert.ok(out.at(-1)!.endsWith("\n"));
  const quiet: string[] = [];
  const q = new Progress({ label: "x", mode: "quiet", write: (t) => void quiet.push(t) });
  q.tick();
  q.done();
  assert.deepEqual(quiet, []);
});

Deno.test("formatBytes() and formatDuration() are readable", () => {
  assert.equal(formatBytes(999), "999 B");
  assert.equal(formatBytes(1_500_000), "1.5 MB");
  assert.equal(formatDuration(4.2), "4.2s");
  assert.equal(formatDuration(185), "3m05s");
  assert.equal(formatDuration(3720), "1h02m");
});
