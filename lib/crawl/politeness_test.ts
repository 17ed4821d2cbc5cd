import assert from "node:assert/strict";
import { HostGate } from "./politeness.ts";

Deno.test("HostGate.acquire() spaces a host's requests from the end of the previous one", async () => {
  const gate = new HostGate(40);
  const starts: number[] = [];
  const ends: number[] = [];
  await Promise.all([0, 1, 2].map(async () => {
    const release = await gate.acquire("h");
    starts.push(performance.now());
    await new Promise((r) => setTimeout(r, 10));
    ends.push(performance.now());
    release();
  }));
  for (let i = 1; i < 3; i++) {
    assert.ok(starts[i] - ends[i - 1] >= 39.5, `gap ${starts[i] - ends[i - 1]} ms`);
  }
  // another host is not held up
  const t0 = performance.now();
  (await gate.acquire("other"))();
  assert.ok(performance.now() - t0 < 30);
});

Deno.test("HostGate honours holdFor() and setDelay() and reports readiness", async () => {
  const gate = new HostGate(0);
  assert.ok(Number.isFinite(gate.readyAt("h")));
  gate.holdFor("h", 60);
  const t0 = performance.now();
  const release = await gate.acquire("h");
  assert.ok(performance.now() - t0 >= 59);
  assert.equal(gate.readyAt("h"), Infinity); // at its concurrency limit
  release();
  gate.setDelay("h", 25);
  assert.equal(gate.delayOf("h"), 25);
  gate.setDelay("h", -5);
  assert.equal(gate.delayOf("h"), 0, "never below the default");
});
