import assert from "node:assert/strict";
import { BackgroundPusher, type PushEvent } from "./background_push.ts";

Deno.test("BackgroundPusher.enqueue() returns at once and pushes in the background", async () => {
  const pushed: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const bp = new BackgroundPusher(async (f) => {
    await gate;
    pushed.push(f);
  });
  const t0 = performance.now();
  bp.enqueue("ckpt-1");
  assert.ok(performance.now() - t0 < 50, "enqueue must not wait for the push");
  assert.deepEqual(pushed, []);
  release();
  await bp.drain();
  assert.deepEqual(pushed, ["ckpt-1"]);
});

Deno.test("BackgroundPusher retries a failed push, then reports it without throwing", async () => {
  const events: PushEvent[] = [];
  let calls = 0;
  const bp = new BackgroundPusher(() => {
    calls++;
    return Promise.reject(new Error("503 Service Unavailable"));
  }, { attempts: 3, baseDelayMs: 5, onEvent: (e) => void events.push(e) });
  bp.enqueue("ckpt-1");
  await bp.drain();
  assert.equal(calls, 3);
  assert.deepEqual(events.map((e) => e.kind), [
    "started",
    "retrying",
    "started",
    "retrying",
    "started",
    "failed",
  ]);
  assert.equal(bp.failures.length, 1);
});

Deno.test("BackgroundPusher pushes only the newest of several waiting checkpoints", async () => {
  const pushed: string[] = [];
  const bp = new BackgroundPusher(async (f) => {
    await new Promise((r) => setTimeout(r, 20));
    pushed.push(f);
  });
  bp.enqueue("step-100");
  bp.enqueue("step-200");
  bp.enqueue("step-300");
  await bp.drain();
  assert.deepEqual(pushed, ["step-100", "step-300"]);
  assert.ok(bp.events.some((e) => e.kind === "superseded" && e.folder === "step-200"));
});

Deno.test("BackgroundPusher retries succeed on a later attempt", async () => {
  let calls = 0;
  const bp = new BackgroundPusher(
    () => (++calls < 2 ? Promise.reject(new Error("reset")) : Promise.resolve()),
    { baseDelayMs: 5 },
  );
  bp.enqueue("c");
  await bp.drain();
  assert.equal(calls, 2);
  assert.equal(bp.failures.length, 0);
  assert.equal(bp.events.at(-1)!.kind, "pushed");
});
