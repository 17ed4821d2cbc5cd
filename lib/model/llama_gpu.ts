/**
 * The Llama decoder on the GPU, forward and backward, built from issue 3's WebGPU ops
 * (lib/ops: GEMM, RMSNorm, RoPE, SwiGLU, embedding, flash attention, fused LM-head
 * cross-entropy). Same parameters, names and math as the CPU reference (lib/model/llama_ref.ts),
 * which the tests compare it against.
 *
 * Shapes (legend as in llama_ref.ts): B batch, T positions, N = B·T tokens, C hidden, F SwiGLU
 * width, NH query heads, NKV key/value heads, HS head dim, V vocabulary, L layers.
 * Activations are row-major (N, ·), so a (N, NH·HS) buffer is the (B, T, NH, HS) tensor the
 * attention kernel takes.
 *
 * Precision: `fp32` is f32 throughout. `bf16` rounds every linear layer's operands (activations,
 * weights, output gradients) and attention's q, k, v, o to BF16, accumulating in f32. `fp8` is
 * Transformer Engine's HYBRID recipe on issue 3's FP8 GEMMs (`fp8Linear`: E4M3 activations and
 * weights, E5M2 output gradients, per-tensor delayed scaling with an amax history) in every linear
 * layer, with BF16 attention; its LM head runs the fused cross-entropy on E4M3-rounded h and W
 * (forward exact; the head's output gradient stays f32, since the fused kernel takes f32).
 * RMSNorm, SwiGLU and the residual stream are f32 in every mode. The fp8-attention ablation
 * (`fp8Attention`) also rounds q, k, v (delayed-scaled, slots `<layer>.att.q|k|v`) and the
 * probabilities through E4M3 inside the attention kernel. Residual additions
 * ride on GEMM accumulation (`beta = 1`): forward, a projection is accumulated into a copy of the
 * residual stream; backward, a norm's input gradient is added by a GEMM against an identity
 * (C, C) — issue 3's op set has no element-wise add yet; a fused add would remove that GEMM.
 *
 * @module
 */

import type { GpuRuntime } from "../gpu/runtime.ts";
import { empty, free, fromArray, Tensor, toF32, zeros } from "../gpu/tensor.ts";
import { matmul } from "../ops/gemm.ts";
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
import { crossEntropy } from "../ops/loss.ts";
import { dequantizeFp8, fromBf16, toBf16 } from "../ops/cast.ts";
import { fp8Linear, fp8LinearBackward, Fp8Scaling } from "../ops/fp8.ts";
import type { LlamaConfig } from "./config.ts";
import { type Params, paramShapes, type Precision } from "./llama_ref.ts";

/** A tensor viewed with another shape (same buffer, same element count). */
function _view(t: Tensor, shape: number[]): Tensor {
  return new Tensor(t.buffer, shape, t.dtype);
}

function _copy(rt: GpuRuntime, t: Tensor): Tensor {
  const out = empty(rt, t.shape, t.dtype);
  rt.copy(t.buffer, out.buffer, t.bytes);
  return out;
}

/** What a linear layer's backward needs: its (possibly rounded) input and weight operands. */
interface _Saved {
  x: Tensor; // (N, I) input as used by the GEMM (f32, bf16 or e4m3)
  w: Tensor; // (O, I) weight as used by the GEMM
  slot: string; // FP8 slot prefix
  own: boolean; // x and w are copies to free after the backward
}

interface _LayerCache {
  sq: _Saved;
  sk: _Saved;
  sv: _Saved;
  so: _Saved;
  sg: _Saved;
  su: _Saved;
  sd: _Saved;
  qa: Tensor; // q, k, v, o as attention saw them (bf16 unless fp32)
  ka: Tensor;
  va: Tensor;
  oa: Tensor;
  x: Tensor; // (N, C) layer input
  rstd1: Tensor; // (N)
  h: Tensor; // (N, C) normed input of q/k/v
  lse: Tensor; // (B, NH, T)
  x2: Tensor; // (N, C) after the attention residual
  rstd2: Tensor; // (N)
  h2: Tensor; // (N, C)
  g: Tensor; // (N, F)
  u: Tensor; // (N, F)
  a: Tensor; // (N, F) silu(g)·u
}

/** The model's weights on the GPU and its forward/backward passes. */
export class LlamaGpu {
  readonly weights = new Map<string, Tensor>();
  readonly #rope: RopeTable;
  readonly #eye: Tensor; // (C, C) identity for residual-gradient accumulation
  /** fp8 attention ablation: per layer, the E4M3 scales of q, k, v (3 f32) the kernel rounds by. */
  readonly #attScales: GPUBuffer[] = [];

  /** FP8 scaling state (fp8 only): slots `<layer>.<proj>.x|w` (E4M3) and `d<layer>.<proj>` (E5M2). */
  readonly fp8?: Fp8Scaling;

  constructor(
    readonly rt: GpuRuntime,
    readonly cfg: LlamaConfig,
    params: Params,
    readonly precision: Precision = "fp32",
    opts: { fp8Attention?: boolean } = {},
  ) {
    if (precision === "fp8") {
      const slots: string[] = [];
      for (let l = 0; l < cfg.num_hidden_layers; l++) {
        for (const p of ["q", "k", "v", "o", "gate", "up", "down"]) {
          slots.push(`l${l}.${p}.x`, `l${l}.${p}.w`, `dl${l}.${p}`);
        }
        if (opts.fp8Attention) slots.push(`l${l}.att.q`, `l${l}.att.k`, `l${l}.att.v`);
      }
      slots.push("head.x", "head.w");
      this.fp8 = new Fp8Scaling(rt, slots);
      if (opts.fp8Attention) {
        for (let l = 0; l < cfg.num_hidden_layers; l++) this.#attScales.push(rt.buffer(16));
      }
    } else if (opts.fp8Attention) {
      throw new Error("LlamaGpu: fp8Attention needs precision fp8");
    }
    for (const [name, shape] of paramShapes(cfg)) {
      const p = params.get(name);
      if (!p) throw new Error(`LlamaGpu: missing parameter ${name}`);
      this.weights.set(name, fromArray(rt, p, shape));
    }
    const rs = cfg.rope_scaling;
    this.#rope = makeRopeTable(
      rt,
      cfg.max_position_embeddings,
      cfg.head_dim,
      cfg.rope_theta,
      rs
        ? {
          factor: rs.factor,
          lowFreqFactor: rs.low_freq_factor,
          highFreqFactor: rs.high_freq_factor,
          originalMaxPositionEmbeddings: rs.original_max_position_embeddings,
        }
        : undefined,
    );
    const C = cfg.hidden_size;
    const eye = new Float32Array(C * C);
    for (let i = 0; i < C; i++) eye[i * C + i] = 1;
    this.#eye = fromArray(rt, eye, [C, C]);
  }

  #w(name: string): Tensor {
    const t = this.weights.get(name);
    if (!t) throw new Error(`LlamaGpu: missing weight ${name}`);
    return t;
  }

  get #lmHead(): Tensor {
    return this.#w(this.cfg.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight");
  }

  /** y (N, O) = x (N, I) · Wᵀ in this model's precision; returns y and what the backward needs. */
  #linear(x: Tensor, wName: string, slot: string): { y: Tensor; saved: _Saved } {
    const { rt } = this;
    const w = this.#w(wName);
    if (this.precision === "fp8") {
      const r = fp8Linear(rt, this.fp8!, x, w, { x: `${slot}.x`, w: `${slot}.w` });
      return { y: r.y, saved: { x: r.xq, w: r.wq, slot, own: true } };
    }
    if (this.precision === "bf16") {
      const xb = toBf16(rt, x), wb = toBf16(rt, w);
      return { y: matmul(rt, xb, wb, { transB: true }), saved: { x: xb, w: wb, slot, own: true } };
    }
    return { y: matmul(rt, x, w, { transB: true }), saved: { x, w, slot, own: false } };
  }

  /** Backward of {@linkcode #linear}: returns dx and adds dW into `grads`. */
  #linearBackward(dy: Tensor, s: _Saved, dw: Tensor): Tensor {
    const { rt } = this;
    if (this.precision === "fp8") {
      const slots = { x: `${s.slot}.x`, w: `${s.slot}.w`, dy: `d${s.slot}` };
      return fp8LinearBackward(rt, this.fp8!, dy, { xq: s.x, wq: s.w }, slots, dw).dx;
    }
    if (this.precision === "bf16") {
      const dyb = toBf16(rt, dy);
      const dx = matmul(rt, dyb, s.w);
      matmul(rt, dyb, s.x, { transA: true, out: dw, beta: 1 });
      free(rt, dyb);
      return dx;
    }
    const dx = matmul(rt, dy, s.w);
    matmul(rt, dy, s.x, { transA: true, out: dw, beta: 1 });
    return dx;
  }

  /** dst (N, C) += src (N, C), by a GEMM against the identity (no element-wise add op yet). */
  #addInto(dst: Tensor, src: Tensor): void {
    matmul(this.rt, src, this.#eye, { out: dst, beta: 1 });
  }

  /**
   * The fp8-attention ablation's options for layer `l`: records the amaxes of q, k, v in their
   * FP8 slots (delayed scaling, like the linear layers) and hands the kernel their current scales.
   */
  #attOpts(l: number, q: Tensor, k: Tensor, v: Tensor): { fp8Scales?: GPUBuffer } {
    if (!this.#attScales.length) return {};
    const { rt } = this;
    const fp8 = this.fp8!;
    const buf = this.#attScales[l];
    [["q", q], ["k", k], ["v", v]].forEach(([name, t], i) => {
      const slot = `l${l}.att.${name}`;
      free(rt, fp8.quantize(t as Tensor, slot)); // records this pass's amax
      const sc = fp8.scale(slot);
      rt.copy(sc.buffer, buf, 4, sc.index * 4, i * 4);
    });
    return { fp8Scales: buf };
  }

  /** Attention operands in this precision (bf16 unless fp32). */
  #attIn(t: Tensor): Tensor {
    return this.precision === "fp32" ? t : toBf16(this.rt, t);
  }

  /** Runs the decoder stack; returns the final hidden states before the norm and the caches. */
  #stack(ids: Tensor, pos: Tensor, B: number, T: number) {
    const { rt, cfg } = this;
    const N = B * T, HS = cfg.head_dim;
    const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads, eps = cfg.rms_norm_eps;
    let x = embedding(rt, this.#w("model.embed_tokens.weight"), ids); // (N, C)
    const caches: _LayerCache[] = [];
    for (let l = 0; l < cfg.num_hidden_layers; l++) {
      const pre = `model.layers.${l}.`;
      const n1 = rmsnorm(rt, x, this.#w(pre + "input_layernorm.weight"), eps);
      const lq = this.#linear(n1.y, pre + "self_attn.q_proj.weight", `l${l}.q`);
      const lk = this.#linear(n1.y, pre + "self_attn.k_proj.weight", `l${l}.k`);
      const lv = this.#linear(n1.y, pre + "self_attn.v_proj.weight", `l${l}.v`);
      const q = rope(rt, _view(lq.y, [N, NH, HS]), pos, this.#rope); // (N, NH, HS)
      const k = rope(rt, _view(lk.y, [N, NKV, HS]), pos, this.#rope); // (N, NKV, HS)
      free(rt, lq.y, lk.y);
      const qa = this.#attIn(q), ka = this.#attIn(k), va = this.#attIn(lv.y);
      const att = attention(
        rt,
        _view(qa, [B, T, NH, HS]),
        _view(ka, [B, T, NKV, HS]),
        _view(va, [B, T, NKV, HS]),
        this.#attOpts(l, q, k, lv.y),
      );
      const o = this.precision === "fp32" ? att.o : fromBf16(rt, att.o); // (B, T, NH, HS) f32
      const lo = this.#linear(_view(o, [N, NH * HS]), pre + "self_attn.o_proj.weight", `l${l}.o`);
      const x2 = _copy(rt, x); // x2 = x + o·Woᵀ
      this.#addInto(x2, lo.y);
      const n2 = rmsnorm(rt, x2, this.#w(pre + "post_attention_layernorm.weight"), eps);
      const lg = this.#linear(n2.y, pre + "mlp.gate_proj.weight", `l${l}.gate`);
      const lu = this.#linear(n2.y, pre + "mlp.up_proj.weight", `l${l}.up`);
      const a = swiglu(rt, lg.y, lu.y);
      const ld = this.#linear(a, pre + "mlp.down_proj.weight", `l${l}.down`);
      const x3 = _copy(rt, x2); // x3 = x2 + a·Wdᵀ
      this.#addInto(x3, ld.y);
      free(rt, lo.y, ld.y);
      if (this.precision !== "fp32") free(rt, q, k, lv.y, o);
      caches.push({
        sq: lq.saved,
        sk: lk.saved,
        sv: lv.saved,
        so: lo.saved,
        sg: lg.saved,
        su: lu.saved,
        sd: ld.saved,
        qa,
        ka,
        va,
        oa: att.o,
        x,
        rstd1: n1.rstd,
        h: n1.y,
        lse: att.lse,
        x2,
        rstd2: n2.rstd,
        h2: n2.y,
        g: lg.y,
        u: lu.y,
        a,
      });
      x = x3;
    }
    return { x, caches };
  }

  #inputs(tokens: ArrayLike<number>, B: number, T: number) {
    if (tokens.length !== B * T) throw new Error(`LlamaGpu: ${tokens.length} tokens != B·T`);
    if (T > this.cfg.max_position_embeddings) {
      throw new Error(`LlamaGpu: T ${T} > max_position_embeddings`);
    }
    const ids = fromArray(this.rt, Array.from(tokens), [B * T], "u32");
    const pos = fromArray(this.rt, Array.from({ length: B * T }, (_, i) => i % T), [B * T], "u32");
    return { ids, pos };
  }

  #freeCaches(caches: _LayerCache[]) {
    const { rt } = this;
    for (const c of caches) {
      for (const sv of [c.sq, c.sk, c.sv, c.so, c.sg, c.su, c.sd]) if (sv.own) free(rt, sv.x, sv.w);
      free(
        rt,
        c.qa,
        c.ka,
        c.va,
        c.oa,
        c.lse,
        c.x,
        c.rstd1,
        c.h,
        c.x2,
        c.rstd2,
        c.h2,
        c.g,
        c.u,
        c.a,
      );
    }
  }

  /** The LM head's operands in this precision: h (N, C) and W (V, C), and what to free. */
  #headOperands(h: Tensor): { h: Tensor; w: Tensor; temps: Tensor[] } {
    const { rt } = this;
    const w = this.#lmHead;
    if (this.precision === "bf16") {
      const hb = toBf16(rt, h), wb = toBf16(rt, w);
      const hr = fromBf16(rt, hb), wr = fromBf16(rt, wb);
      free(rt, hb, wb);
      return { h: hr, w: wr, temps: [hr, wr] };
    }
    if (this.precision === "fp8") {
      const fp8 = this.fp8!;
      const hq = fp8.quantize(h, "head.x"), wq = fp8.quantize(w, "head.w");
      const hr = dequantizeFp8(rt, hq, fp8.scaleInv("head.x"));
      const wr = dequantizeFp8(rt, wq, fp8.scaleInv("head.w"));
      free(rt, hq, wq);
      return { h: hr, w: wr, temps: [hr, wr] };
    }
    return { h, w, temps: [] };
  }

  /** Logits (B·T, V) of tokens (B, T), read back. */
  async logits(tokens: ArrayLike<number>, B: number, T: number): Promise<Float32Array> {
    const { rt, cfg } = this;
    const { ids, pos } = this.#inputs(tokens, B, T);
    const { x, caches } = this.#stack(ids, pos, B, T);
    const nf = rmsnorm(rt, x, this.#w("model.norm.weight"), cfg.rms_norm_eps);
    const head = this.#headOperands(nf.y);
    const logits = matmul(rt, head.h, head.w, { transB: true }); // (N, V)
    const out = await toF32(rt, logits);
    this.#freeCaches(caches);
    free(rt, x, nf.y, nf.rstd, logits, ids, pos, ...head.temps);
    return out;
  }

  /** Zeroed gradient tensors, one per parameter (the tied head shares the embedding's). */
  zeroGrads(): Map<string, Tensor> {
    const g = new Map<string, Tensor>();
    for (const [name, shape] of paramShapes(this.cfg)) g.set(name, zeros(this.rt, shape));
    return g;
  }

  /**
   * Mean cross-entropy of tokens (B, T) against targets (B, T; < 0 ignored), and its gradient
   * (times `lossScale`) added into `grads`. Returns the loss and the number of targets.
   */
  async lossAndGrads(
    tokens: ArrayLike<number>,
    targets: ArrayLike<number>,
    B: number,
    T: number,
    grads: Map<string, Tensor>,
    lossScale = 1,
  ): Promise<{ loss: number; count: number }> {
    const { rt, cfg } = this;
    const N = B * T, HS = cfg.head_dim;
    const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads;
    let count = 0;
    for (let i = 0; i < N; i++) if (targets[i] >= 0) count++;
    if (!count) return { loss: NaN, count };
    const G = (name: string) => grads.get(name)!;
    const { ids, pos } = this.#inputs(tokens, B, T);
    const tg = fromArray(rt, Array.from(targets), [N], "i32");
    const { x, caches } = this.#stack(ids, pos, B, T);
    const nf = rmsnorm(rt, x, this.#w("model.norm.weight"), cfg.rms_norm_eps);
    const headGrad = G(cfg.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight");
    const head = this.#headOperands(nf.y);
    const ce = crossEntropy(rt, head.h, head.w, tg, {
      gradScale: lossScale / count,
      dwAccum: headGrad,
    });
    free(rt, ...head.temps);
    const fb = rmsnormBackward(
      rt,
      ce.dh!,
      x,
      this.#w("model.norm.weight"),
      nf.rstd,
      G("model.norm.weight"),
    );
    const dx = fb.dx; // (N, C) gradient of the residual stream
    free(rt, ce.dh!, nf.y, nf.rstd, x);
    for (let l = cfg.num_hidden_layers - 1; l >= 0; l--) {
      const pre = `model.layers.${l}.`;
      const c = caches[l];
      // MLP: x3 = x2 + a·Wdᵀ, a = silu(h2·Wgᵀ) ⊙ (h2·Wuᵀ)
      const da = this.#linearBackward(dx, c.sd, G(pre + "mlp.down_proj.weight")); // (N, F)
      const { dg, du } = swigluBackward(rt, da, c.g, c.u);
      const dh2 = this.#linearBackward(dg, c.sg, G(pre + "mlp.gate_proj.weight")); // (N, C)
      const dh2u = this.#linearBackward(du, c.su, G(pre + "mlp.up_proj.weight"));
      this.#addInto(dh2, dh2u);
      const n2 = rmsnormBackward(
        rt,
        dh2,
        c.x2,
        this.#w(pre + "post_attention_layernorm.weight"),
        c.rstd2,
        G(pre + "post_attention_layernorm.weight"),
      );
      this.#addInto(dx, n2.dx); // dx2 = dx + norm's dx
      free(rt, da, dg, du, dh2, dh2u, n2.dx);
      // attention: x2 = x + o·Woᵀ
      const dO = this.#linearBackward(dx, c.so, G(pre + "self_attn.o_proj.weight")); // (N, NH*HS)
      const dOa = this.precision === "fp32" ? dO : toBf16(rt, dO);
      const ab = attentionBackward(
        rt,
        _view(c.qa, [B, T, NH, HS]),
        _view(c.ka, [B, T, NKV, HS]),
        _view(c.va, [B, T, NKV, HS]),
        _view(c.oa, [B, T, NH, HS]),
        c.lse,
        _view(dOa, [B, T, NH, HS]),
        this.#attScales.length ? { fp8Scales: this.#attScales[l] } : {},
      );
      const dq = rope(rt, _view(ab.dq, [N, NH, HS]), pos, this.#rope, true);
      const dk = rope(rt, _view(ab.dk, [N, NKV, HS]), pos, this.#rope, true);
      const dh = this.#linearBackward(
        _view(dq, [N, NH * HS]),
        c.sq,
        G(pre + "self_attn.q_proj.weight"),
      ); // (N, C)
      const dhk = this.#linearBackward(
        _view(dk, [N, NKV * HS]),
        c.sk,
        G(pre + "self_attn.k_proj.weight"),
      );
      const dhv = this.#linearBackward(
        _view(ab.dv, [N, NKV * HS]),
        c.sv,
        G(pre + "self_attn.v_proj.weight"),
      );
      this.#addInto(dh, dhk);
      this.#addInto(dh, dhv);
      const n1 = rmsnormBackward(
        rt,
        dh,
        c.x,
        this.#w(pre + "input_layernorm.weight"),
        c.rstd1,
        G(pre + "input_layernorm.weight"),
      );
      this.#addInto(dx, n1.dx); // dx = dx2 + norm's dx
      free(rt, dO, ab.dq, ab.dk, ab.dv, dq, dk, dh, dhk, dhv, n1.dx);
      if (dOa !== dO) free(rt, dOa);
    }
    embeddingBackward(rt, dx, Array.from(tokens), G("model.embed_tokens.weight"));
    const rows = await toF32(rt, ce.loss);
    let sum = 0;
    for (let i = 0; i < N; i++) if (targets[i] >= 0) sum += rows[i];
    this.#freeCaches(caches);
    free(rt, dx, ce.loss, ids, pos, tg);
    return { loss: sum / count, count };
  }

  /** Reads the weights back as f32 parameters. */
  async readParams(): Promise<Params> {
    const out: Params = new Map();
    for (const [name, t] of this.weights) out.set(name, await toF32(this.rt, t));
    return out;
  }

  /** Returns every GPU buffer to the runtime's pool. */
  destroy(): void {
    free(this.rt, ...this.weights.values(), this.#rope.table, this.#eye);
    this.weights.clear();
  }
}
