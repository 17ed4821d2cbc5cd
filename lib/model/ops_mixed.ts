/**
 * The per-op debug switch (llm.c's habit of checking one kernel at a time inside the whole model):
 * GPU ops except the named ones, which read their GPU operands back, run on the TypeScript
 * reference and upload their results (and the tensors they update in place). Slow; for debugging.
 *
 * @module
 */

import { Tensor } from "../gpu/tensor.ts";
import { HostTensor } from "./ops_cpu.ts";
import type { OpName, Ops } from "./ops.ts";

/** Which op each method belongs to, and which of its arguments it updates in place. */
const METHODS: Record<string, { op: OpName; mutates: (args: unknown[]) => unknown[] }> = {
  matmul: { op: "matmul", mutates: (a) => [(a[2] as { out?: unknown } | undefined)?.out] },
  toBf16: { op: "cast", mutates: () => [] },
  fromBf16: { op: "cast", mutates: () => [] },
  rmsnorm: { op: "rmsnorm", mutates: () => [] },
  rmsnormBackward: { op: "rmsnorm", mutates: (a) => [a[4]] },
  rope: { op: "rope", mutates: () => [] },
  swiglu: { op: "swiglu", mutates: () => [] },
  swigluBackward: { op: "swiglu", mutates: () => [] },
  attention: { op: "attention", mutates: () => [] },
  attentionBackward: { op: "attention", mutates: () => [] },
  attentionDecode: { op: "attention", mutates: () => [] },
  embedding: { op: "embedding", mutates: () => [] },
  embeddingBackward: { op: "embedding", mutates: (a) => [a[2]] },
  add: { op: "add", mutates: () => [] },
  addInto: { op: "add", mutates: (a) => [a[0]] },
  head: { op: "head", mutates: (a) => [(a[3] as { dwAccum?: unknown }).dwAccum] },
};

/** GPU ops with the ops in `refOps` run on the CPU reference. */
export function mixedOps(
  gpu: Ops<Tensor>,
  cpu: Ops<HostTensor>,
  refOps: readonly OpName[],
): Ops<Tensor> {
  const chosen = new Set(refOps);
  const out = { ...gpu, name: `gpu (reference: ${[...chosen].join(", ")})` } as Ops<Tensor>;
  const toHost = async (x: unknown, seen: Map<Tensor, HostTensor>): Promise<unknown> => {
    if (x instanceof Tensor) {
      let h = seen.get(x);
      if (!h) {
        h = new HostTensor(await gpu.read(x), x.shape, gpu.dtype(x));
        seen.set(x, h);
      }
      return h;
    }
    if (Array.isArray(x)) return await Promise.all(x.map((y) => toHost(y, seen)));
    if (x && typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype) {
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(x)) o[k] = await toHost(v, seen);
      return o;
    }
    return x;
  };
  const toGpu = async (x: unknown): Promise<unknown> => {
    if (x instanceof HostTensor) {
      if (x.dtype === "bf16") {
        const f = gpu.upload(x.data, x.shape);
        const b = await gpu.toBf16(f);
        gpu.free(f);
        return b;
      }
      const dt = x.dtype === "i32" || x.dtype === "u32" ? x.dtype : "f32";
      return gpu.upload(x.data, x.shape, dt);
    }
    if (Array.isArray(x)) return await Promise.all(x.map(toGpu));
    if (x && typeof x === "object") {
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(x)) o[k] = await toGpu(v);
      return o;
    }
    return x;
  };
  const rec = out as unknown as Record<string, unknown>;
  for (const [method, { op, mutates }] of Object.entries(METHODS)) {
    if (!chosen.has(op)) continue;
    rec[method] = async (...args: unknown[]) => {
      const seen = new Map<Tensor, HostTensor>();
      const hostArgs = await toHost(args, seen) as unknown[];
      const fn = (cpu as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
      const r = await fn(...hostArgs);
      for (const t of mutates(args)) {
        if (t instanceof Tensor) gpu.write(t, seen.get(t)!.data as Float32Array);
      }
      return await toGpu(r);
    };
  }
  if (chosen.has("rope")) {
    rec.ropeTable = (...a: Parameters<Ops<Tensor>["ropeTable"]>) => ({
      gpu: gpu.ropeTable(...a),
      cpu: cpu.ropeTable(...a),
    });
    const ropeCpu = rec.rope as (...a: unknown[]) => Promise<Tensor>;
    rec.rope = (x: Tensor, pos: Tensor, table: { cpu: unknown }, inverse?: boolean) =>
      ropeCpu(x, pos, table.cpu, inverse);
  }
  return out;
}
