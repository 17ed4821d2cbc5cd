/**
 * Obtains Jikji's WebGPU device: asks the adapter for its own limits (WebGPU's defaults are far
 * smaller, e.g. 128 MiB bindings) and for the optional features Jikji uses when present
 * (`shader-f16`, `timestamp-query`). Everything else in Jikji reaches the GPU through the layer
 * built on this module, never through `navigator.gpu` directly.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";

/** Optional features Jikji uses when the adapter has them. */
export const OPTIONAL_FEATURES: readonly GPUFeatureName[] = ["shader-f16", "timestamp-query"];

/** Subgroup operations in WGSL (`subgroupAdd`, `subgroup_size`), asked for even when unlisted. */
export const SUBGROUPS = "subgroups" as GPUFeatureName;

const WANTED: readonly GPUFeatureName[] = [...OPTIONAL_FEATURES, SUBGROUPS];

/** The fix printed when no adapter exists. */
export const NO_GPU_FIX =
  "no WebGPU adapter found; on Linux without a GPU install Mesa's software Vulkan driver: " +
  "apt-get install -y mesa-vulkan-drivers";

/** A device with what Jikji needs to know about it. */
export interface Gpu {
  device: GPUDevice;
  adapter: GPUAdapter;
  /** e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** True for software adapters (llvmpipe). */
  isFallback: boolean;
  /** Optional features that were enabled (`subgroups` when the device was granted it). */
  features: Set<string>;
  limits: GPUSupportedLimits;
}

/** Options of {@linkcode requestGpu}. */
export interface GpuOptions {
  powerPreference?: GPUPowerPreference;
  /**
   * Folder for `XDG_RUNTIME_DIR` when unset (wgpu prints errors without it); default: a private
   * temporary folder.
   */
  runtimeDir?: string;
}

let _cached: Promise<Gpu> | undefined;

/**
 * Returns the shared GPU device, creating it on first use. Throws a one-line
 * {@linkcode UserError} naming the fix when no adapter exists.
 */
export function requestGpu(options: GpuOptions = {}): Promise<Gpu> {
  _cached ??= _create(options).catch((err) => {
    _cached = undefined;
    throw err;
  });
  return _cached;
}

/** Describes the adapter for run manifests, or says why there is none. Never throws. */
export async function describeAdapter(): Promise<
  { description: string; vendor: string; fallback: boolean; features: string[] } | { error: string }
> {
  try {
    const gpu = await requestGpu();
    return {
      description: gpu.description,
      vendor: gpu.adapter.info.vendor,
      fallback: gpu.isFallback,
      features: [...gpu.features].sort(),
    };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Sets `XDG_RUNTIME_DIR` to a private folder when it is unset or missing. */
export function ensureRuntimeDir(fallback?: string): void {
  let current: string | undefined;
  try {
    current = Deno.env.get("XDG_RUNTIME_DIR");
  } catch {
    return; // no env permission: wgpu only prints a warning then
  }
  if (current) {
    try {
      if (Deno.statSync(current).isDirectory) return;
    } catch { /* missing: replace it */ }
  }
  // A private temporary folder; tasks that may not write there use runs/.xdg-runtime instead.
  for (
    const make of [
      () => fallback,
      () => Deno.makeTempDirSync({ prefix: "jikji-xdg-" }),
      () => "runs/.xdg-runtime",
    ]
  ) {
    try {
      const dir = make();
      if (!dir) continue;
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
      Deno.env.set("XDG_RUNTIME_DIR", Deno.realPathSync(dir));
      return;
    } catch { /* no permission to create or set it: try the next */ }
  }
}

async function _create(options: GpuOptions): Promise<Gpu> {
  ensureRuntimeDir(options.runtimeDir);
  if (!("gpu" in navigator) || !navigator.gpu) throw new UserError(NO_GPU_FIX);
  const adapter = await navigator.gpu.requestAdapter({
    powerPreference: options.powerPreference ?? "high-performance",
  });
  if (!adapter) throw new UserError(NO_GPU_FIX);
  const features = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  const limits = adapter.limits as unknown as Record<string, number>;
  for (const key in limits) {
    const v = limits[key];
    if (typeof v === "number") requiredLimits[key] = v;
  }
  // `subgroups`: Deno's WebGPU grants it (and runs subgroupAdd etc. in WGSL without an `enable`)
  // although adapters do not list it; ask for it, and go without where the device is refused
  let device: GPUDevice;
  try {
    const extra = features.includes(SUBGROUPS) ? [] : [SUBGROUPS];
    device = await adapter.requestDevice({
      requiredFeatures: [...features, ...extra],
      requiredLimits,
    });
  } catch {
    device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
  }
  device.addEventListener("uncapturederror", (ev) => {
    console.error(`webgpu error: ${(ev as GPUUncapturedErrorEvent).error.message}`);
  });
  return {
    device,
    adapter,
    description: adapter.info.description || adapter.info.vendor || "unknown adapter",
    isFallback: adapter.info.isFallbackAdapter,
    features: new Set([...device.features].filter((f) => WANTED.includes(f as GPUFeatureName))),
    limits: device.limits,
  };
}
