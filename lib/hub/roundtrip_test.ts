import assert from "node:assert/strict";
import { MockHub } from "./mock_hub.ts";
import { findPython } from "./mock_hub_trace.ts";
import { pushFolder } from "./push.ts";
import { pullRepo } from "./pull.ts";
import { retryingFetch } from "./http.ts";
import { saveTinyLlama } from "../posttrain/testing.ts";
import { loadModel } from "../model/hf_folder.ts";
import { createLlama } from "../model/backend.ts";
import { compareToGolden, f32Tolerance } from "../model/golden.ts";

const TOKEN = "hf_JikjiRoundTrip_" + crypto.randomUUID().replaceAll("-", "");
const SCRIPT = new URL("./python/roundtrip_logits.py", import.meta.url).pathname;
const TOKENS = [5, 17, 200, 3, 99, 42, 7, 259];

// the real client downloads where huggingface_hub is installed; else Jikji's pull does
const withHubClient = await findPython(["huggingface_hub", "torch"]);
const withTorch = withHubClient ?? await findPython(["torch"]);

Deno.test({
  name: withHubClient
    ? "a checkpoint pushed by Jikji, downloaded with huggingface_hub's snapshot_download, gives Jikji's logits in PyTorch"
    : "a checkpoint pushed by Jikji and pulled back gives Jikji's logits in PyTorch (huggingface_hub not installed)",
  ignore: !withTorch,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "jikji-roundtrip-" });
    const work = await Deno.makeTempDir({ prefix: "jikji-roundtrip-dl-" });
    const hub = await MockHub.start(TOKEN);
    try {
      await saveTinyLlama(`${dir}/ckpt`, { seed: 11, std: 0.2 });
      const token = { token: TOKEN, source: "HF_TOKEN" };
      const fetch = retryingFetch({ baseDelayMs: 10 });
      await pushFolder({
        folder: `${dir}/ckpt`,
        repo: "jikji/tiny-llama",
        type: "model",
        token,
        endpoint: hub.url,
        fetch,
      });
      let args: string[];
      if (withHubClient) args = ["--repo", "jikji/tiny-llama", "--work", work];
      else {
        await pullRepo({
          repo: "jikji/tiny-llama",
          type: "model",
          to: `${work}/pulled`,
          token,
          endpoint: hub.url,
          fetch,
        });
        args = ["--folder", `${work}/pulled`];
      }
      const out = await new Deno.Command(withTorch!.python, {
        args: [SCRIPT, ...args, "--tokens", TOKENS.join(",")],
        env: {
          HF_ENDPOINT: hub.url,
          HF_TOKEN: TOKEN,
          HF_HOME: `${work}/home`,
          HF_HUB_DISABLE_XET: "1",
          HF_HUB_DISABLE_TELEMETRY: "1",
          HF_HUB_DISABLE_PROGRESS_BARS: "1",
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      assert.ok(out.success, err.split("\n").slice(-15).join("\n"));
      const py = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.equal(py.download, withHubClient ? "huggingface_hub.snapshot_download" : "folder");
      for (const f of ["README.md", "config.json", "model.safetensors", "tokenizer.json"]) {
        assert.ok(py.files.includes(f), `${f} missing from ${py.files}`);
      }
      // the snapshot went through the CDN redirect for the LFS weights, with no token there
      const cdn = hub.requests.filter((q) => q.origin === "cdn" && q.method === "GET");
      assert.ok(cdn.length >= 1 && cdn.every((q) => !q.auth));

      const { cfg, params } = await loadModel(`${dir}/ckpt`);
      const model = await createLlama(cfg, params, { device: "cpu" });
      const logits = await model.logits(
        await model.forward({ B: 1, T: TOKENS.length, tokens: TOKENS }),
      );
      model.destroy();
      const want = (py.logits as number[][]).flat();
      const c = compareToGolden("logits", logits, want, f32Tolerance(want, 128));
      assert.ok(c.ok, c.report);
      if (Deno.env.get("GOLDEN_VERBOSE")) console.log(c.report);
      if (py.transformers.logits) {
        const hf = (py.transformers.logits as number[][]).flat();
        const t = compareToGolden("transformers logits", logits, hf, f32Tolerance(hf, 512));
        assert.ok(t.ok, t.report);
      } else {
        console.error(
          `roundtrip_test: transformers did not load the model here (${py.transformers.error}); tokenizer: ${py.transformers.tokenizer}`,
        );
      }
    } finally {
      await hub.close();
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(work, { recursive: true });
    }
  },
});
if (!withTorch) {
  console.error(
    "roundtrip_test: no python with torch: the push → Python load round trip is skipped",
  );
}
