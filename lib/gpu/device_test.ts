import assert from "node:assert/strict";
import { NO_GPU_FIX, requestGpu, SUBGROUPS } from "./device.ts";
import { gpuTest } from "./testing.ts";

gpuTest(
  "requestGpu() asks for the adapter's own limits and the optional features it has",
  async () => {
    const gpu = await requestGpu();
    assert.equal(
      gpu.limits.maxStorageBufferBindingSize,
      gpu.adapter.limits.maxStorageBufferBindingSize,
    );
    assert.equal(
      gpu.limits.maxComputeWorkgroupStorageSize,
      gpu.adapter.limits.maxComputeWorkgroupStorageSize,
    );
    for (const f of ["shader-f16", "timestamp-query"] as GPUFeatureName[]) {
      assert.equal(gpu.features.has(f), gpu.adapter.features.has(f));
      assert.equal(gpu.device.features.has(f), gpu.adapter.features.has(f));
    }
    // asked for although adapters do not list it: granted on llvmpipe by Deno's WebGPU
    assert.equal(gpu.features.has("subgroups"), gpu.device.features.has(SUBGROUPS));
    assert.ok(gpu.description.length > 0);
    assert.equal(await requestGpu(), gpu, "the device is shared");
  },
);

Deno.test("the no-adapter error names the fix in one line", () => {
  assert.ok(!NO_GPU_FIX.includes("\n"));
  assert.match(NO_GPU_FIX, /apt-get install -y mesa-vulkan-drivers/);
});

Deno.test("a process with no WebGPU adapter fails with the one-line fix", async () => {
  // The child process sees no adapter (as on a machine without a Vulkan driver).
  const code = `
    Object.defineProperty(navigator.gpu, "requestAdapter", { value: async () => null });
    import { requestGpu } from ${JSON.stringify(new URL("./device.ts", import.meta.url).href)};
    import { runMain } from ${JSON.stringify(new URL("../cli/main.ts", import.meta.url).href)};
    await runMain(async () => { await requestGpu(); });`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr).trim().split("\n").filter((l) =>
    !/XDG_RUNTIME_DIR/.test(l)
  );
  assert.equal(out.code, 2, stderr.join("\n"));
  assert.deepEqual(stderr, [`error: ${NO_GPU_FIX}`]);
});
