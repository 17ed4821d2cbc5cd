/**
 * Plain TypeScript references (float64 math) for the layer kernels: RMSNorm, RoPE with Llama 3.1
 * scaling, SwiGLU and embedding, forward and backward. Layouts as in lib/ops/nn.ts.
 *
 * @module
 */

type Arr = ArrayLike<number>;

/** RMSNorm forward: y (N, C) and rstd (N). */
export function rmsnormRef(x: Arr, w: Arr, n: number, c: number, eps: number) {
  const y = new Float64Array(n * c), rstd = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let ss = 0;
    for (let i = 0; i < c; i++) ss += x[r * c + i] ** 2;
    rstd[r] = 1 / Math.sqrt(ss / c + eps);
    for (let i = 0; i < c; i++) y[r * c + i] = x[r * c + i] * rstd[r] * w[i];
  }
  return { y, rstd };
}

/** RMSNorm backward: dx (N, C), dw (C); `rstdIn` (N) from the forward, else recomputed. */
export function rmsnormBackwardRef(
  dy: Arr,
  x: Arr,
  w: Arr,
  n: number,
  c: number,
  eps: number,
  rstdIn?: Arr,
) {
  const rstd = rstdIn ?? rmsnormRef(x, w, n, c, eps).rstd;
  const dx = new Float64Array(n * c), dw = new Float64Array(c);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let i = 0; i < c; i++) s += w[i] * dy[r * c + i] * x[r * c + i];
    const k = rstd[r] ** 3 / c * s;
    for (let i = 0; i < c; i++) {
      dx[r * c + i] = rstd[r] * w[i] * dy[r * c + i] - k * x[r * c + i];
      dw[i] += dy[r * c + i] * x[r * c + i] * rstd[r];
    }
  }
  return { dx, dw };
}

/** Rope scaling as in Llama 3.1's config (`rope_scaling`). */
export interface RopeScaling {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

/** Llama 3.1's published values. */
export const LLAMA31_ROPE_SCALING: RopeScaling = {
  factor: 8,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalMaxPositionEmbeddings: 8192,
};

/**
 * Inverse frequencies for head dim `d` and base `theta`, with Llama 3.1 scaling when given
 * (transformers' `_compute_llama3_parameters`: long wavelengths divided by `factor`, short ones
 * kept, a smooth blend between).
 */
export function ropeInvFreq(d: number, theta: number, scaling?: RopeScaling): Float64Array {
  const inv = Float64Array.from({ length: d / 2 }, (_, i) => 1 / theta ** ((2 * i) / d));
  if (!scaling) return inv;
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: old } = scaling;
  const lowWl = old / lowFreqFactor, highWl = old / highFreqFactor;
  return inv.map((f) => {
    const wl = (2 * Math.PI) / f;
    if (wl < highWl) return f;
    if (wl > lowWl) return f / factor;
    const smooth = (old / wl - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    return (1 - smooth) * f / factor + smooth * f;
  });
}

/** The (cos, sin) table (maxPos, d/2, 2) the rope kernel reads, computed in f64. */
export function ropeTable(maxPos: number, invFreq: ArrayLike<number>): Float32Array {
  const half = invFreq.length;
  const t = new Float32Array(maxPos * half * 2);
  for (let p = 0; p < maxPos; p++) {
    for (let i = 0; i < half; i++) {
      const a = p * invFreq[i];
      t[(p * half + i) * 2] = Math.cos(a);
      t[(p * half + i) * 2 + 1] = Math.sin(a);
    }
  }
  return t;
}

/** RoPE on x (N, H, D) at positions pos (N); dir -1 is the inverse (the backward). */
export function ropeRef(x: Arr, pos: Arr, h: number, d: number, table: Arr, dir = 1): Float64Array {
  const n = pos.length, half = d / 2;
  const out = new Float64Array(n * h * d);
  for (let t = 0; t < n; t++) {
    for (let hh = 0; hh < h; hh++) {
      const b = (t * h + hh) * d;
      for (let i = 0; i < half; i++) {
        const c = table[(pos[t] * half + i) * 2], s = dir * table[(pos[t] * half + i) * 2 + 1];
        out[b + i] = x[b + i] * c - x[b + i + half] * s;
        out[b + i + half] = x[b + i + half] * c + x[b + i] * s;
      }
    }
  }
  return out;
}

const sig = (v: number) => 1 / (1 + Math.exp(-v));

/** SwiGLU forward h = silu(g)·u. */
export function swigluRef(g: Arr, u: Arr): Float64Array {
  return Float64Array.from({ length: g.length }, (_, i) => g[i] * sig(g[i]) * u[i]);
}

/** SwiGLU backward: dg, du. */
export function swigluBackwardRef(dh: Arr, g: Arr, u: Arr) {
  const dg = new Float64Array(g.length), du = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) {
    const s = sig(g[i]);
    dg[i] = dh[i] * u[i] * s * (1 + g[i] * (1 - s));
    du[i] = dh[i] * g[i] * s;
  }
  return { dg, du };
}

/** Embedding gather: out (N, C). */
export function embeddingRef(table: Arr, ids: Arr, c: number): Float64Array {
  const out = new Float64Array(ids.length * c);
  for (let n = 0; n < ids.length; n++) {
    for (let i = 0; i < c; i++) out[n * c + i] = table[ids[n] * c + i];
  }
  return out;
}

/** Embedding backward: dtable (V, C) = Σ dout rows per id. */
export function embeddingBackwardRef(dout: Arr, ids: Arr, v: number, c: number): Float64Array {
  const dt = new Float64Array(v * c);
  for (let n = 0; n < ids.length; n++) {
    for (let i = 0; i < c; i++) dt[ids[n] * c + i] += dout[n * c + i];
  }
  return dt;
}
