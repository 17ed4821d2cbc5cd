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
 * Precision: this first GPU version is f32 throughout (attention included). Residual additions
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
import type { LlamaConfig } from "./config.ts";
import { type Params, paramShapes } from "./llama_ref.ts";

/** A tensor viewed with another shape (same buffer, same element count). */
function _view(t: Tensor, shape: number[]): Tensor {
  return new Tensor(t.buffer, shape, t.dtype);
}

function _copy(rt: GpuRuntime, t: Tensor): Tensor {
  const out = empty(rt, t.shape, t.dtype);
  rt.copy(t.buffer, out.buffer, t.bytes);
  return out;
}

interface _LayerCache {
  x: Tensor; // (N, C) layer input
  rstd1: Tensor; // (N)
  h: Tensor; // (N, C) normed input of q/k/v
  q: Tensor; // (N, NH*HS) after RoPE
  k: Tensor; // (N, NKV*HS) after RoPE
  v: Tensor; // (N, NKV*HS)
  o: Tensor; // (N, NH*HS) attention output
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

  constructor(readonly rt: GpuRuntime, readonly cfg: LlamaConfig, params: Params) {
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
      const qr = matmul(rt, n1.y, this.#w(pre + "self_attn.q_proj.weight"), { transB: true });
      const kr = matmul(rt, n1.y, this.#w(pre + "self_attn.k_proj.weight"), { transB: true });
      const v = matmul(rt, n1.y, this.#w(pre + "self_attn.v_proj.weight"), { transB: true });
      const q = rope(rt, _view(qr, [N, NH, HS]), pos, this.#rope); // (N, NH, HS)
      const k = rope(rt, _view(kr, [N, NKV, HS]), pos, this.#rope); // (N, NKV, HS)
      free(rt, qr, kr);
      const att = attention(
        rt,
        _view(q, [B, T, NH, HS]),
        _view(k, [B, T, NKV, HS]),
        _view(v, [B, T, NKV, HS]),
      );
      const x2 = _copy(rt, x); // x2 = x + o·Woᵀ
      matmul(rt, _view(att.o, [N, NH * HS]), this.#w(pre + "self_attn.o_proj.weight"), {
        transB: true,
        out: x2,
        beta: 1,
      });
      const n2 = rmsnorm(rt, x2, this.#w(pre + "post_attention_layernorm.weight"), eps);
      const g = matmul(rt, n2.y, this.#w(pre + "mlp.gate_proj.weight"), { transB: true });
      const u = matmul(rt, n2.y, this.#w(pre + "mlp.up_proj.weight"), { transB: true });
      const a = swiglu(rt, g, u);
      const x3 = _copy(rt, x2); // x3 = x2 + a·Wdᵀ
      matmul(rt, a, this.#w(pre + "mlp.down_proj.weight"), { transB: true, out: x3, beta: 1 });
      caches.push({
        x,
        rstd1: n1.rstd,
        h: n1.y,
        q: _view(q, [N, NH * HS]),
        k: _view(k, [N, NKV * HS]),
        v,
        o: _view(att.o, [N, NH * HS]),
        lse: att.lse,
        x2,
        rstd2: n2.rstd,
        h2: n2.y,
        g,
        u,
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
    for (const c of caches) {
      free(
        this.rt,
        c.x,
        c.rstd1,
        c.h,
        c.q,
        c.k,
        c.v,
        c.o,
        c.lse,
        c.x2,
        c.rstd2,
        c.h2,
        c.g,
        c.u,
        c.a,
      );
    }
  }

  /** Logits (B·T, V) of tokens (B, T), read back. */
  async logits(tokens: ArrayLike<number>, B: number, T: number): Promise<Float32Array> {
    const { rt, cfg } = this;
    const { ids, pos } = this.#inputs(tokens, B, T);
    const { x, caches } = this.#stack(ids, pos, B, T);
    const nf = rmsnorm(rt, x, this.#w("model.norm.weight"), cfg.rms_norm_eps);
    const logits = matmul(rt, nf.y, this.#lmHead, { transB: true }); // (N, V)
    const out = await toF32(rt, logits);
    this.#freeCaches(caches);
    free(rt, x, nf.y, nf.rstd, logits, ids, pos);
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
    const ce = crossEntropy(rt, nf.y, this.#lmHead, tg, {
      gradScale: lossScale / count,
      dwAccum: headGrad,
    });
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
      const da = matmul(rt, dx, this.#w(pre + "mlp.down_proj.weight")); // (N, F)
      matmul(rt, dx, c.a, { transA: true, out: G(pre + "mlp.down_proj.weight"), beta: 1 });
      const { dg, du } = swigluBackward(rt, da, c.g, c.u);
      const dh2 = matmul(rt, dg, this.#w(pre + "mlp.gate_proj.weight")); // (N, C)
      matmul(rt, du, this.#w(pre + "mlp.up_proj.weight"), { out: dh2, beta: 1 });
      matmul(rt, dg, c.h2, { transA: true, out: G(pre + "mlp.gate_proj.weight"), beta: 1 });
      matmul(rt, du, c.h2, { transA: true, out: G(pre + "mlp.up_proj.weight"), beta: 1 });
      const n2 = rmsnormBackward(
        rt,
        dh2,
        c.x2,
        this.#w(pre + "post_attention_layernorm.weight"),
        c.rstd2,
        G(pre + "post_attention_layernorm.weight"),
      );
      matmul(rt, n2.dx, this.#eye, { out: dx, beta: 1 }); // dx2 = dx + norm's dx
      const dx2 = dx;
      free(rt, da, dg, du, dh2, n2.dx);
      // attention: x2 = x + o·Woᵀ
      const dO = matmul(rt, dx2, this.#w(pre + "self_attn.o_proj.weight")); // (N, NH*HS)
      matmul(rt, dx2, c.o, { transA: true, out: G(pre + "self_attn.o_proj.weight"), beta: 1 });
      const ab = attentionBackward(
        rt,
        _view(c.q, [B, T, NH, HS]),
        _view(c.k, [B, T, NKV, HS]),
        _view(c.v, [B, T, NKV, HS]),
        _view(c.o, [B, T, NH, HS]),
        c.lse,
        _view(dO, [B, T, NH, HS]),
      );
      const dq = rope(rt, _view(ab.dq, [N, NH, HS]), pos, this.#rope, true);
      const dk = rope(rt, _view(ab.dk, [N, NKV, HS]), pos, this.#rope, true);
      const dq2 = _view(dq, [N, NH * HS]), dk2 = _view(dk, [N, NKV * HS]);
      const dv2 = _view(ab.dv, [N, NKV * HS]);
      const dh = matmul(rt, dq2, this.#w(pre + "self_attn.q_proj.weight")); // (N, C)
      matmul(rt, dk2, this.#w(pre + "self_attn.k_proj.weight"), { out: dh, beta: 1 });
      matmul(rt, dv2, this.#w(pre + "self_attn.v_proj.weight"), { out: dh, beta: 1 });
      matmul(rt, dq2, c.h, { transA: true, out: G(pre + "self_attn.q_proj.weight"), beta: 1 });
      matmul(rt, dk2, c.h, { transA: true, out: G(pre + "self_attn.k_proj.weight"), beta: 1 });
      matmul(rt, dv2, c.h, { transA: true, out: G(pre + "self_attn.v_proj.weight"), beta: 1 });
      const n1 = rmsnormBackward(
        rt,
        dh,
        c.x,
        this.#w(pre + "input_layernorm.weight"),
        c.rstd1,
        G(pre + "input_layernorm.weight"),
      );
      matmul(rt, n1.dx, this.#eye, { out: dx, beta: 1 }); // dx = dx2 + norm's dx
      free(rt, dO, ab.dq, ab.dk, ab.dv, dq, dk, dh, n1.dx);
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
