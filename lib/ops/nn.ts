/**
 * Layer ops on the GPU, forward and backward: RMSNorm, RoPE (Llama 3.1 scaling), SwiGLU and the
 * token embedding (gather, deterministic scatter-add gradient). All f32; each validates shapes
 * before dispatching. References: lib/ops/ref/nn.ts.
 *
 * Shapes: N tokens (B·T), C channels, H heads, D head dim, V vocabulary, F MLP width.
 *
 * Tensors larger than one storage binding are processed in blocks, each bound as its own byte
 * range: rows (tokens, or table rows) in multiples of 64 for the row ops, chunks of a multiple of
 * 1024 elements for SwiGLU. Each op's `bindingLimit` option forces that on small tensors (tests).
 *
 * @module
 */

import { type GpuRuntime, GpuUsageError, grid1d } from "../gpu/runtime.ts";
import {
  type BindingOptions,
  elementRanges,
  elementView,
  empty,
  expectTensor,
  fromArray,
  Tensor,
} from "../gpu/tensor.ts";
import { ropeInvFreq, type RopeScaling, ropeTable } from "./ref/nn.ts";

function rowsGrid(rows: number): [number, number] {
  return grid1d(rows, 1);
}

/**
 * Row blocks [r0, count] of a (rows, width) f32 tensor whose views fit one binding: all rows when
 * they fit, else multiples of 64 rows, so a block starts 256-byte aligned in the tensor and in any
 * per-row vector (rstd, positions, ids).
 */
function _rowBlocks(
  rt: GpuRuntime,
  rows: number,
  width: number,
  bindingLimit?: number,
): [number, number][] {
  return elementRanges(rows, width * 4, rt.bindingLimit(bindingLimit), 64);
}

/** Rows [r0, r0 + count) of a (rows, width) tensor as a binding. */
function _rows(t: Tensor, r0: number, count: number, width: number) {
  return elementView(t, r0 * width, count * width);
}

/** RMSNorm forward: x (N, C), w (C) → y (N, C) and rstd (N) for the backward. */
export function rmsnorm(
  rt: GpuRuntime,
  x: Tensor,
  w: Tensor,
  eps = 1e-5,
  opts: BindingOptions = {},
): { y: Tensor; rstd: Tensor } {
  expectTensor("rmsnorm x", x, "f32", [undefined, w.shape[0]]);
  expectTensor("rmsnorm w", w, "f32", [undefined]);
  const [n, c] = x.shape;
  const y = empty(rt, [n, c]), rstd = empty(rt, [n]);
  const pipe = rt.kernel("rmsnorm", "forward");
  for (const [r0, nb] of _rowBlocks(rt, n, c, opts.bindingLimit)) {
    const p = _params(rt, [nb, c], [eps], [0]);
    const rstdB = elementView(rstd, r0, nb);
    rt.dispatch(pipe, [_rows(x, r0, nb, c), w.buffer, _rows(y, r0, nb, c), rstdB, p], rowsGrid(nb));
  }
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
  opts: BindingOptions = {},
): { dx: Tensor; dw: Tensor } {
  expectTensor("rmsnormBackward x", x, "f32", [undefined, w.shape[0]]);
  expectTensor("rmsnormBackward dy", dy, "f32", x.shape);
  expectTensor("rmsnormBackward rstd", rstd, "f32", [x.shape[0]]);
  if (dwAccum) expectTensor("rmsnormBackward dwAccum", dwAccum, "f32", w.shape);
  const [n, c] = x.shape;
  const dx = empty(rt, [n, c]);
  const dw = dwAccum ?? empty(rt, [c]);
  if (n === 0 && !dwAccum) rt.clear(dw.buffer, 0, c * 4); // a sum over no rows
  const pdx = rt.kernel("rmsnorm", "backward_dx"), pdw = rt.kernel("rmsnorm", "backward_dw");
  // row blocks after the first add their column sums into dw
  for (const [r0, nb] of _rowBlocks(rt, n, c, opts.bindingLimit)) {
    const p = _params(rt, [nb, c], [0], [dwAccum || r0 > 0 ? 1 : 0]);
    const xb = _rows(x, r0, nb, c), dyb = _rows(dy, r0, nb, c), rb = elementView(rstd, r0, nb);
    rt.dispatch(pdx, [xb, w.buffer, _rows(dx, r0, nb, c), rb, p, dyb], rowsGrid(nb));
    rt.dispatch(pdw, [xb, undefined, dw.buffer, rb, p, dyb], [Math.ceil(c / 256)]);
  }
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
  opts: BindingOptions = {},
): Tensor {
  expectTensor("rope x", x, "f32", [undefined, undefined, table.headDim]);
  expectTensor("rope pos", pos, ["u32", "i32"], [x.shape[0]]);
  const [n, h, d] = x.shape;
  const out = empty(rt, x.shape);
  const pipe = rt.kernel("rope", "main", { DIR: inverse ? -1 : 1 });
  for (const [t0, nb] of _rowBlocks(rt, n, h * d, opts.bindingLimit)) {
    const p = rt.uniform(new Uint32Array([nb, h, d, table.maxPos]));
    rt.dispatch(
      pipe,
      [
        _rows(x, t0, nb, h * d),
        _rows(out, t0, nb, h * d),
        elementView(pos, t0, nb),
        table.table.buffer,
        p,
      ],
      grid1d((nb * h * d) / 2, 256),
    );
  }
  return out;
}

/** SwiGLU forward: h = silu(g)·u, same shapes (e.g. (N, F)). */
export function swiglu(rt: GpuRuntime, g: Tensor, u: Tensor, opts: BindingOptions = {}): Tensor {
  expectTensor("swiglu g", g, "f32");
  expectTensor("swiglu u", u, "f32", g.shape);
  const h = empty(rt, g.shape);
  const pipe = rt.kernel("swiglu", "forward");
  for (const [s, n] of elementRanges(g.size, 4, rt.bindingLimit(opts.bindingLimit))) {
    const p = rt.uniform(new Uint32Array([n, 0, 0, 0]));
    const binds = [g, u, h].map((t) => elementView(t, s, n));
    rt.dispatch(pipe, [...binds, p], grid1d(n, 256));
  }
  return h;
}

/** SwiGLU backward: dg, du from dh. */
export function swigluBackward(
  rt: GpuRuntime,
  dh: Tensor,
  g: Tensor,
  u: Tensor,
  opts: BindingOptions = {},
): { dg: Tensor; du: Tensor } {
  expectTensor("swigluBackward g", g, "f32");
  expectTensor("swigluBackward u", u, "f32", g.shape);
  expectTensor("swigluBackward dh", dh, "f32", g.shape);
  const dg = empty(rt, g.shape), du = empty(rt, g.shape);
  const pipe = rt.kernel("swiglu", "backward");
  for (const [s, n] of elementRanges(g.size, 4, rt.bindingLimit(opts.bindingLimit))) {
    const p = rt.uniform(new Uint32Array([n, 0, 0, 0]));
    const [gb, ub, dgb, dhb, dub] = [g, u, dg, dh, du].map((t) => elementView(t, s, n));
    rt.dispatch(pipe, [gb, ub, dgb, p, dhb, dub], grid1d(n, 256));
  }
  return { dg, du };
}

/**
 * Embedding gather: table (V, C), ids (N) → (N, C). Ids given as numbers are checked to lie in
 * 0…V-1 and uploaded; ids already on the GPU (u32 tensor) cannot be checked and are clamped to
 * V-1. Tables (and outputs) larger than one binding are bound in row blocks.
 */
export function embedding(
  rt: GpuRuntime,
  table: Tensor,
  idsIn: Tensor | ArrayLike<number>,
  opts: BindingOptions = {},
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
  const pipe = rt.kernel("embedding", "gather");
  // each (token block, table block) pair writes the block's tokens whose ids lie in the table block
  for (const [t0, nb] of _rowBlocks(rt, n, c, opts.bindingLimit)) {
    for (const [v0, rows] of _rowBlocks(rt, v, c, opts.bindingLimit)) {
      const p = rt.uniform(new Uint32Array([nb, c, v, v0, rows, 0, 0, 0]));
      rt.dispatch(
        pipe,
        [_rows(table, v0, rows, c), _rows(out, t0, nb, c), elementView(ids, t0, nb), p],
        grid1d(nb * c, 256),
      );
    }
  }
  if (owned) rt.release(ids.buffer); // later dispatches run after this one
  return out;
}

/**
 * Embedding backward: adds dout (N, C) rows into dtable (V, C) by token id, deterministically
 * (tokens grouped by id on the CPU from `ids`, the same ids the forward used). Tables and douts
 * larger than one binding are handled in row blocks; each id's rows are still added in token order,
 * so the result is the same bit for bit.
 */
export function embeddingBackward(
  rt: GpuRuntime,
  dout: Tensor,
  ids: ArrayLike<number>,
  dtable: Tensor,
  opts: BindingOptions = {},
): void {
  expectTensor("embeddingBackward dtable", dtable, "f32", [undefined, undefined]);
  const [v, c] = dtable.shape;
  expectTensor("embeddingBackward dout", dout, "f32", [ids.length, c]);
  for (const id of Array.from(ids)) {
    if (!(id >= 0 && id < v)) {
      throw new GpuUsageError(`embeddingBackward: id ${id} outside 0…${v - 1}`);
    }
  }
  const pipe = rt.kernel("embedding", "scatter_add");
  const tableBlocks = _rowBlocks(rt, v, c, opts.bindingLimit);
  for (const [t0, nb] of _rowBlocks(rt, ids.length, c, opts.bindingLimit)) {
    // the block's tokens (indices from t0) sorted by id, ties in token order
    const order = Array.from({ length: nb }, (_, i) => i);
    order.sort((a, b) => ids[t0 + a] - ids[t0 + b] || a - b);
    const bo = rt.upload(Uint32Array.from(order));
    const doutB = _rows(dout, t0, nb, c);
    let j = 0;
    for (const [v0, rows] of tableBlocks) {
      if (j >= order.length) break;
      const uniq: number[] = [], start: number[] = [];
      while (j < order.length && ids[t0 + order[j]] < v0 + rows) {
        const id = ids[t0 + order[j]];
        if (uniq.length === 0 || id !== uniq[uniq.length - 1]) {
          uniq.push(id);
          start.push(j);
        }
        j++;
      }
      if (uniq.length === 0) continue;
      start.push(j);
      const bu = rt.upload(Uint32Array.from(uniq)), bs = rt.upload(Uint32Array.from(start));
      const p = rt.uniform(new Uint32Array([uniq.length, c, v, v0, rows, 0, 0, 0]));
      rt.dispatch(
        pipe,
        [doutB, _rows(dtable, v0, rows, c), bu, p, bs, bo],
        grid1d(uniq.length, 1),
      );
      rt.release(bu);
      rt.release(bs);
    }
    rt.release(bo);
  }
}

function _params(rt: GpuRuntime, u: number[], f: number[], u2: number[]): GPUBuffer {
  const a = new Uint32Array(4);
  a.set(u);
  new Float32Array(a.buffer).set(f, u.length);
  a.set(u2, u.length + f.length);
  return rt.uniform(a);
}
