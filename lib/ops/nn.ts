/**
 * Layer ops on the GPU, forward and backward: RMSNorm, RoPE (Llama 3.1 scaling), SwiGLU and the
 * token embedding (gather, deterministic scatter-add gradient). All f32; each validates shapes
 * before dispatching. References: lib/ops/ref/nn.ts.
 *
 * Shapes: N tokens (B·T), C channels, H heads, D head dim, V vocabulary.
 *
 * @module
 */

import { type GpuRuntime, GpuUsageError, grid1d } from "../gpu/runtime.ts";
import { empty, expectTensor, fromArray, type Tensor } from "../gpu/tensor.ts";
import { ropeInvFreq, type RopeScaling, ropeTable } from "./ref/nn.ts";

function rowsGrid(rows: number): [number, number] {
  return grid1d(rows, 1);
}

/** RMSNorm forward: x (N, C), w (C) → y (N, C) and rstd (N) for the backward. */
export function rmsnorm(
  rt: GpuRuntime,
  x: Tensor,
  w: Tensor,
  eps = 1e-5,
): { y: Tensor; rstd: Tensor } {
  expectTensor("rmsnorm x", x, "f32", [undefined, w.shape[0]]);
  expectTensor("rmsnorm w", w, "f32", [undefined]);
  const [n, c] = x.shape;
  const y = empty(rt, [n, c]), rstd = empty(rt, [n]);
  const p = _params(rt, [n, c], [eps], [0]);
  rt.dispatch(
    rt.kernel("rmsnorm", "forward"),
    [x.buffer, w.buffer, y.buffer, rstd.buffer, p],
    rowsGrid(n),
  );
  return { y, rstd };
}

/**
 * RMSNorm backward: dx (N, C), and dw (C) — added into `dwAccum` when given (gradient
 * accumulation across micro-batches), else new.
 */
export function rmsnormBackward(
  rt: GpuRuntime,
  dy: Tensor,
  x: Tensor,
  w: Tensor,
  rstd: Tensor,
  dwAccum?: Tensor,
): { dx: Tensor; dw: Tensor } {
  expectTensor("rmsnormBackward x", x, "f32", [undefined, w.shape[0]]);
  expectTensor("rmsnormBackward dy", dy, "f32", x.shape);
  expectTensor("rmsnormBackward rstd", rstd, "f32", [x.shape[0]]);
  if (dwAccum) expectTensor("rmsnormBackward dwAccum", dwAccum, "f32", w.shape);
  const [n, c] = x.shape;
  const dx = empty(rt, [n, c]);
  const dw = dwAccum ?? empty(rt, [c]);
  const p = _params(rt, [n, c], [0], [dwAccum ? 1 : 0]);
  const binds = [x.buffer, w.buffer, dx.buffer, rstd.buffer, p, dy.buffer];
  rt.dispatch(rt.kernel("rmsnorm", "backward_dx"), binds, rowsGrid(n));
  const bdw = [x.buffer, undefined, dw.buffer, rstd.buffer, p, dy.buffer];
  rt.dispatch(rt.kernel("rmsnorm", "backward_dw"), bdw, [Math.ceil(c / 256)]);
  return { dx, dw };
}

/** A rope table on the GPU (cos, sin per position and frequency). */
export interface RopeTable {
  table: Tensor;
  maxPos: number;
  headDim: number;
}

/**
 * Builds the rope table for `maxPos` positions and head dim `headDim` with base `theta`
 * (Llama 3.1: 500000) and optional Llama 3.1 scaling (`LLAMA31_ROPE_SCALING`).
 */
export function makeRopeTable(
  rt: GpuRuntime,
  maxPos: number,
  headDim: number,
  theta: number,
  scaling?: RopeScaling,
): RopeTable {
  if (headDim % 2 !== 0) throw new GpuUsageError(`rope: head dim ${headDim} must be even`);
  const t = ropeTable(maxPos, ropeInvFreq(headDim, theta, scaling));
  return { table: fromArray(rt, t, [maxPos, headDim / 2, 2]), maxPos, headDim };
}

/**
 * Applies RoPE to x (N, H, D) at positions `pos` (N, u32); `inverse` rotates back, which is the
 * backward (dx = rope⁻¹(dy)).
 */
export function rope(
  rt: GpuRuntime,
  x: Tensor,
  pos: Tensor,
  table: RopeTable,
  inverse = false,
): Tensor {
  expectTensor("rope x", x, "f32", [undefined, undefined, table.headDim]);
  expectTensor("rope pos", pos, ["u32", "i32"], [x.shape[0]]);
  const [n, h, d] = x.shape;
  const out = empty(rt, x.shape);
  const p = rt.uniform(new Uint32Array([n, h, d, table.maxPos]));
  rt.dispatch(
    rt.kernel("rope", "main", { DIR: inverse ? -1 : 1 }),
    [x.buffer, out.buffer, pos.buffer, table.table.buffer, p],
    grid1d((n * h * d) / 2, 256),
  );
  return out;
}

/** SwiGLU forward: h = silu(g)·u, same shapes. */
export function swiglu(rt: GpuRuntime, g: Tensor, u: Tensor): Tensor {
  expectTensor("swiglu g", g, "f32");
  expectTensor("swiglu u", u, "f32", g.shape);
  const h = empty(rt, g.shape);
  const p = rt.uniform(new Uint32Array([g.size, 0, 0, 0]));
  rt.dispatch(
    rt.kernel("swiglu", "forward"),
    [g.buffer, u.buffer, h.buffer, p],
    grid1d(g.size, 256),
  );
  return h;
}

/** SwiGLU backward: dg, du from dh. */
export function swigluBackward(
  rt: GpuRuntime,
  dh: Tensor,
  g: Tensor,
  u: Tensor,
): { dg: Tensor; du: Tensor } {
  expectTensor("swigluBackward g", g, "f32");
  expectTensor("swigluBackward u", u, "f32", g.shape);
  expectTensor("swigluBackward dh", dh, "f32", g.shape);
  const dg = empty(rt, g.shape), du = empty(rt, g.shape);
  const p = rt.uniform(new Uint32Array([g.size, 0, 0, 0]));
  rt.dispatch(
    rt.kernel("swiglu", "backward"),
    [g.buffer, u.buffer, dg.buffer, p, dh.buffer, du.buffer],
    grid1d(g.size, 256),
  );
  return { dg, du };
}

/** Embedding gather: table (V, C), ids (N) u32 → (N, C). Ids ≥ V are clamped to V-1. */
export function embedding(rt: GpuRuntime, table: Tensor, ids: Tensor): Tensor {
  expectTensor("embedding table", table, "f32", [undefined, undefined]);
  expectTensor("embedding ids", ids, ["u32", "i32"], [undefined]);
  const [v, c] = table.shape;
  const n = ids.shape[0];
  const out = empty(rt, [n, c]);
  const p = rt.uniform(new Uint32Array([n, c, v, 0]));
  rt.dispatch(
    rt.kernel("embedding", "gather"),
    [table.buffer, out.buffer, ids.buffer, p],
    grid1d(n * c, 256),
  );
  return out;
}

/**
 * Embedding backward: adds dout (N, C) rows into dtable (V, C) by token id, deterministically
 * (tokens grouped by id on the CPU from `ids`, the same ids the forward used).
 */
export function embeddingBackward(
  rt: GpuRuntime,
  dout: Tensor,
  ids: ArrayLike<number>,
  dtable: Tensor,
): void {
  expectTensor("embeddingBackward dtable", dtable, "f32", [undefined, undefined]);
  const [v, c] = dtable.shape;
  expectTensor("embeddingBackward dout", dout, "f32", [ids.length, c]);
  const order = Array.from({ length: ids.length }, (_, i) => i);
  for (const id of Array.from(ids)) {
    if (!(id >= 0 && id < v)) {
      throw new GpuUsageError(`embeddingBackward: id ${id} outside 0…${v - 1}`);
    }
  }
  order.sort((a, b) => ids[a] - ids[b] || a - b);
  const uniq: number[] = [], start: number[] = [];
  order.forEach((t, j) => {
    if (j === 0 || ids[t] !== ids[order[j - 1]]) {
      uniq.push(ids[t]);
      start.push(j);
    }
  });
  start.push(order.length);
  if (uniq.length === 0) return;
  const bu = rt.upload(Uint32Array.from(uniq)), bs = rt.upload(Uint32Array.from(start));
  const bo = rt.upload(Uint32Array.from(order));
  const p = rt.uniform(new Uint32Array([uniq.length, c, v, 0]));
  rt.dispatch(
    rt.kernel("embedding", "scatter_add"),
    [dout.buffer, dtable.buffer, bu, p, bs, bo],
    grid1d(uniq.length, 1),
  );
  for (const b of [bu, bs, bo]) rt.release(b);
}

function _params(rt: GpuRuntime, u: number[], f: number[], u2: number[]): GPUBuffer {
  const a = new Uint32Array(4);
  a.set(u);
  new Float32Array(a.buffer).set(f, u.length);
  a.set(u2, u.length + f.length);
  return rt.uniform(a);
}
