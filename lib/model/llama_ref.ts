/**
 * The plain TypeScript CPU reference of the Llama decoder: forward, backward, and single-token
 * decoding with a KV cache. It is the algorithmic reference the GPU model is checked against, and
 * the trainer's CPU path (used where the GPU ops are not wired in yet).
 *
 * Shapes (legend used in every comment below):
 *   B   batch (sequences)          T   sequence length (positions)
 *   C   hidden_size                F   intermediate_size (SwiGLU width)
 *   NH  num_attention_heads        NKV num_key_value_heads (GQA: NH/NKV query heads share one)
 *   HS  head_dim                   V   vocab_size
 *   L   num_hidden_layers
 * All matrices are row-major; a linear layer `W (O, I)` maps `x (N, I)` to `x Wᵀ (N, O)`, as in
 * Hugging Face (`nn.Linear.weight`). Parameters use Hugging Face's names, so a safetensors file
 * from `save_pretrained` loads as is.
 *
 * Numerics: math in f32 (accumulations in f64 locals). `precision` emulates mixed precision on the
 * operands: `bf16` rounds every GEMM operand to bf16; `fp8` quantizes the operands of every
 * linear layer and the LM head to FP8 E4M3 with a per-tensor scale (amax → 448) in the forward
 * pass and the incoming gradients to E5M2 (amax → 57344) in the backward pass, while attention
 * and norms keep bf16 operands (Transformer Engine's "hybrid" recipe, with current scaling).
 * Master weights and gradients stay f32.
 *
 * @module
 */

import type { LlamaConfig } from "./config.ts";
import { ropeInvFreq } from "./config.ts";
import { bf16BitsToF32, f32ToBf16Bits } from "./safetensors.ts";

/** Training/inference precision. */
export type Precision = "fp32" | "bf16" | "fp8";

/** Parameters (or gradients) by Hugging Face name. */
export type Params = Map<string, Float32Array>;

/** Every parameter's name and shape, in Hugging Face order. */
export function paramShapes(cfg: LlamaConfig): [string, number[]][] {
  const C = cfg.hidden_size, F = cfg.intermediate_size, HS = cfg.head_dim;
  const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads, V = cfg.vocab_size;
  const out: [string, number[]][] = [["model.embed_tokens.weight", [V, C]]];
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    out.push(
      [p + "input_layernorm.weight", [C]],
      [p + "self_attn.q_proj.weight", [NH * HS, C]],
      [p + "self_attn.k_proj.weight", [NKV * HS, C]],
      [p + "self_attn.v_proj.weight", [NKV * HS, C]],
      [p + "self_attn.o_proj.weight", [C, NH * HS]],
      [p + "post_attention_layernorm.weight", [C]],
      [p + "mlp.gate_proj.weight", [F, C]],
      [p + "mlp.up_proj.weight", [F, C]],
      [p + "mlp.down_proj.weight", [C, F]],
    );
  }
  out.push(["model.norm.weight", [C]]);
  if (!cfg.tie_word_embeddings) out.push(["lm_head.weight", [V, C]]);
  return out;
}

/** A small seeded PRNG (xoshiro128**), with normal samples; its state can be saved and restored. */
export class Rng {
  s: Uint32Array;
  constructor(seed: number | number[]) {
    this.s = new Uint32Array(4);
    if (Array.isArray(seed)) this.s.set(seed);
    else {
      // splitmix32 to spread the seed
      let z = seed >>> 0;
      for (let i = 0; i < 4; i++) {
        z = (z + 0x9e3779b9) >>> 0;
        let t = z;
        t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
        t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
        this.s[i] = (t ^ (t >>> 16)) >>> 0;
      }
    }
  }
  /** The state, for checkpoints. */
  state(): number[] {
    return [...this.s];
  }
  /** A uniform u32. */
  nextU32(): number {
    const s = this.s;
    const r = Math.imul(((Math.imul(s[1], 5) << 7) | (Math.imul(s[1], 5) >>> 25)) >>> 0, 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 11) | (s[3] >>> 21);
    return r;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}

/** Initialises parameters as Hugging Face does: N(0, 0.02) for matrices, ones for norms. */
export function initParams(cfg: LlamaConfig, seed: number, std = 0.02): Params {
  const rng = new Rng(seed);
  const params: Params = new Map();
  for (const [name, shape] of paramShapes(cfg)) {
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    if (shape.length === 1) a.fill(1);
    else for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
    params.set(name, a);
  }
  return params;
}

// ---- precision emulation -------------------------------------------------------------------

/** Rounds to a float with `mant` mantissa bits, smallest normal exponent `minExp`, max `max`. */
function _roundFloat(x: number, mant: number, minExp: number, max: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  const e = Math.max(Math.floor(Math.log2(a)), minExp);
  const step = Math.pow(2, e - mant);
  const r = a / step;
  let q = Math.round(r);
  if (q - r === 0.5 && q % 2 === 1) q -= 1; // ties to even
  const v = Math.min(q * step, max);
  return x < 0 ? -v : v;
}

/** FP8 formats: E4M3 (forward operands) and E5M2 (gradients). */
export const FP8 = {
  e4m3: { mant: 3, minExp: -6, max: 448 },
  e5m2: { mant: 2, minExp: -14, max: 57344 },
} as const;

/** What one FP8 quantization saw: the tensor's amax and the scale applied. */
export interface Fp8Stat {
  amax: number;
  scale: number;
}

/**
 * Quantize-dequantize `x` to FP8 with a per-tensor scale `max/amax` (current scaling); returns the
 * dequantized copy and the statistics.
 */
export function fp8QuantDequant(
  x: Float32Array,
  fmt: { mant: number; minExp: number; max: number },
): { y: Float32Array; stat: Fp8Stat } {
  let amax = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]);
    if (a > amax) amax = a;
  }
  const scale = amax > 0 ? fmt.max / amax : 1;
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    y[i] = _roundFloat(x[i] * scale, fmt.mant, fmt.minExp, fmt.max) / scale;
  }
  return { y, stat: { amax, scale } };
}

/** A bf16-rounded copy of `x`. */
export function roundBf16(x: Float32Array): Float32Array {
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = bf16BitsToF32(f32ToBf16Bits(x[i]));
  return y;
}

/** Applies the precision to a linear layer's forward operand (records FP8 stats under `tag`). */
function _qFwd(
  x: Float32Array,
  p: Precision,
  stats: Map<string, Fp8Stat> | undefined,
  tag: string,
) {
  if (p === "fp32") return x;
  if (p === "bf16") return roundBf16(x);
  const { y, stat } = fp8QuantDequant(x, FP8.e4m3);
  stats?.set(tag, stat);
  return y;
}

function _qBwd(
  g: Float32Array,
  p: Precision,
  stats: Map<string, Fp8Stat> | undefined,
  tag: string,
) {
  if (p === "fp32") return g;
  if (p === "bf16") return roundBf16(g);
  const { y, stat } = fp8QuantDequant(g, FP8.e5m2);
  stats?.set(tag, stat);
  return y;
}

// ---- primitives -----------------------------------------------------------------------------

/** y (N, O) = x (N, I) · Wᵀ, W (O, I). */
export function matmulT(x: Float32Array, w: Float32Array, N: number, I: number, O: number) {
  const y = new Float32Array(N * O);
  for (let n = 0; n < N; n++) {
    const xo = n * I;
    for (let o = 0; o < O; o++) {
      const wo = o * I;
      let s = 0;
      for (let i = 0; i < I; i++) s += x[xo + i] * w[wo + i];
      y[n * O + o] = s;
    }
  }
  return y;
}

/** dx (N, I) = dy (N, O) · W (O, I); dW (O, I) += dyᵀ · x. */
function _linearBackward(
  dy: Float32Array,
  x: Float32Array,
  w: Float32Array,
  dw: Float32Array,
  N: number,
  I: number,
  O: number,
): Float32Array {
  const dx = new Float32Array(N * I);
  for (let n = 0; n < N; n++) {
    const xo = n * I;
    for (let o = 0; o < O; o++) {
      const g = dy[n * O + o];
      if (g === 0) continue;
      const wo = o * I;
      for (let i = 0; i < I; i++) {
        dx[xo + i] += g * w[wo + i];
        dw[wo + i] += g * x[xo + i];
      }
    }
  }
  return dx;
}

/** RMSNorm over rows of x (N, C): y = x / sqrt(mean(x²) + eps) * w; returns y and rstd (N). */
export function rmsnorm(x: Float32Array, w: Float32Array, N: number, C: number, eps: number) {
  const y = new Float32Array(N * C);
  const rstd = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[n * C + c] * x[n * C + c];
    const r = 1 / Math.sqrt(ss / C + eps);
    rstd[n] = r;
    for (let c = 0; c < C; c++) y[n * C + c] = x[n * C + c] * r * w[c];
  }
  return { y, rstd };
}

function _rmsnormBackward(
  dy: Float32Array,
  x: Float32Array,
  w: Float32Array,
  rstd: Float32Array,
  dw: Float32Array,
  N: number,
  C: number,
): Float32Array {
  const dx = new Float32Array(N * C);
  for (let n = 0; n < N; n++) {
    const r = rstd[n];
    let dot = 0;
    for (let c = 0; c < C; c++) {
      const g = dy[n * C + c];
      dw[c] += g * x[n * C + c] * r;
      dot += g * w[c] * x[n * C + c];
    }
    const k = (r * r * r * dot) / C;
    for (let c = 0; c < C; c++) dx[n * C + c] = r * dy[n * C + c] * w[c] - k * x[n * C + c];
  }
  return dx;
}

/** cos/sin tables (T, HS/2) for positions start..start+T-1. */
export function ropeTables(cfg: LlamaConfig, T: number, start = 0) {
  const inv = ropeInvFreq(cfg);
  const H = inv.length;
  const cos = new Float32Array(T * H), sin = new Float32Array(T * H);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < H; i++) {
      const a = (start + t) * inv[i];
      cos[t * H + i] = Math.cos(a);
      sin[t * H + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/**
 * Rotates, in place, heads of x (B*T, nHeads*HS) by RoPE (Hugging Face's rotate_half pairing:
 * element i with i + HS/2). `sign` -1 applies the inverse rotation (the backward pass).
 */
function _rope(
  x: Float32Array,
  B: number,
  T: number,
  nHeads: number,
  HS: number,
  cos: Float32Array,
  sin: Float32Array,
  sign = 1,
) {
  const H = HS / 2;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = (b * T + t) * nHeads * HS;
      for (let h = 0; h < nHeads; h++) {
        const o = row + h * HS;
        for (let i = 0; i < H; i++) {
          const c = cos[t * H + i], s = sign * sin[t * H + i];
          const x1 = x[o + i], x2 = x[o + i + H];
          x[o + i] = x1 * c - x2 * s;
          x[o + i + H] = x2 * c + x1 * s;
        }
      }
    }
  }
}

// ---- whole model ----------------------------------------------------------------------------

/** Options of {@linkcode forwardBackward}. */
export interface ForwardOptions {
  precision?: Precision;
  /** Accumulate gradients here (same names as params); omit for forward only. */
  grads?: Params;
  /** Return the logits (B*T, V). */
  wantLogits?: boolean;
  /** Receives FP8 amax/scale per quantized tensor (fp8 only). */
  fp8Stats?: Map<string, Fp8Stat>;
  /** Scale applied to the gradient of the loss (e.g. 1/accumulation steps). */
  lossScale?: number;
  /** fp8 ablation: also quantize attention's q, k, v to E4M3 (default: bf16 attention). */
  fp8Attention?: boolean;
}

/** What {@linkcode forwardBackward} returns. */
export interface ForwardResult {
  /** Mean cross-entropy over targets ≥ 0 (NaN without targets). */
  loss: number;
  /** Number of targets counted. */
  count: number;
  /** (B*T, V), when asked for. */
  logits?: Float32Array;
}

/**
 * Forward pass over tokens (B, T) and, when `targets` (B, T; -1 = ignore) and `grads` are given,
 * the backward pass of the mean cross-entropy, accumulating into `grads`.
 */
export function forwardBackward(
  cfg: LlamaConfig,
  params: Params,
  tokens: Int32Array | Uint32Array,
  targets: Int32Array | null,
  B: number,
  T: number,
  opts: ForwardOptions = {},
): ForwardResult {
  const p = opts.precision ?? "fp32";
  const st = opts.fp8Stats;
  const C = cfg.hidden_size, F = cfg.intermediate_size, HS = cfg.head_dim;
  const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads, V = cfg.vocab_size;
  const L = cfg.num_hidden_layers, N = B * T, eps = cfg.rms_norm_eps;
  const QD = NH * HS, KD = NKV * HS, G = NH / NKV;
  const attnP: Precision = p === "fp8" ? "bf16" : p; // attention and norms: bf16 under fp8
  const P = (k: string) => {
    const a = params.get(k);
    if (!a) throw new Error(`missing parameter ${k}`);
    return a;
  };
  const emb = P("model.embed_tokens.weight"); // (V, C)
  const lmW = cfg.tie_word_embeddings ? emb : P("lm_head.weight"); // (V, C)
  const { cos, sin } = ropeTables(cfg, T);
  const scale = 1 / Math.sqrt(HS);

  // x (N, C): the residual stream
  let x: Float32Array = new Float32Array(N * C);
  for (let n = 0; n < N; n++) {
    const tok = tokens[n];
    if (tok >= V) throw new Error(`token id ${tok} ≥ vocab_size ${V}`);
    x.set(emb.subarray(tok * C, tok * C + C), n * C);
  }

  type LayerCache = {
    x: Float32Array; // (N, C) layer input
    h: Float32Array; // (N, C) normed, as fed to q/k/v (quantized)
    rstd1: Float32Array; // (N)
    wq: Float32Array; // quantized copies used in the GEMMs
    wk: Float32Array;
    wv: Float32Array;
    q: Float32Array; // (N, NH*HS) after RoPE
    k: Float32Array; // (N, NKV*HS) after RoPE
    v: Float32Array; // (N, NKV*HS)
    pr: Float32Array; // (B, NH, T, T) softmax probabilities
    att: Float32Array; // (N, NH*HS) quantized attention output fed to o_proj
    wo: Float32Array;
    x2: Float32Array; // (N, C) after the attention residual
    h2: Float32Array; // (N, C) quantized
    rstd2: Float32Array;
    wg: Float32Array;
    wu: Float32Array;
    g: Float32Array; // (N, F)
    u: Float32Array; // (N, F)
    a: Float32Array; // (N, F) quantized silu(g)*u
    wd: Float32Array;
  };
  const caches: LayerCache[] = [];

  for (let l = 0; l < L; l++) {
    const pre = `model.layers.${l}.`;
    const xin = x;
    const n1 = rmsnorm(xin, P(pre + "input_layernorm.weight"), N, C, eps);
    const h = _qFwd(n1.y, p, st, `${pre}attn_in`);
    const wq = _qFwd(P(pre + "self_attn.q_proj.weight"), p, st, pre + "q_proj");
    const wk = _qFwd(P(pre + "self_attn.k_proj.weight"), p, st, pre + "k_proj");
    const wv = _qFwd(P(pre + "self_attn.v_proj.weight"), p, st, pre + "v_proj");
    const q = matmulT(h, wq, N, C, QD); // (N, NH*HS)
    const k = matmulT(h, wk, N, C, KD); // (N, NKV*HS)
    let v: Float32Array = matmulT(h, wv, N, C, KD); // (N, NKV*HS)
    _rope(q, B, T, NH, HS, cos, sin);
    _rope(k, B, T, NKV, HS, cos, sin);
    const fp8Att = p === "fp8" && opts.fp8Attention;
    const attQ = (a: Float32Array, tag: string): Float32Array =>
      fp8Att ? _qFwd(a, "fp8", st, pre + tag) : attnP === "fp32" ? a : roundBf16(a);
    const qa = attQ(q, "attn_q");
    const ka = attQ(k, "attn_k");
    v = attQ(v, "attn_v");
    const pr = new Float32Array(B * NH * T * T); // (B, NH, T, T)
    const attRaw = new Float32Array(N * QD); // (N, NH*HS)
    for (let b = 0; b < B; b++) {
      for (let hh = 0; hh < NH; hh++) {
        const kh = Math.floor(hh / G);
        for (let t = 0; t < T; t++) {
          const qo = (b * T + t) * QD + hh * HS;
          const po = ((b * NH + hh) * T + t) * T;
          let m = -Infinity;
          for (let s = 0; s <= t; s++) {
            const ko = (b * T + s) * KD + kh * HS;
            let d = 0;
            for (let i = 0; i < HS; i++) d += qa[qo + i] * ka[ko + i];
            d *= scale;
            pr[po + s] = d;
            if (d > m) m = d;
          }
          let z = 0;
          for (let s = 0; s <= t; s++) {
            const e = Math.exp(pr[po + s] - m);
            pr[po + s] = e;
            z += e;
          }
          for (let s = 0; s <= t; s++) {
            const w = pr[po + s] / z;
            pr[po + s] = w;
            const vo = (b * T + s) * KD + kh * HS;
            for (let i = 0; i < HS; i++) attRaw[qo + i] += w * v[vo + i];
          }
        }
      }
    }
    const att = _qFwd(attRaw, p, st, `${pre}o_in`);
    const wo = _qFwd(P(pre + "self_attn.o_proj.weight"), p, st, pre + "o_proj");
    const o = matmulT(att, wo, N, QD, C);
    const x2 = new Float32Array(N * C);
    for (let i = 0; i < N * C; i++) x2[i] = xin[i] + o[i];
    const n2 = rmsnorm(x2, P(pre + "post_attention_layernorm.weight"), N, C, eps);
    const h2 = _qFwd(n2.y, p, st, `${pre}mlp_in`);
    const wg = _qFwd(P(pre + "mlp.gate_proj.weight"), p, st, pre + "gate_proj");
    const wu = _qFwd(P(pre + "mlp.up_proj.weight"), p, st, pre + "up_proj");
    const g = matmulT(h2, wg, N, C, F);
    const u = matmulT(h2, wu, N, C, F);
    const aRaw = new Float32Array(N * F);
    for (let i = 0; i < N * F; i++) aRaw[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i];
    const a = _qFwd(aRaw, p, st, `${pre}down_in`);
    const wd = _qFwd(P(pre + "mlp.down_proj.weight"), p, st, pre + "down_proj");
    const d = matmulT(a, wd, N, F, C);
    const x3 = new Float32Array(N * C);
    for (let i = 0; i < N * C; i++) x3[i] = x2[i] + d[i];
    caches.push({
      x: xin,
      h,
      rstd1: n1.rstd,
      wq,
      wk,
      wv,
      q: qa,
      k: ka,
      v,
      pr,
      att,
      wo,
      x2,
      h2,
      rstd2: n2.rstd,
      wg,
      wu,
      g,
      u,
      a,
      wd,
    });
    x = x3;
  }
  const nf = rmsnorm(x, P("model.norm.weight"), N, C, eps);
  const hf = _qFwd(nf.y, p, st, "lm_head_in");
  const lmq = _qFwd(lmW, p, st, "lm_head");
  const logits = matmulT(hf, lmq, N, C, V); // (N, V)

  // cross-entropy; dlogits overwrites logits' probabilities when training
  let loss = 0, count = 0;
  const probs = opts.grads && targets ? new Float32Array(N * V) : null;
  if (targets) {
    for (let n = 0; n < N; n++) {
      const tg = targets[n];
      if (tg < 0) continue;
      let m = -Infinity;
      for (let i = 0; i < V; i++) if (logits[n * V + i] > m) m = logits[n * V + i];
      let z = 0;
      for (let i = 0; i < V; i++) z += Math.exp(logits[n * V + i] - m);
      loss += Math.log(z) + m - logits[n * V + tg];
      count++;
      if (probs) {
        for (let i = 0; i < V; i++) probs[n * V + i] = Math.exp(logits[n * V + i] - m) / z;
        probs[n * V + tg] -= 1;
      }
    }
  }
  const result: ForwardResult = {
    loss: count ? loss / count : NaN,
    count,
    logits: opts.wantLogits ? logits : undefined,
  };
  if (!probs || !opts.grads || count === 0) return result;

  // ---- backward ----
  const grads = opts.grads;
  const Gd = (k: string) => {
    const a = grads.get(k);
    if (!a) throw new Error(`missing gradient buffer ${k}`);
    return a;
  };
  const k0 = (opts.lossScale ?? 1) / count;
  for (let i = 0; i < probs.length; i++) probs[i] *= k0;
  const dlogits = _qBwd(probs, p, st, "lm_head_grad");
  const dLm = cfg.tie_word_embeddings ? Gd("model.embed_tokens.weight") : Gd("lm_head.weight");
  const dhf = _linearBackward(dlogits, hf, lmq, dLm, N, C, V);
  let dx: Float32Array = _rmsnormBackward(
    dhf,
    x,
    P("model.norm.weight"),
    nf.rstd,
    Gd("model.norm.weight"),
    N,
    C,
  );

  for (let l = L - 1; l >= 0; l--) {
    const pre = `model.layers.${l}.`;
    const c = caches[l];
    // MLP: x3 = x2 + down(silu(gate(h2)) * up(h2))
    const dd = _qBwd(dx, p, st, `${pre}down_grad`);
    const da = _linearBackward(dd, c.a, c.wd, Gd(pre + "mlp.down_proj.weight"), N, F, C);
    const dg = new Float32Array(N * F), du = new Float32Array(N * F);
    for (let i = 0; i < N * F; i++) {
      const gi = c.g[i], sg = 1 / (1 + Math.exp(-gi));
      du[i] = da[i] * gi * sg;
      dg[i] = da[i] * c.u[i] * sg * (1 + gi * (1 - sg));
    }
    const dgq = _qBwd(dg, p, st, `${pre}gate_grad`);
    const duq = _qBwd(du, p, st, `${pre}up_grad`);
    const dh2 = _linearBackward(dgq, c.h2, c.wg, Gd(pre + "mlp.gate_proj.weight"), N, C, F);
    const dh2u = _linearBackward(duq, c.h2, c.wu, Gd(pre + "mlp.up_proj.weight"), N, C, F);
    for (let i = 0; i < N * C; i++) dh2[i] += dh2u[i];
    const dx2 = _rmsnormBackward(
      dh2,
      c.x2,
      P(pre + "post_attention_layernorm.weight"),
      c.rstd2,
      Gd(pre + "post_attention_layernorm.weight"),
      N,
      C,
    );
    for (let i = 0; i < N * C; i++) dx2[i] += dx[i];
    // attention: x2 = x + o_proj(attn(rope(q_proj(h)), rope(k_proj(h)), v_proj(h)))
    const dxo = _qBwd(dx2, p, st, `${pre}o_grad`);
    const datt = _linearBackward(dxo, c.att, c.wo, Gd(pre + "self_attn.o_proj.weight"), N, QD, C);
    const dq = new Float32Array(N * QD),
      dk = new Float32Array(N * KD),
      dv = new Float32Array(N * KD);
    const dp = new Float32Array(T);
    for (let b = 0; b < B; b++) {
      for (let hh = 0; hh < NH; hh++) {
        const kh = Math.floor(hh / G);
        for (let t = 0; t < T; t++) {
          const qo = (b * T + t) * QD + hh * HS;
          const po = ((b * NH + hh) * T + t) * T;
          let sum = 0;
          for (let s = 0; s <= t; s++) {
            const vo = (b * T + s) * KD + kh * HS;
            const w = c.pr[po + s];
            let d = 0;
            for (let i = 0; i < HS; i++) {
              d += datt[qo + i] * c.v[vo + i];
              dv[vo + i] += w * datt[qo + i];
            }
            dp[s] = d;
            sum += w * d;
          }
          for (let s = 0; s <= t; s++) {
            const ds = c.pr[po + s] * (dp[s] - sum) * scale;
            if (ds === 0) continue;
            const ko = (b * T + s) * KD + kh * HS;
            for (let i = 0; i < HS; i++) {
              dq[qo + i] += ds * c.k[ko + i];
              dk[ko + i] += ds * c.q[qo + i];
            }
          }
        }
      }
    }
    _rope(dq, B, T, NH, HS, cos, sin, -1);
    _rope(dk, B, T, NKV, HS, cos, sin, -1);
    const dqq = _qBwd(dq, p, st, `${pre}q_grad`);
    const dkq = _qBwd(dk, p, st, `${pre}k_grad`);
    const dvq = _qBwd(dv, p, st, `${pre}v_grad`);
    const dh = _linearBackward(dqq, c.h, c.wq, Gd(pre + "self_attn.q_proj.weight"), N, C, QD);
    const dhk = _linearBackward(dkq, c.h, c.wk, Gd(pre + "self_attn.k_proj.weight"), N, C, KD);
    const dhv = _linearBackward(dvq, c.h, c.wv, Gd(pre + "self_attn.v_proj.weight"), N, C, KD);
    for (let i = 0; i < N * C; i++) dh[i] += dhk[i] + dhv[i];
    const dxin = _rmsnormBackward(
      dh,
      c.x,
      P(pre + "input_layernorm.weight"),
      c.rstd1,
      Gd(pre + "input_layernorm.weight"),
      N,
      C,
    );
    for (let i = 0; i < N * C; i++) dxin[i] += dx2[i];
    dx = dxin;
  }
  const dEmb = Gd("model.embed_tokens.weight");
  for (let n = 0; n < N; n++) {
    const o = tokens[n] * C;
    for (let c2 = 0; c2 < C; c2++) dEmb[o + c2] += dx[n * C + c2];
  }
  return result;
}

/** Zeroed gradient buffers for every parameter. */
export function zeroGrads(params: Params): Params {
  const g: Params = new Map();
  for (const [k, v] of params) g.set(k, new Float32Array(v.length));
  return g;
}

// ---- decoding with a KV cache ---------------------------------------------------------------

/** Keys and values of past positions, per layer: (maxT, NKV*HS) each. */
export class KVCache {
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  length = 0;
  constructor(readonly cfg: LlamaConfig, readonly maxT: number) {
    const KD = cfg.num_key_value_heads * cfg.head_dim;
    this.k = Array.from({ length: cfg.num_hidden_layers }, () => new Float32Array(maxT * KD));
    this.v = Array.from({ length: cfg.num_hidden_layers }, () => new Float32Array(maxT * KD));
  }
}

/** Runs one token at position `cache.length` and returns its logits (V); appends to the cache. */
export function decodeStep(
  cfg: LlamaConfig,
  params: Params,
  cache: KVCache,
  token: number,
): Float32Array {
  const C = cfg.hidden_size, F = cfg.intermediate_size, HS = cfg.head_dim;
  const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads, V = cfg.vocab_size;
  const QD = NH * HS, KD = NKV * HS, G = NH / NKV, eps = cfg.rms_norm_eps;
  const pos = cache.length;
  if (pos >= cache.maxT) throw new Error(`KV cache full (${cache.maxT} positions)`);
  const P = (k: string) => params.get(k)!;
  const emb = P("model.embed_tokens.weight");
  if (token < 0 || token >= V) throw new Error(`token id ${token} outside vocab_size ${V}`);
  let x: Float32Array = emb.slice(token * C, token * C + C);
  const { cos, sin } = ropeTables(cfg, 1, pos);
  const scale = 1 / Math.sqrt(HS);
  const sc = new Float32Array(pos + 1);
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const pre = `model.layers.${l}.`;
    const h = rmsnorm(x, P(pre + "input_layernorm.weight"), 1, C, eps).y;
    const q = matmulT(h, P(pre + "self_attn.q_proj.weight"), 1, C, QD);
    const k = matmulT(h, P(pre + "self_attn.k_proj.weight"), 1, C, KD);
    const v = matmulT(h, P(pre + "self_attn.v_proj.weight"), 1, C, KD);
    _rope(q, 1, 1, NH, HS, cos, sin);
    _rope(k, 1, 1, NKV, HS, cos, sin);
    cache.k[l].set(k, pos * KD);
    cache.v[l].set(v, pos * KD);
    const att = new Float32Array(QD);
    for (let hh = 0; hh < NH; hh++) {
      const kh = Math.floor(hh / G);
      let m = -Infinity;
      for (let s = 0; s <= pos; s++) {
        let d = 0;
        for (let i = 0; i < HS; i++) d += q[hh * HS + i] * cache.k[l][s * KD + kh * HS + i];
        sc[s] = d * scale;
        if (sc[s] > m) m = sc[s];
      }
      let z = 0;
      for (let s = 0; s <= pos; s++) z += sc[s] = Math.exp(sc[s] - m);
      for (let s = 0; s <= pos; s++) {
        const w = sc[s] / z;
        for (let i = 0; i < HS; i++) att[hh * HS + i] += w * cache.v[l][s * KD + kh * HS + i];
      }
    }
    const o = matmulT(att, P(pre + "self_attn.o_proj.weight"), 1, QD, C);
    for (let i = 0; i < C; i++) o[i] += x[i];
    const h2 = rmsnorm(o, P(pre + "post_attention_layernorm.weight"), 1, C, eps).y;
    const g = matmulT(h2, P(pre + "mlp.gate_proj.weight"), 1, C, F);
    const u = matmulT(h2, P(pre + "mlp.up_proj.weight"), 1, C, F);
    for (let i = 0; i < F; i++) g[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i];
    const d = matmulT(g, P(pre + "mlp.down_proj.weight"), 1, F, C);
    for (let i = 0; i < C; i++) d[i] += o[i];
    x = d;
  }
  cache.length = pos + 1;
  const hf = rmsnorm(x, P("model.norm.weight"), 1, C, eps).y;
  const lm = cfg.tie_word_embeddings ? emb : P("lm_head.weight");
  return matmulT(hf, lm, 1, C, V);
}
