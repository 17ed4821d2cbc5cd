import assert from "node:assert/strict";
import { CheckpointPusher } from "./hub_push.ts";
import { MockHub } from "../hub/mock_hub.ts";
import { retryingFetch } from "../hub/http.ts";
import { UserError } from "../io/errors.ts";

const TOKEN = "hf_TrainPushToken_" + crypto.randomUUID().slice(0, 8);

async function fakeCheckpoint(root: string, step: number): Promise<string> {
  const dir = `${root}/checkpoints/step-${String(step).padStart(7, "0")}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ step }));
  await Deno.writeFile(`${dir}/model.safetensors`, new Uint8Array(64).fill(step % 256));
  await Deno.writeFile(`${dir}/optimizer.safetensors`, new Uint8Array(64));
  await Deno.writeTextFile(`${dir}/trainer_state.json`, "{}");
  return dir;
}

Deno.test("CheckpointPusher pushes due checkpoints and the final model, without optimizer state", async () => {
  const hub = await MockHub.start(TOKEN);
  try {
    const root = await Deno.makeTempDir();
    const logs: string[] = [];
    const p = await CheckpointPusher.create({
      repo: "jikji/run",
      every: 100,
      stagingDir: `${root}/push-staging`,
      log: (m) => void logs.push(m),
      token: { token: TOKEN, source: "HF_TOKEN" },
      endpoint: hub.url,
      fetch: retryingFetch({ baseDelayMs: 5 }),
    });
    await p.onCheckpoint(await fakeCheckpoint(root, 50), 50); // not due
    const c100 = await fakeCheckpoint(root, 100);
    await p.onCheckpoint(c100, 100);
    await Deno.remove(c100, { recursive: true }); // pruning never disturbs a queued push
    const failures = await p.finish(await fakeCheckpoint(root, 200));
    assert.deepEqual(failures, []);
    const files = hub.files("jikji/run");
    assert.ok(files.has("model.safetensors") && files.has("config.json") && files.has("README.md"));
    assert.ok(!files.has("optimizer.safetensors") && !files.has("trainer_state.json"));
    assert.equal(JSON.parse(new TextDecoder().decode(files.get("config.json"))).step, 200);
    assert.ok(
      logs.some((l) => l.startsWith("push step-0000100 → jikji/run: done")),
      logs.join("\n"),
    );
    assert.ok(logs.some((l) => l.startsWith("push final → jikji/run: done")));
    assert.deepEqual(
      [...Deno.readDirSync(`${root}/push-staging`)],
      [],
      "staged copies are removed",
    );
  } finally {
    await hub.close();
  }
});

Deno.test("CheckpointPusher reports a failing push and never throws into training", async () => {
  const hub = await MockHub.start(TOKEN);
  try {
    const root = await Deno.makeTempDir();
    const logs: string[] = [];
    const p = await CheckpointPusher.create({
      repo: "jikji/run",
      every: 1,
      stagingDir: `${root}/push-staging`,
      log: (m) => void logs.push(m),
      token: { token: "hf_not_the_right_token", source: "HF_TOKEN" },
      endpoint: hub.url,
      fetch: retryingFetch({ attempts: 1 }),
      baseDelayMs: 5,
    });
    await p.onCheckpoint(await fakeCheckpoint(root, 1), 1);
    const failures = await p.finish(await fakeCheckpoint(root, 2));
    assert.ok(failures.length >= 1);
    assert.ok(logs.some((l) => /gave up: .*401 Unauthorized/.test(l)), logs.join("\n"));
    assert.ok(logs.every((l) => !l.includes(TOKEN)));
  } finally {
    await hub.close();
  }
});

Deno.test("CheckpointPusher.create() refuses a missing token before training starts", async () => {
  await assert.rejects(
    CheckpointPusher.create({ repo: "a/b", every: 1, stagingDir: "x", log: () => {}, token: null }),
    (e: Error) => e instanceof UserError && /--push-to needs a Hub token/.test(e.message),
  );
});
