/**
 * Layer ops on the GPU, forward and backward: RMSNorm, RoPE (Llama 3.1 scaling), SwiGLU and the
 * token embedding (gather, deterministic scatter-add gradient). All f32; each validates shapes
 * before dispatching. References: lib/ops/ref/nn.ts.
 *
 * Shapes: N tokens (B·T), C channels, H heads, D head dim, V vocabulary.
 *
 * @module
 */

import { type Binding, type GpuRuntime, GpuUsageError, grid1d } from "../gpu/runtime.ts";
import { empty, expectTensor, fromArray, Tensor } from "../gpu/tensor.ts";
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
 * backward (dx = rope⁻¹(dy)). Positions must be below the table's `maxPos` (the kernel clamps; make
 * the table for the longest sequence — packed documents restart positions, so that is the context).
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

/** Rows per block so that a block of a (V, C) f32 table fits one binding (all rows when it fits). */
function _tableBlock(rt: GpuRuntime, v: number, c: number, bindingLimit?: number): number {
  const limit = Math.min(bindingLimit ?? rt.maxBinding, rt.maxBinding);
  if (v * c * 4 <= limit) return v;
  const rows = Math.floor(limit / (c * 4) / 64) * 64; // 64 rows keep block starts 256-byte aligned
  if (rows < 64) throw new GpuUsageError(`embedding: a row of ${c} floats is too wide to bind`);
  return rows;
}

function _tableView(t: Tensor, v0: number, vb: number, c: number): Binding {
  return { buffer: t.buffer, offset: v0 * c * 4, size: vb * c * 4 };
}

/**
 * Embedding gather: table (V, C), ids (N) → (N, C). Ids given as numbers are checked to lie in
 * 0…V-1 and uploaded; ids already on the GPU (u32 tensor) cannot be checked and are clamped to
 * V-1. Tables larger than one binding are read in row blocks (`bindingLimit` forces that in tests).
 */
export function embedding(
  rt: GpuRuntime,
  table: Tensor,
  idsIn: Tensor | ArrayLike<number>,
  opts: { bindingLimit?: number } = {},
): Tensor {
  expectTensor("embedding table", table, "f32", [undefined, undefined]);
  const [v, c] = table.shape;
  let ids: Tensor;
  let owned = false;
  if (idsIn instanceof Tensor) {
    ids = idsIn;
    expectTensor("embedding ids", ids, ["u32", "i32"], [undefined]);
  } else {
    for (let i = 0; i < idsIn.length; i++) {
      const id = idsIn[i];
      if (!(Number.isInteger(id) && id >= 0 && id < v)) {
        throw new GpuUsageError(`embedding: token id ${id} at ${i} outside 0…${v - 1}`);
      }
    }
    ids = fromArray(rt, idsIn, [idsIn.length], "u32");
    owned = true;
  }
  const n = ids.shape[0];
  const out = empty(rt, [n, c]);
  const vb = _tableBlock(rt, v, c, opts.bindingLimit);
  for (let v0 = 0; v0 < v; v0 += vb) {
    const rows = Math.min(vb, v - v0);
    const p = rt.uniform(new Uint32Array([n, c, v, v0, rows, 0, 0, 0]));
    rt.dispatch(
      rt.kernel("embedding", "gather"),
      [_tableView(table, v0, rows, c), out.buffer, ids.buffer, p],
      grid1d(n * c, 256),
    );
  }
  if (owned) rt.release(ids.buffer); // later dispatches run after this one
  return out;
}

/**
 * Embedding backward: adds dout (N, C) rows into dtable (V, C) by token id, deterministically
 * (tokens grouped by id on the CPU from `ids`, the same ids the forward used); tables larger than
 * one binding are updated in row blocks.
 */
export function embeddingBackward(
  rt: GpuRuntime,
  dout: Tensor,
  ids: ArrayLike<number>,
  dtable: Tensor,
  opts: { bindingLimit?: number } = {},
): void {
  expectTensor("embeddingBackward dtable", dtable, "f32", [undefined, undefined]);
  const [v, c] = dtable.shape;
  expectTensor("embeddingBackward dout", dout, "f32", [ids.length, c]);
  for (const id of Array.from(ids)) {
    if (!(id >= 0 && id < v)) {
      throw new GpuUsageError(`embeddingBackward: id ${id} outside 0…${v - 1}`);
    }
  }
  const order = Array.from({ length: ids.length }, (_, i) => i);
  order.sort((a, b) => ids[a] - ids[b] || a - b);
  const vb = _tableBlock(rt, v, c, opts.bindingLimit);
  const bo = rt.upload(Uint32Array.from(order.length ? order : [0]));
  let j = 0;
  for (let v0 = 0; v0 < v && j < order.length; v0 += vb) {
    const rows = Math.min(vb, v - v0);
    const uniq: number[] = [], start: number[] = [];
    while (j < order.length && ids[order[j]] < v0 + rows) {
      if (uniq.length === 0 || ids[order[j]] !== uniq[uniq.length - 1]) {
        uniq.push(ids[order[j]]);
        start.push(j);
      }
      j++;
    }
    if (uniq.length === 0) continue;
    start.push(j);
    const bu = rt.upload(Uint32Array.from(uniq)), bs = rt.upload(Uint32Array.from(start));
    const p = rt.uniform(new Uint32Array([uniq.length, c, v, v0, rows, 0, 0, 0]));
    rt.dispatch(
      rt.kernel("embedding", "scatter_add"),
      [dout.buffer, _tableView(dtable, v0, rows, c), bu, p, bs, bo],
      grid1d(uniq.length, 1),
    );
    rt.release(bu);
    rt.release(bs);
  }
  rt.release(bo);
}

function _params(rt: GpuRuntime, u: number[], f: number[], u2: number[]): GPUBuffer {
  const a = new Uint32Array(4);
  a.set(u);
  new Float32Array(a.buffer).set(f, u.length);
  a.set(u2, u.length + f.length);
  return rt.uniform(a);
}
