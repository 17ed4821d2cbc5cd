/**
 * One Llama decoder block composed from the GPU ops (the way a model wires them), forward and
 * backward, checked against finite differences of the same block composed from the plain
 * references. f32 storage throughout so finite differences are meaningful.
 */
import { gpuTest } from "../gpu/testing.ts";
import { getRuntime } from "../gpu/runtime.ts";
import { fromArray, type Tensor, toF32 } from "../gpu/tensor.ts";
import { matmul } from "./gemm.ts";
import { makeRopeTable, rmsnorm, rmsnormBackward, rope, swiglu, swigluBackward } from "./nn.ts";
import { attention, attentionBackward } from "./attention.ts";
import { add, addInto, reshape } from "./elementwise.ts";
import { matmulRef } from "./ref/gemm.ts";
import {
  LLAMA31_ROPE_SCALING,
  rmsnormRef,
  ropeInvFreq,
  ropeRef,
  ropeTable,
  swigluRef,
} from "./ref/nn.ts";
import { attentionRef } from "./ref/attention.ts";
import { assertClose, dot, randn } from "./testing.ts";

// legend: T tokens (B = 1), C channels, NH/NKV heads, D head dim, F MLP width
const [T, C, NH, NKV, D, F, EPS, THETA] = [6, 32, 4, 2, 8, 48, 1e-5, 500000];

interface Weights {
  w1: Float32Array; // (C)
  wq: Float32Array; // (NH*D, C)
  wk: Float32Array; // (NKV*D, C)
  wv: Float32Array; // (NKV*D, C)
  wo: Float32Array; // (C, NH*D)
  w2: Float32Array; // (C)
  wg: Float32Array; // (F, C)
  wu: Float32Array; // (F, C)
  wd: Float32Array; // (C, F)
}

const table = ropeTable(T, ropeInvFreq(D, THETA, LLAMA31_ROPE_SCALING));
const pos = Array.from({ length: T }, (_, i) => i);

/** The block on the CPU, float64: out = x2 + mlp(rmsnorm(x2)), x2 = x + attn(rmsnorm(x)). */
function blockRef(x: ArrayLike<number>, w: Weights): Float64Array {
  const lin = (a: ArrayLike<number>, wt: ArrayLike<number>, n: number, k: number) =>
    matmulRef(a, wt, { m: T, n, k, transB: true });
  const h1 = rmsnormRef(x, w.w1, T, C, EPS).y;
  const q = ropeRef(lin(h1, w.wq, NH * D, C), pos, NH, D, table);
  const k = ropeRef(lin(h1, w.wk, NKV * D, C), pos, NKV, D, table);
  const v = lin(h1, w.wv, NKV * D, C);
  const o = attentionRef(q, k, v, { b: 1, t: T, nh: NH, nkv: NKV, d: D }).o;
  const a = lin(o, w.wo, C, NH * D);
  const x2 = Float64Array.from(x, (xi, i) => xi + a[i]);
  const h2 = rmsnormRef(x2, w.w2, T, C, EPS).y;
  const s = swigluRef(lin(h2, w.wg, F, C), lin(h2, w.wu, F, C));
  const m = lin(s, w.wd, C, F);
  return x2.map((v, i) => v + m[i]);
}

gpuTest(
  "a Llama block wired from the GPU ops matches finite differences of its reference",
  async () => {
    const rt = await getRuntime();
    const w: Weights = {
      w1: randn(C, 1, 0.5, 1.5),
      wq: randn(NH * D * C, 2, -0.3, 0.3),
      wk: randn(NKV * D * C, 3, -0.3, 0.3),
      wv: randn(NKV * D * C, 4, -0.3, 0.3),
      wo: randn(C * NH * D, 5, -0.3, 0.3),
      w2: randn(C, 6, 0.5, 1.5),
      wg: randn(F * C, 7, -0.3, 0.3),
      wu: randn(F * C, 8, -0.3, 0.3),
      wd: randn(C * F, 9, -0.3, 0.3),
    };
    const xs = randn(T * C, 10), r = randn(T * C, 11); // loss = Σ r · out
    const up = (a: Float32Array, shape: number[]) => fromArray(rt, a, shape);
    const W = {
      w1: up(w.w1, [C]),
      wq: up(w.wq, [NH * D, C]),
      wk: up(w.wk, [NKV * D, C]),
      wv: up(w.wv, [NKV * D, C]),
      wo: up(w.wo, [C, NH * D]),
      w2: up(w.w2, [C]),
      wg: up(w.wg, [F, C]),
      wu: up(w.wu, [F, C]),
      wd: up(w.wd, [C, F]),
    };
    const lin = (a: Tensor, wt: Tensor) => matmul(rt, a, wt, { transB: true });
    const tbl = makeRopeTable(rt, T, D, THETA, LLAMA31_ROPE_SCALING);
    const tpos = fromArray(rt, pos, [T], "u32");
    // forward
    const x = up(xs, [T, C]);
    const n1 = rmsnorm(rt, x, W.w1, EPS);
    const q = rope(rt, reshape(lin(n1.y, W.wq), [T, NH, D]), tpos, tbl);
    const k = rope(rt, reshape(lin(n1.y, W.wk), [T, NKV, D]), tpos, tbl);
    const v = lin(n1.y, W.wv);
    const [q4, k4, v4] = [
      reshape(q, [1, T, NH, D]),
      reshape(k, [1, T, NKV, D]),
      reshape(v, [1, T, NKV, D]),
    ];
    const att = attention(rt, q4, k4, v4);
    const oFlat = reshape(att.o, [T, NH * D]);
    const x2 = add(rt, x, lin(oFlat, W.wo));
    const n2 = rmsnorm(rt, x2, W.w2, EPS);
    const g = lin(n2.y, W.wg), u = lin(n2.y, W.wu);
    const s = swiglu(rt, g, u);
    const out = add(rt, x2, lin(s, W.wd));
    assertClose("block forward", await toF32(rt, out), blockRef(xs, w), { atol: 1e-5, rtol: 1e-4 });
    // backward of loss = Σ r·out
    const dout = up(r, [T, C]);
    const ds = matmul(rt, dout, W.wd); // (T, F)
    const dwd = matmul(rt, dout, s, { transA: true }); // (C, F)
    const sw = swigluBackward(rt, ds, g, u);
    const dh2 = matmul(rt, sw.dg, W.wg);
    matmul(rt, sw.du, W.wu, { out: dh2, beta: 1 });
    const b2 = rmsnormBackward(rt, dh2, x2, W.w2, n2.rstd);
    addInto(rt, b2.dx, dout); // dx2 = dout (residual) + through the MLP
    const dx2 = b2.dx;
    const dwo = matmul(rt, dx2, oFlat, { transA: true });
    const datt = reshape(matmul(rt, dx2, W.wo), [1, T, NH, D]);
    const ga = attentionBackward(rt, q4, k4, v4, att.o, att.lse, datt);
    const dq = reshape(rope(rt, reshape(ga.dq, [T, NH, D]), tpos, tbl, true), [T, NH * D]);
    const dk = reshape(rope(rt, reshape(ga.dk, [T, NKV, D]), tpos, tbl, true), [T, NKV * D]);
    const dv = reshape(ga.dv, [T, NKV * D]);
    const dh1 = matmul(rt, dq, W.wq);
    matmul(rt, dk, W.wk, { out: dh1, beta: 1 });
    matmul(rt, dv, W.wv, { out: dh1, beta: 1 });
    const dwq = matmul(rt, dq, n1.y, { transA: true });
    const b1 = rmsnormBackward(rt, dh1, x, W.w1, n1.rstd);
    addInto(rt, b1.dx, dx2);
    // finite differences of the reference block (float64, central, eps 1e-5)
    const fd = (f: (v: Float64Array) => number, at: Float32Array, idx: number[]) =>
      idx.map((i) => {
        const a = Float64Array.from(at);
        a[i] += 1e-5;
        const fp = f(a);
        a[i] -= 2e-5;
        return (fp - f(a)) / 2e-5;
      });
    const loss = (xv: ArrayLike<number>, ww: Weights) => dot(r, blockRef(xv, ww));
    const idx = (n: number, step: number) =>
      Array.from({ length: Math.ceil(n / step) }, (_, i) => i * step);
    const pick = (a: ArrayLike<number>, ix: number[]) => ix.map((i) => a[i]);
    // f32 GPU gradients vs float64 differences: 1e-4 relative plus 1e-4 absolute
    const tol = { atol: 1e-4, rtol: 1e-3 };
    const ix = idx(T * C, 5);
    assertClose("dx", pick(await toF32(rt, b1.dx), ix), fd((a) => loss(a, w), xs, ix), tol);
    const checks: [string, Tensor, keyof Weights][] = [
      ["dwq", dwq, "wq"],
      ["dwo", dwo, "wo"],
      ["dwd", dwd, "wd"],
      ["dw1", b1.dw, "w1"],
      ["dw2", b2.dw, "w2"],
    ];
    for (const [name, grad, key] of checks) {
      const ixw = idx(w[key].length, 7);
      const f = (a: Float64Array) => loss(xs, { ...w, [key]: a });
      assertClose(name, pick(await toF32(rt, grad), ixw), fd(f, w[key], ixw), tol);
    }
  },
);
