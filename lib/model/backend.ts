/**
 * Chooses the backend a Llama runs on: `gpu` (WebGPU), `cpu` (the TypeScript references), or
 * `auto` (the GPU when an adapter answers); `refOps` sends chosen ops of a GPU run to the reference.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import type { LlamaConfig } from "./config.ts";
import { Llama } from "./llama.ts";
import { cpuOps } from "./ops_cpu.ts";
import { type OpName, type Ops, SWITCHABLE_OPS } from "./ops.ts";
import type { Params } from "./params.ts";
import { type Precision, precisionPolicy } from "./precision.ts";

/** Where to run. */
export type Device = "auto" | "gpu" | "cpu";

/** Parses `--ref-ops a,b` (one-line error naming a wrong op). */
export function parseRefOps(s: string | undefined): OpName[] {
  if (!s) return [];
  return s.split(",").filter(Boolean).map((x) => {
    if (!(SWITCHABLE_OPS as readonly string[]).includes(x)) {
      throw new UserError(`--ref-ops: "${x}" is not one of ${SWITCHABLE_OPS.join(", ")}`);
    }
    return x as OpName;
  });
}

/** The ops of a device; `auto` falls back to the CPU when no WebGPU adapter answers. */
export async function openOps(
  device: Device | string,
  refOps: readonly OpName[] = [],
): Promise<Ops<unknown>> {
  if (device !== "auto" && device !== "gpu" && device !== "cpu") {
    throw new UserError(`--device: expected auto, gpu or cpu, got ${device}`);
  }
  if (device === "cpu") {
    if (refOps.length) throw new UserError("--ref-ops needs --device gpu");
    return cpuOps() as Ops<unknown>;
  }
  const { getRuntime } = await import("../gpu/runtime.ts");
  let rt;
  try {
    rt = await getRuntime();
  } catch (err) {
    if (device === "auto" && !refOps.length) return cpuOps() as Ops<unknown>;
    throw new UserError(`--device gpu: no WebGPU adapter (${(err as Error).message})`);
  }
  const { gpuOps } = await import("./ops_gpu.ts");
  const gpu = gpuOps(rt);
  if (!refOps.length) return gpu as Ops<unknown>;
  const { mixedOps } = await import("./ops_mixed.ts");
  return mixedOps(gpu, cpuOps(), refOps) as Ops<unknown>;
}

/** A Llama with `params` on `device`. */
export async function createLlama(
  cfg: LlamaConfig,
  params: Params,
  o: {
    device?: Device | string;
    refOps?: readonly OpName[];
    precision?: Precision;
    /** Run on these ops instead (benchmarks of op variants). */
    ops?: Ops<unknown>;
  } = {},
): Promise<Llama<unknown>> {
  const ops = o.ops ?? await openOps(o.device ?? "auto", o.refOps);
  return new Llama(cfg, ops, params, o.precision ?? precisionPolicy("fp32"));
}
