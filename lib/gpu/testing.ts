/**
 * GPU tests that run everywhere: `gpuTest()` registers a test that runs when a WebGPU adapter
 * exists; without one it is skipped with a loud warning — except under CI (`CI=true`), where it
 * runs and fails, so CI can never pass by skipping the GPU.
 *
 * @module
 */

import { requestGpu } from "./device.ts";

let _probe: Promise<string | null> | undefined;

/** Null when a GPU adapter is available, else the reason it is not. */
export function gpuUnavailableReason(): Promise<string | null> {
  _probe ??= requestGpu().then(() => null, (err) => (err as Error).message);
  return _probe;
}

const IN_CI = (() => {
  try {
    return Deno.env.get("CI") === "true" || Deno.env.get("CI") === "1";
  } catch {
    return false;
  }
})();

const reason = await gpuUnavailableReason();
if (reason && !IN_CI) {
  console.warn(
    `\n!!! GPU tests SKIPPED: ${reason}\n!!! (under CI=true they run and fail instead)\n`,
  );
}

/** Registers a GPU test (see the module doc for when it runs). */
export function gpuTest(name: string, fn: () => Promise<void> | void): void {
  Deno.test({ name, ignore: reason !== null && !IN_CI, fn });
}
