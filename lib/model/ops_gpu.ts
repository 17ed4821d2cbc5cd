/**
 * The WebGPU backend of {@linkcode Ops}: thin adapters over lib/ops (tensors are lib/gpu
 * `Tensor`s; an FP8 tensor's inverse scale is remembered beside it for the GEMMs that read it).
 *
 * @module
 */

import type { GpuRuntime } from "../gpu/runtime.ts";
import { empty, free, fromArray, Tensor, toArray, zeros } from "../gpu/tensor.ts";
import { h2Unsupported, matmul, matmulShape } from "../ops/gemm.ts";
import { dequantizeFp8, fromBf16, type GpuScalar, toBf16 } from "../ops/cast.ts";
import { Fp8Scaling } from "../ops/fp8.ts";
import {
  embedding,
  embeddingBackward,
  makeRopeTable,
  rmsnorm,
  rmsnormBackward,
  rope,
  type RopeTable,
  swiglu,
  swigluBackward,
} from "../ops/nn.ts";
import { attention, attentionBackward } from "../ops/attention.ts";
import { attentionDecode } from "../ops/attention_decode.ts";
import { lmHead } from "../ops/lm_head.ts";
import { add, addInto } from "../ops/elementwise.ts";
import { adamw, clipByGlobalNorm } from "../ops/optim.ts";
import type { DType, Fp8State, Ops } from "./ops.ts";

/** Inverse scales of FP8 tensors made by a GPU {@linkcode Fp8State}. */
const _scaleInv = new WeakMap<Tensor, GpuScalar>();
/** Where quantizing recorded an FP8 tensor's amax (read by the packed-f16 GEMM). */
const _amax = new WeakMap<Tensor, GpuScalar>();

class _GpuFp8 implements Fp8State<Tensor> {
  readonly s: Fp8Scaling;
  constructor(
    readonly rt: GpuRuntime,
    readonly slots: { name: string; format: "e4m3" | "e5m2" }[],
    o: { historyLen: number; margin: number },
  ) {
    this.s = new Fp8Scaling(rt, slots, o);
  }
  get historyLen() {
    return this.s.historyLen;
  }
  get margin() {
    return this.s.margin;
  }
  quantize(x: Tensor, slot: string): Promise<Tensor> {
    const q = this.s.quantize(x, slot);
    _scaleInv.set(q, this.s.scaleInv(slot));
    _amax.set(q, { buffer: this.s.amaxNow, index: this.s.slot(slot) });
    return Promise.resolve(q);
  }
  update(): Promise<void> {
    this.s.update();
    return Promise.resolve();
  }
  async save() {
    const n = this.slots.length;
    return {
      history: await this.rt.readF32(this.s.history, n * this.s.historyLen),
      state: await this.rt.readF32(this.s.state, n * 3),
    };
  }
  load(saved: { history: Float32Array; state: Float32Array }): void {
    this.rt.write(this.s.history, saved.history);
    this.rt.write(this.s.state, saved.state);
  }
  scales(slots: string[]): Promise<Tensor> {
    const out = empty(this.rt, [slots.length]);
    slots.forEach((name, i) => {
      const sc = this.s.scale(name);
      this.rt.copy(sc.buffer, out.buffer, 4, sc.index * 4, i * 4);
    });
    return Promise.resolve(out);
  }
  destroy(): void {
    this.s.destroy();
  }
}

const _ok = <X>(x: X) => Promise.resolve(x);

/** Options of {@linkcode gpuOps}. */
export interface GpuOpsOptions {
  /**
   * "h2": FP8 (and f16) products run on kernels/gemm_h2.wgsl (packed-f16 FMAs, f32 accumulation
   * every 16 k) wherever it takes them; default "v2": every product on the f32-FMA kernels.
   */
  gemm?: "v2" | "h2";
}

/** The GPU ops on runtime `rt`. */
export function gpuOps(rt: GpuRuntime, opts: GpuOpsOptions = {}): Ops<Tensor> {
  const h2 = (a: Tensor, b: Tensor, o: { transA?: boolean; transB?: boolean }) => {
    if (opts.gemm !== "h2" || a.dtype === "f32" || a.dtype === "bf16") return false;
    const { m, n, k, batch } = matmulShape(a, b, o);
    const cBytes = 4 * m * n * batch.reduce((x, y) => x * y, 1);
    return h2Unsupported(rt, a, b, k, cBytes) === "";
  };
  return {
    name: opts.gemm === "h2" ? "gpu (packed-f16 FP8 GEMMs)" : "gpu",
    upload: (data, shape, dtype = "f32") => fromArray(rt, data, shape, dtype),
    zeros: (shape) => zeros(rt, shape),
    async read(t) {
      if (t.dtype === "e4m3" || t.dtype === "e5m2") {
        const si = _scaleInv.get(t);
        if (!si) throw new Error(`read: FP8 tensor ${t} has no known scale`);
        const d = dequantizeFp8(rt, t, si);
        const out = await toArray(rt, d);
        free(rt, d);
        return out;
      }
      return await toArray(rt, t) as Float32Array | Int32Array | Uint32Array;
    },
    write: (t, data) => rt.write(t.buffer, data),
    free: (...ts) => free(rt, ...ts),
    shape: (t) => t.shape,
    dtype: (t) => t.dtype as DType,
    view: (t, shape) => {
      const v = new Tensor(t.buffer, shape, t.dtype);
      const si = _scaleInv.get(t);
      if (si) _scaleInv.set(v, si);
      const am = _amax.get(t);
      if (am) _amax.set(v, am);
      return v;
    },
    copyRows(src, srcRow, dst, dstRow, rows) {
      const row = src.bytes / src.shape[0];
      rt.copy(src.buffer, dst.buffer, rows * row, srcRow * row, dstRow * row);
    },
    sync: () => rt.sync(),
    memory: () => ({ bytes: rt.allocatedBytes, peak: rt.peakBytes }),
    matmul: (a, b, o = {}) =>
      _ok(matmul(rt, a, b, {
        transA: o.transA,
        transB: o.transB,
        out: o.out,
        beta: o.beta,
        scaleInvA: _scaleInv.get(a),
        scaleInvB: _scaleInv.get(b),
        ...(h2(a, b, o) ? { kernel: "h2" as const, amaxA: _amax.get(a), amaxB: _amax.get(b) } : {}),
      })),
    toBf16: (x) => _ok(toBf16(rt, x)),
    fromBf16: (x) => _ok(fromBf16(rt, x)),
    fp8State: (slots, o) => new _GpuFp8(rt, slots, o),
    rmsnorm: (x, w, eps) => _ok(rmsnorm(rt, x, w, eps)),
    rmsnormBackward: (dy, x, w, rstd, dwAccum) =>
      _ok(rmsnormBackward(rt, dy, x, w, rstd, dwAccum).dx),
    ropeTable: (maxPos, headDim, theta, scaling) =>
      makeRopeTable(rt, maxPos, headDim, theta, scaling),
    rope: (x, pos, table, inverse) => _ok(rope(rt, x, pos, table as RopeTable, inverse)),
    swiglu: (g, u) => _ok(swiglu(rt, g, u)),
    swigluBackward: (dh, g, u) => _ok(swigluBackward(rt, dh, g, u)),
    attention: (q, k, v, o = {}) =>
      _ok(attention(rt, q, k, v, { doc: o.doc, fp8Scales: o.fp8Scales?.buffer })),
    attentionBackward: (q, k, v, out, lse, dout, o = {}) =>
      _ok(attentionBackward(rt, q, k, v, out, lse, dout, {
        doc: o.doc,
        fp8Scales: o.fp8Scales?.buffer,
      })),
    attentionDecode: (q, k, v, lengths) => _ok(attentionDecode(rt, q, k, v, lengths)),
    embedding: (table, ids) => _ok(embedding(rt, table, ids)),
    embeddingBackward: (dout, ids, dtable) => _ok(embeddingBackward(rt, dout, ids, dtable)),
    add: (a, b) => _ok(add(rt, a, b)),
    addInto: (y, x, alpha) => _ok(addInto(rt, y, x, alpha)),
    head: (h, w, spec, o) => _ok(lmHead(rt, h, w, spec, { grad: o.grad, dwAccum: o.dwAccum })),
    clipByGlobalNorm(grads, maxNorm) {
      const buf = clipByGlobalNorm(rt, grads, maxNorm);
      return _ok(new Tensor(buf, [2], "f32"));
    },
    adamw: (p, g, m, v, cfg, step, clip) => _ok(adamw(rt, p, g, m, v, cfg, step, clip.buffer)),
  };
}
