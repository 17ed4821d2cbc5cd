/**
 * The CPU backend of {@linkcode Ops}: the TypeScript references of lib/ops/ref on host arrays.
 * Float tensors hold f32 values; a bf16 or FP8 tensor holds the values its format can represent
 * (rounded, or decoded × inverse scale), so a GEMM on them is the GPU's GEMM on the codes.
 *
 * @module
 */

import { roundBf16 } from "../ops/ref/cast.ts";
import { Fp8ScalingRef } from "../ops/ref/fp8.ts";
import {
  embeddingRef,
  rmsnormBackwardRef,
  rmsnormRef,
  ropeInvFreq,
  ropeRef,
  ropeTable,
  swigluBackwardRef,
  swigluRef,
} from "../ops/ref/nn.ts";
import { attentionBackwardFlashRef, attentionFlashRef } from "../ops/ref/attention.ts";
import { attentionDecodeRef } from "../ops/ref/attention_decode.ts";
import { lmHeadRowsRef } from "../ops/ref/lm_head.ts";
import { adamwRef, clipFactorRef } from "../ops/ref/optim.ts";
import type { DType, Fp8State, HeadSpec, Ops } from "./ops.ts";

/** A tensor in host memory. */
export class HostTensor {
  constructor(
    readonly data: Float32Array | Int32Array | Uint32Array,
    readonly shape: readonly number[],
    readonly dtype: DType,
  ) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new Error(`HostTensor: ${data.length} values for [${shape}]`);
  }
  /** The f32 data (throws for ids). */
  get f(): Float32Array {
    if (!(this.data instanceof Float32Array)) throw new Error(`expected floats, got ${this.dtype}`);
    return this.data;
  }
}

const _f = (x: ArrayLike<number>, shape: readonly number[], dtype: DType = "f32") =>
  new HostTensor(x instanceof Float32Array ? x : Float32Array.from(x), shape, dtype);

/**
 * C (M, N) = op(A)·op(B) (+ beta·C) for row-major f32 arrays, accumulating each output in f64
 * (NT: row dot products) or in f32 rows (NN, TN: row updates, cache-friendly).
 */
export function matmulCpu(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  out: Float32Array,
  beta: number,
): void {
  if (beta === 0) out.fill(0);
  else if (beta !== 1) { for (let i = 0; i < out.length; i++) out[i] *= beta; }
  if (!transA && transB) {
    for (let i = 0; i < m; i++) {
      const ao = i * k;
      for (let j = 0; j < n; j++) {
        const bo = j * k;
        let s = 0;
        for (let p = 0; p < k; p++) s += a[ao + p] * b[bo + p];
        out[i * n + j] += s;
      }
    }
    return;
  }
  const bT = transB ? _transpose(b, n, k) : b; // (k, n)
  for (let i = 0; i < m; i++) {
    const co = i * n;
    for (let p = 0; p < k; p++) {
      const av = transA ? a[p * m + i] : a[i * k + p];
      if (av === 0) continue;
      const bo = p * n;
      for (let j = 0; j < n; j++) out[co + j] += av * bT[bo + j];
    }
  }
}

function _transpose(x: Float32Array, r: number, c: number): Float32Array {
  const y = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) y[j * r + i] = x[i * c + j];
  return y;
}

class _CpuFp8 implements Fp8State<HostTensor> {
  readonly s: Fp8ScalingRef;
  constructor(
    readonly slots: { name: string; format: "e4m3" | "e5m2" }[],
    o: { historyLen: number; margin: number },
  ) {
    this.s = new Fp8ScalingRef(slots, o.historyLen, o.margin);
  }
  get historyLen() {
    return this.s.historyLen;
  }
  get margin() {
    return this.s.margin;
  }
  quantize(x: HostTensor, slot: string) {
    const fmt = this.slots[this.s.slot(slot)].format;
    return Promise.resolve(new HostTensor(this.s.quantize(x.f, slot), x.shape, fmt));
  }
  update() {
    this.s.update();
    return Promise.resolve();
  }
  save() {
    return Promise.resolve({ history: this.s.history.slice(), state: this.s.state.slice() });
  }
  load(saved: { history: Float32Array; state: Float32Array }) {
    this.s.history.set(saved.history);
    this.s.state.set(saved.state);
  }
  scales(slots: string[]) {
    return Promise.resolve(_f(slots.map((n) => this.s.state[this.s.slot(n) * 3]), [slots.length]));
  }
  destroy() {}
}

const _ok = <X>(x: X) => Promise.resolve(x);

function _dims(q: HostTensor, k: HostTensor) {
  const [b, t, nh, d] = q.shape;
  return { b, t, nh, nkv: k.shape[2], d };
}

/** The CPU ops. */
export function cpuOps(): Ops<HostTensor> {
  let live = 0, peak = 0;
  const track = (t: HostTensor) => {
    live += t.data.byteLength;
    peak = Math.max(peak, live);
    return t;
  };
  const ids = (t: HostTensor | undefined) => t?.data;
  return {
    name: "cpu",
    upload(data, shape, dtype = "f32") {
      const arr = dtype === "i32"
        ? Int32Array.from(data)
        : dtype === "u32"
        ? Uint32Array.from(data)
        : Float32Array.from(data);
      return track(new HostTensor(arr, shape, dtype));
    },
    zeros: (shape) => track(_f(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape)),
    read: (t) => _ok(t.data.slice()),
    write: (t, data) => t.f.set(data),
    free(...ts) {
      for (const t of ts) if (t) live -= t.data.byteLength;
    },
    shape: (t) => t.shape,
    dtype: (t) => t.dtype,
    view: (t, shape) => new HostTensor(t.data, shape, t.dtype),
    copyRows(src, srcRow, dst, dstRow, rows) {
      const row = src.data.length / src.shape[0];
      dst.data.set(src.data.subarray(srcRow * row, (srcRow + rows) * row), dstRow * row);
    },
    sync: () => Promise.resolve(),
    memory: () => ({ bytes: live, peak }),
    matmul(a, b, o = {}) {
      const [ar, ac] = a.shape.slice(-2), [br, bc] = b.shape.slice(-2);
      const [m, k] = o.transA ? [ac, ar] : [ar, ac];
      const [kb, n] = o.transB ? [bc, br] : [br, bc];
      if (a.shape.length !== 2 || b.shape.length !== 2 || k !== kb) {
        throw new Error(`matmul: cannot multiply [${a.shape}] by [${b.shape}]`);
      }
      const out = o.out ?? track(_f(new Float32Array(m * n), [m, n]));
      matmulCpu(a.f, b.f, m, n, k, !!o.transA, !!o.transB, out.f, o.out ? (o.beta ?? 0) : 0);
      return _ok(out);
    },
    toBf16: (x) => _ok(track(new HostTensor(roundBf16(x.f), x.shape, "bf16"))),
    fromBf16: (x) => _ok(track(new HostTensor(x.f.slice(), x.shape, "f32"))),
    fp8State: (slots, o) => new _CpuFp8(slots, o),
    rmsnorm(x, w, eps) {
      const [n, c] = x.shape;
      const r = rmsnormRef(x.f, w.f, n, c, eps);
      return _ok({ y: track(_f(r.y, [n, c])), rstd: track(_f(r.rstd, [n])) });
    },
    rmsnormBackward(dy, x, w, rstd, dwAccum) {
      const [n, c] = x.shape;
      const r = rmsnormBackwardRef(dy.f, x.f, w.f, n, c, 0, rstd.f);
      const dw = dwAccum.f;
      for (let i = 0; i < c; i++) dw[i] += r.dw[i];
      return _ok(track(_f(r.dx, [n, c])));
    },
    ropeTable: (maxPos, headDim, theta, scaling) => ({
      table: ropeTable(maxPos, ropeInvFreq(headDim, theta, scaling)),
      maxPos,
    }),
    rope(x, pos, table, inverse) {
      const [, h, d] = x.shape;
      const t = (table as { table: Float32Array }).table;
      return _ok(track(_f(ropeRef(x.f, pos.data, h, d, t, inverse ? -1 : 1), x.shape)));
    },
    swiglu: (g, u) => _ok(track(_f(swigluRef(g.f, u.f), g.shape))),
    swigluBackward(dh, g, u) {
      const r = swigluBackwardRef(dh.f, g.f, u.f);
      return _ok({ dg: track(_f(r.dg, g.shape)), du: track(_f(r.du, g.shape)) });
    },
    attention(q, k, v, o = {}) {
      const dims = _dims(q, k);
      const r = attentionFlashRef(q.f, k.f, v.f, dims, ids(o.doc), o.fp8Scales?.f);
      const out = q.dtype === "bf16" ? roundBf16(r.o) : Float32Array.from(r.o);
      return _ok({
        o: track(new HostTensor(out, q.shape, q.dtype)),
        lse: track(_f(r.lse, [dims.b, dims.nh, dims.t])),
      });
    },
    attentionBackward(q, k, v, out, lse, dout, o = {}) {
      const dims = _dims(q, k);
      const r = attentionBackwardFlashRef(
        q.f,
        k.f,
        v.f,
        out.f,
        lse.f,
        dout.f,
        dims,
        ids(o.doc),
        o.fp8Scales?.f,
      );
      return _ok({
        dq: track(_f(r.dq, q.shape)),
        dk: track(_f(r.dk, k.shape)),
        dv: track(_f(r.dv, v.shape)),
      });
    },
    attentionDecode(q, k, v, lengths) {
      const [b, nh, d] = q.shape, [, s, nkv] = k.shape;
      const o = attentionDecodeRef(q.f, k.f, v.f, lengths.data, { b, s, nh, nkv, d });
      return _ok(track(_f(o, q.shape)));
    },
    embedding(table, tokenIds) {
      const [v, c] = table.shape;
      for (let i = 0; i < tokenIds.length; i++) {
        const id = tokenIds[i];
        if (!(Number.isInteger(id) && id >= 0 && id < v)) {
          throw new Error(`embedding: token id ${id} at ${i} outside 0…${v - 1}`);
        }
      }
      return _ok(track(_f(embeddingRef(table.f, tokenIds, c), [tokenIds.length, c])));
    },
    embeddingBackward(dout, tokenIds, dtable) {
      const c = dtable.shape[1], dt = dtable.f, d = dout.f;
      for (let n = 0; n < tokenIds.length; n++) {
        const o = tokenIds[n] * c;
        for (let i = 0; i < c; i++) dt[o + i] += d[n * c + i];
      }
      return _ok(undefined);
    },
    add(a, b) {
      const y = a.f.slice(), x = b.f;
      for (let i = 0; i < y.length; i++) y[i] += x[i];
      return _ok(track(_f(y, a.shape)));
    },
    addInto(y, x, alpha = 1) {
      const yy = y.f, xx = x.f;
      for (let i = 0; i < yy.length; i++) yy[i] += alpha * xx[i];
      return _ok(undefined);
    },
    head(h, w, spec: HeadSpec<HostTensor>, o) {
      // per row chunk: logits = h·Wᵀ, the reference's row math, dh = dlogits·W, dW += dlogitsᵀ·h
      const [n, c] = h.shape, v = w.shape[0];
      const K = spec.soft ? spec.soft.probs.data.length / n : 0;
      const rows = Math.max(1, Math.min(n, Math.floor((1 << 22) / v))); // ≤ 4M logits at once
      const stats = new Float32Array(n * 4), loss = new Float32Array(n);
      const dh = o.grad ? new Float32Array(n * c) : undefined;
      const part = (t: HostTensor | undefined, r0: number, r: number, width: number) =>
        t?.data.subarray(r0 * width, (r0 + r) * width);
      const z = new Float32Array(rows * v);
      for (let r0 = 0; r0 < n; r0 += rows) {
        const r = Math.min(rows, n - r0);
        const hc = h.f.subarray(r0 * c, (r0 + r) * c), zc = z.subarray(0, r * v);
        matmulCpu(hc, w.f, r, v, c, false, true, zc, 0);
        const res = lmHeadRowsRef(
          zc,
          {
            targets: part(spec.targets, r0, r, 1)!,
            weights: part(spec.weights, r0, r, 1),
            soft: spec.soft && {
              probs: part(spec.soft.probs, r0, r, K)!,
              ids: part(spec.soft.ids, r0, r, K),
              weights: part(spec.soft.weights, r0, r, 1)!,
              temperature: spec.soft.temperature,
            },
          },
          r,
          v,
          { grad: o.grad },
        );
        stats.set(res.stats, r0 * 4);
        loss.set(res.loss, r0);
        if (!dh) continue;
        const dz = Float32Array.from(res.dlogits!);
        matmulCpu(dz, w.f, r, c, v, false, false, dh.subarray(r0 * c, (r0 + r) * c), 0);
        if (o.dwAccum) matmulCpu(dz, hc, v, c, r, true, false, o.dwAccum.f, 1);
      }
      return _ok({
        stats: track(_f(stats, [n, 4])),
        loss: track(_f(loss, [n])),
        dh: dh ? track(_f(dh, [n, c])) : undefined,
      });
    },
    clipByGlobalNorm(grads, maxNorm) {
      return _ok(track(_f(clipFactorRef(grads.map((g) => g.f), maxNorm), [2])));
    },
    adamw(p, g, m, v, cfg, step, clip) {
      adamwRef(
        p.f as unknown as Float64Array,
        g.f,
        m.f as unknown as Float64Array,
        v.f as unknown as Float64Array,
        cfg,
        step,
        clip.f[1],
      );
      return _ok(undefined);
    },
  };
}
