/**
 * The Llama decoder, written once against {@linkcode Ops} and so run on either backend (WebGPU or
 * the TypeScript references, or a mix for debugging): GQA, RoPE with Llama 3.1 scaling, RMSNorm,
 * SwiGLU, tied or untied head, Hugging Face parameter names; packed sequences (document ids and
 * per-document positions); a general loss head (per-token weights, soft targets, a value head);
 * read-only activation hooks; and the KV-cache steps generation uses (lib/model/generate.ts).
 *
 * Shapes: B batch, T positions, N = B·T tokens, C hidden, F SwiGLU width, NH query heads, NKV
 * key/value heads, HS head dim, V vocabulary, L layers, S KV-cache length (lib/model/ops.ts).
 * Precision: lib/model/precision.ts says where values are rounded; this file is where.
 *
 * @example
 * ```ts ignore
 * const model = await Llama.create(cfg, params, { device: "cpu" });
 * const pass = await model.forward({ B: 1, T: 4, tokens: [1, 2, 3, 4] }, { grad: true });
 * const grads = model.zeroGrads();
 * const { loss } = await model.backward(pass, { targets: [2, 3, 4, -1] }, grads);
 * ```
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import type { LlamaConfig } from "./config.ts";
import { type Params, paramShapes } from "./params.ts";
import type { Fp8State, Ops, RopeHandle } from "./ops.ts";
import { type Precision, precisionPolicy } from "./precision.ts";

/** A batch of token rows, optionally packed (several documents per row). */
export interface Batch {
  B: number;
  T: number;
  /** (B·T) token ids. */
  tokens: ArrayLike<number>;
  /** (B·T) document id per token: no attention across documents; positions restart at each. */
  docIds?: ArrayLike<number>;
  /** (B·T) positions (default: t, restarting where the document id changes). */
  positions?: ArrayLike<number>;
}

/**
 * Activations a hook may read, per layer: the block input (N, C), the RMSNorm outputs attention
 * and the MLP read (N, C), the attention heads' outputs (N, NH·HS), the SwiGLU state (N, F) and
 * the block output (N, C).
 */
export type ActivationName =
  | "block_in"
  | "attn_norm"
  | "attn_heads"
  | "mlp_norm"
  | "mlp_act"
  | "block_out";

/** Read-only activation callbacks (pruning importance, probes); nothing is read unless named. */
export interface Hooks {
  names: ActivationName[];
  fn: (
    layer: number,
    name: ActivationName,
    data: Float32Array,
    shape: readonly number[],
  ) => void | Promise<void>;
}

/** The loss of {@linkcode Llama.backward}: any mix of its three terms. */
export interface LossSpec {
  /** (N) next-token targets; < 0 = none. */
  targets: ArrayLike<number>;
  /** (N) weight of each token's −log p(target) (default: 1 / number of targets: the mean). */
  weights?: ArrayLike<number>;
  /**
   * Soft targets (distillation): a teacher's distribution per token, full (N·V) or top-k (N·K
   * with `ids`); row loss τ²·KL(q ‖ softmax(z/τ)), gradient τ·(softmax(z/τ) − q), times `weights`.
   */
  soft?: {
    probs: Float32Array;
    ids?: Int32Array;
    k?: number;
    weights: ArrayLike<number>;
    temperature: number;
  };
  /** A value head (`score.weight`) on token `positions[b]` of each sequence, with ∂L/∂v_b. */
  value?: { positions: ArrayLike<number>; grad: ArrayLike<number> };
  /** Multiplies every term (e.g. 1 / accumulation steps). */
  scale?: number;
}

interface _Linear<T> {
  x: T; // (N, I) the operand the GEMM used (f32, bf16 or e4m3)
  w: T; // (O, I)
  slot: string;
  own: boolean; // x and w are rounded copies to free
}

interface _Layer<T> {
  x: T; // (N, C) block input
  h: T; // (N, C) normed
  rstd1: T; // (N)
  sq: _Linear<T>;
  sk: _Linear<T>;
  sv: _Linear<T>;
  qa: T; // (B, T, NH, HS) q as attention saw it
  ka: T; // (B, T, NKV, HS)
  va: T;
  att: T; // (B, T, NH, HS) attention output (q's type)
  lse: T; // (B, NH, T)
  fp8s?: T; // (3) the ablation's q, k, v scales
  so: _Linear<T>;
  x2: T; // (N, C) after the attention residual
  h2: T;
  rstd2: T;
  sg: _Linear<T>;
  su: _Linear<T>;
  g: T; // (N, F)
  u: T;
  a: T; // (N, F) silu(g)·u
  sd: _Linear<T>;
}

/** What {@linkcode Llama.forward} keeps: the final hidden states and, for a backward, the caches. */
export interface Pass<T> {
  batch: Batch;
  N: number;
  pos: T; // (N) u32
  doc?: T; // (B, T) u32
  /** (N, C) f32: the final RMSNorm's output, what the LM head reads. */
  hidden: T;
  xLast?: T; // (N, C) before the final norm
  rstdF?: T;
  layers?: _Layer<T>[];
}

/** Per-token scores of given targets. */
export interface TokenScores {
  /** (N) log p(target) (0 where the target is < 0). */
  logprob: Float32Array;
  /** (N) 1 where the target is the argmax (greedy) token. */
  greedy: Uint8Array;
}

/** A KV cache for a batch of rows: per layer (B·S, NKV·HS) keys and values, and row lengths. */
export interface KvCache<T> {
  S: number;
  B: number;
  k: T[];
  v: T[];
  lengths: number[];
}

const PROJ = ["q", "k", "v", "o", "gate", "up", "down"] as const;

/** Positions restarting at each document (or 0…T−1 per row). */
export function positionsOf(b: Batch): number[] {
  if (b.positions) return Array.from(b.positions);
  const out = new Array<number>(b.B * b.T);
  for (let r = 0; r < b.B; r++) {
    let p = 0;
    for (let t = 0; t < b.T; t++) {
      const i = r * b.T + t;
      if (t > 0 && b.docIds && b.docIds[i] !== b.docIds[i - 1]) p = 0;
      out[i] = p++;
    }
  }
  return out;
}

/** The model: weights on a backend, a precision policy, forward, backward and decoding steps. */
export class Llama<T> {
  readonly weights = new Map<string, T>();
  readonly fp8?: Fp8State<T>;
  readonly #rope: RopeHandle;
  #headRounded?: T; // the head weight as the head reads it (see #headWeight)

  constructor(
    readonly cfg: LlamaConfig,
    readonly ops: Ops<T>,
    params: Params,
    readonly precision: Precision = precisionPolicy("fp32"),
  ) {
    const valueHead = params.has("score.weight");
    for (const [name, shape] of paramShapes(cfg, valueHead)) {
      const p = params.get(name);
      if (!p) throw new UserError(`model: missing parameter ${name}`);
      this.weights.set(name, ops.upload(p, shape));
    }
    if (precision.mode === "fp8") {
      const slots: { name: string; format: "e4m3" | "e5m2" }[] = [];
      for (let l = 0; l < cfg.num_hidden_layers; l++) {
        for (const p of PROJ) {
          slots.push(
            { name: `l${l}.${p}.x`, format: "e4m3" },
            { name: `l${l}.${p}.w`, format: "e4m3" },
            { name: `dl${l}.${p}`, format: "e5m2" },
          );
        }
        if (precision.fp8Attention) {
          for (const n of ["q", "k", "v"]) slots.push({ name: `l${l}.att.${n}`, format: "e4m3" });
        }
      }
      this.fp8 = ops.fp8State(slots, {
        historyLen: precision.amaxHistory,
        margin: precision.margin,
      });
    }
    const rs = cfg.rope_scaling;
    this.#rope = ops.ropeTable(
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
  }

  #w(name: string): T {
    const t = this.weights.get(name);
    if (!t) throw new UserError(`model: no parameter ${name}`);
    return t;
  }

  get #headName(): string {
    return this.cfg.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  }

  /** True when the model carries a value head (`score.weight`). */
  get hasValueHead(): boolean {
    return this.weights.has("score.weight");
  }

  // ---- precision: the rounding points of lib/model/precision.ts ----------------------------

  async #linear(x: T, wName: string, slot: string): Promise<{ y: T; s: _Linear<T> }> {
    const { ops } = this, w = this.#w(wName), mode = this.precision.mode;
    if (mode === "fp32") {
      return { y: await ops.matmul(x, w, { transB: true }), s: { x, w, slot, own: false } };
    }
    const xq = mode === "fp8" ? await this.fp8!.quantize(x, `${slot}.x`) : await ops.toBf16(x);
    const wq = mode === "fp8" ? await this.fp8!.quantize(w, `${slot}.w`) : await ops.toBf16(w);
    return { y: await ops.matmul(xq, wq, { transB: true }), s: { x: xq, w: wq, slot, own: true } };
  }

  /** dx of a linear layer; dW is added into `dw`. */
  async #linearBackward(dy: T, s: _Linear<T>, dw: T): Promise<T> {
    const { ops } = this, mode = this.precision.mode;
    const g = mode === "fp32"
      ? dy
      : mode === "fp8"
      ? await this.fp8!.quantize(dy, `d${s.slot}`)
      : await ops.toBf16(dy);
    const dx = await ops.matmul(g, s.w);
    await ops.matmul(g, s.x, { transA: true, out: dw, beta: 1 });
    if (g !== dy) ops.free(g);
    return dx;
  }

  /** Attention's operand format: f32 under fp32, else BF16. */
  async #attIn(t: T): Promise<T> {
    return this.precision.mode === "fp32" ? t : await this.ops.toBf16(t);
  }

  /**
   * `t` rounded to BF16 values, kept f32 (outside fp32: the LM head's operands, and the KV cache
   * and decode attention's operands, which the decode kernel reads as f32), or `t` itself.
   */
  async #roundBf16(t: T): Promise<T> {
    if (this.precision.mode === "fp32") return t;
    const b = await this.ops.toBf16(t);
    const r = await this.ops.fromBf16(b);
    this.ops.free(b);
    return r;
  }

  /** The LM head's weight operand: rounded once per weight update (outside fp32), then reused. */
  async #headWeight(): Promise<T> {
    this.#headRounded ??= await this.#roundBf16(this.#w(this.#headName));
    return this.#headRounded;
  }

  /** Call after the weights changed in place (an optimizer step): drops derived copies. */
  weightsChanged(): void {
    const w = this.#headRounded;
    if (w !== undefined && w !== this.weights.get(this.#headName)) this.ops.free(w);
    this.#headRounded = undefined;
  }

  // ---- forward ----------------------------------------------------------------------------

  #checkBatch(b: Batch): number {
    const N = b.B * b.T, V = this.cfg.vocab_size;
    if (b.tokens.length !== N) {
      throw new UserError(`batch: ${b.tokens.length} tokens, expected B·T = ${N}`);
    }
    for (let i = 0; i < N; i++) {
      const id = b.tokens[i];
      if (!(Number.isInteger(id) && id >= 0 && id < V)) {
        throw new UserError(`batch: token id ${id} at ${i} is outside the vocabulary (0…${V - 1})`);
      }
    }
    if (b.docIds && b.docIds.length !== N) throw new UserError(`batch: docIds is not B·T long`);
    return N;
  }

  /**
   * Runs the decoder over a batch. With `grad`, keeps what {@linkcode backward} needs; `hooks`
   * receive named activations per layer; `kv` receives each layer's keys and values (prefill).
   */
  async forward(
    batch: Batch,
    o: { grad?: boolean; hooks?: Hooks; kv?: KvCache<T> } = {},
  ): Promise<Pass<T>> {
    const { ops, cfg } = this;
    const N = this.#checkBatch(batch), { B, T } = batch;
    const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads, HS = cfg.head_dim;
    const eps = cfg.rms_norm_eps, grad = !!o.grad;
    const positions = positionsOf(batch);
    if (positions.some((p) => p >= cfg.max_position_embeddings)) {
      throw new UserError(
        `batch: position ${
          Math.max(...positions)
        } ≥ max_position_embeddings ${cfg.max_position_embeddings}`,
      );
    }
    const pos = ops.upload(positions, [N], "u32");
    const doc = batch.docIds ? ops.upload(batch.docIds, [B, T], "u32") : undefined;
    const hook = async (
      l: number,
      name: ActivationName,
      t: T,
    ) => {
      if (o.hooks?.names.includes(name)) {
        await o.hooks.fn(l, name, await ops.read(t) as Float32Array, ops.shape(t));
      }
    };
    let x = await ops.embedding(this.#w("model.embed_tokens.weight"), batch.tokens); // (N, C)
    const layers: _Layer<T>[] = [];
    for (let l = 0; l < cfg.num_hidden_layers; l++) {
      const pre = `model.layers.${l}.`;
      await hook(l, "block_in", x);
      const n1 = await ops.rmsnorm(x, this.#w(pre + "input_layernorm.weight"), eps);
      await hook(l, "attn_norm", n1.y);
      const lq = await this.#linear(n1.y, pre + "self_attn.q_proj.weight", `l${l}.q`);
      const lk = await this.#linear(n1.y, pre + "self_attn.k_proj.weight", `l${l}.k`);
      const lv = await this.#linear(n1.y, pre + "self_attn.v_proj.weight", `l${l}.v`);
      const q = await ops.rope(ops.view(lq.y, [N, NH, HS]), pos, this.#rope); // (N, NH, HS)
      const k = await ops.rope(ops.view(lk.y, [N, NKV, HS]), pos, this.#rope); // (N, NKV, HS)
      ops.free(lq.y, lk.y);
      if (o.kv) await this.#cacheKv(o.kv, l, k, lv.y, B, T);
      const fp8s = await this.#attScales(l, q, k, lv.y);
      const qa = await this.#attIn(q), ka = await this.#attIn(k), va = await this.#attIn(lv.y);
      const att = await ops.attention(
        ops.view(qa, [B, T, NH, HS]),
        ops.view(ka, [B, T, NKV, HS]),
        ops.view(va, [B, T, NKV, HS]),
        { doc, fp8Scales: fp8s },
      );
      const oh = this.precision.mode === "fp32" ? att.o : await ops.fromBf16(att.o);
      const o2 = ops.view(oh, [N, NH * HS]);
      await hook(l, "attn_heads", o2);
      const lo = await this.#linear(o2, pre + "self_attn.o_proj.weight", `l${l}.o`);
      const x2 = await ops.add(x, lo.y);
      const n2 = await ops.rmsnorm(x2, this.#w(pre + "post_attention_layernorm.weight"), eps);
      await hook(l, "mlp_norm", n2.y);
      const lg = await this.#linear(n2.y, pre + "mlp.gate_proj.weight", `l${l}.gate`);
      const lu = await this.#linear(n2.y, pre + "mlp.up_proj.weight", `l${l}.up`);
      const a = await ops.swiglu(lg.y, lu.y);
      await hook(l, "mlp_act", a);
      const ld = await this.#linear(a, pre + "mlp.down_proj.weight", `l${l}.down`);
      const x3 = await ops.add(x2, ld.y);
      await hook(l, "block_out", x3);
      ops.free(lo.y, ld.y);
      if (this.precision.mode !== "fp32") ops.free(q, k, lv.y, oh);
      const layer: _Layer<T> = {
        x,
        h: n1.y,
        rstd1: n1.rstd,
        sq: lq.s,
        sk: lk.s,
        sv: lv.s,
        qa,
        ka,
        va,
        att: att.o,
        lse: att.lse,
        fp8s,
        so: lo.s,
        x2,
        h2: n2.y,
        rstd2: n2.rstd,
        sg: lg.s,
        su: lu.s,
        g: lg.y,
        u: lu.y,
        a,
        sd: ld.s,
      };
      if (grad) layers.push(layer);
      else this.#freeLayer(layer);
      x = x3;
    }
    const nf = await ops.rmsnorm(x, this.#w("model.norm.weight"), eps);
    if (!grad) {
      ops.free(x, nf.rstd);
      return { batch, N, pos, doc, hidden: nf.y };
    }
    return { batch, N, pos, doc, hidden: nf.y, xLast: x, rstdF: nf.rstd, layers };
  }

  /** The fp8-attention ablation's q, k, v scales for layer `l` (recording their amaxes). */
  async #attScales(l: number, q: T, k: T, v: T): Promise<T | undefined> {
    if (!this.precision.fp8Attention) return undefined;
    const names = ["q", "k", "v"].map((n) => `l${l}.att.${n}`);
    const ts = [q, k, v];
    for (let i = 0; i < 3; i++) this.ops.free(await this.fp8!.quantize(ts[i], names[i]));
    return await this.fp8!.scales(names);
  }

  #freeLayer(c: _Layer<T>, freeInput = true) {
    const { ops } = this;
    for (const s of [c.sq, c.sk, c.sv, c.so, c.sg, c.su, c.sd]) if (s.own) ops.free(s.x, s.w);
    if (freeInput) ops.free(c.x);
    ops.free(c.h, c.rstd1, c.qa, c.ka, c.va, c.att, c.lse, c.fp8s, c.x2, c.h2, c.rstd2);
    ops.free(c.g, c.u, c.a);
  }

  /** Frees what a pass holds. */
  release(p: Pass<T>): void {
    const { ops } = this;
    p.layers?.forEach((c) => this.#freeLayer(c));
    ops.free(p.pos, p.doc, p.hidden, p.xLast, p.rstdF);
    p.layers = undefined;
  }

  // ---- the head ---------------------------------------------------------------------------

  /** Logits (rows, V) of chosen token rows of a pass (generation, inspection), read back. */
  async logits(p: Pass<T>, rows?: ArrayLike<number>): Promise<Float32Array> {
    const { ops } = this;
    const sel = rows ? await this.#gather(p.hidden, rows, p.N) : p.hidden;
    const h = await this.#roundBf16(sel), w = await this.#headWeight();
    const z = await ops.matmul(h, w, { transB: true });
    const out = await ops.read(z) as Float32Array;
    ops.free(z);
    if (h !== sel) ops.free(h);
    if (sel !== p.hidden) ops.free(sel);
    return out;
  }

  /** rows (R, C) = S·x with S (R, N) one-hot: the hidden states of chosen tokens. */
  async #gather(x: T, rows: ArrayLike<number>, N: number): Promise<T> {
    const s = this.#selector(rows, N);
    const out = await this.ops.matmul(s, x);
    this.ops.free(s);
    return out;
  }

  #selector(rows: ArrayLike<number>, N: number): T {
    const s = new Float32Array(rows.length * N);
    for (let r = 0; r < rows.length; r++) {
      if (!(rows[r] >= 0 && rows[r] < N)) throw new UserError(`row ${rows[r]} outside 0…${N - 1}`);
      s[r * N + rows[r]] = 1;
    }
    return this.ops.upload(s, [rows.length, N]);
  }

  /** Runs the LM head over a pass with `spec`; returns per-row stats and loss (and dh). */
  async #head(p: Pass<T>, targets: ArrayLike<number>, o: {
    weights?: ArrayLike<number>;
    soft?: LossSpec["soft"];
    grad: boolean;
    dw?: T;
  }) {
    const { ops, cfg } = this, N = p.N;
    if (targets.length !== N) throw new UserError(`targets: ${targets.length} for ${N} tokens`);
    const tg = ops.upload(targets, [N], "i32");
    const wt = o.weights ? ops.upload(o.weights, [N]) : undefined;
    let soft;
    if (o.soft) {
      const K = o.soft.ids ? (o.soft.k ?? o.soft.ids.length / N) : cfg.vocab_size;
      if (o.soft.probs.length !== N * K) {
        throw new UserError(
          `soft targets: ${o.soft.probs.length} probabilities, expected ${N * K}`,
        );
      }
      soft = {
        probs: ops.upload(o.soft.probs, [N, K]),
        ids: o.soft.ids ? ops.upload(o.soft.ids, [N, K], "i32") : undefined,
        weights: ops.upload(o.soft.weights, [N]),
        temperature: o.soft.temperature,
      };
    }
    const h = await this.#roundBf16(p.hidden), w = await this.#headWeight();
    const r = await ops.head(h, w, { targets: tg, weights: wt, soft }, {
      grad: o.grad,
      dwAccum: o.dw,
    });
    if (h !== p.hidden) ops.free(h);
    ops.free(tg, wt, soft?.probs, soft?.ids, soft?.weights);
    return r;
  }

  /** log p(target) and greedy flags per token (targets < 0 give 0 and 0). */
  async score(p: Pass<T>, targets: ArrayLike<number>): Promise<TokenScores> {
    const r = await this.#head(p, targets, { grad: false });
    const st = await this.ops.read(r.stats) as Float32Array;
    this.ops.free(r.stats, r.loss);
    const logprob = new Float32Array(p.N), greedy = new Uint8Array(p.N);
    for (let i = 0; i < p.N; i++) {
      if (targets[i] < 0) continue;
      logprob[i] = st[i * 4 + 1] - st[i * 4];
      greedy[i] = st[i * 4 + 1] >= st[i * 4 + 2] ? 1 : 0;
    }
    return { logprob, greedy };
  }

  /** The value head v_b = hidden[positions[b]] · score.weight. */
  async values(p: Pass<T>, positions: ArrayLike<number>): Promise<Float32Array> {
    const rows = await this.#gather(p.hidden, positions, p.N);
    const v = await this.ops.matmul(rows, this.#w("score.weight"), { transB: true }); // (B, 1)
    const out = await this.ops.read(v) as Float32Array;
    this.ops.free(rows, v);
    return out;
  }

  // ---- backward ---------------------------------------------------------------------------

  /** Zeroed gradient tensors, one per parameter. */
  zeroGrads(): Map<string, T> {
    const g = new Map<string, T>();
    for (const [name, t] of this.weights) g.set(name, this.ops.zeros(this.ops.shape(t)));
    return g;
  }

  /**
   * Backward from the loss of `spec` through a pass made with `grad`, adding every parameter's
   * gradient into `grads`; frees the pass. Returns the loss (the weighted NLL and soft terms;
   * the value term's loss is the caller's) and the target count.
   */
  async backward(
    p: Pass<T>,
    spec: LossSpec,
    grads: Map<string, T>,
  ): Promise<{ loss: number; count: number }> {
    const { ops, cfg } = this, N = p.N, { B, T } = p.batch;
    if (!p.layers) throw new Error("backward: the pass was not made with { grad: true }");
    const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads, HS = cfg.head_dim;
    const G = (n: string) =>
      grads.get(n) ?? (() => {
        throw new Error(`backward: no gradient buffer for ${n}`);
      })();
    const k = spec.scale ?? 1;
    let count = 0;
    for (let i = 0; i < N; i++) if (spec.targets[i] >= 0) count++;
    const weights = new Float32Array(N);
    for (let i = 0; i < N; i++) {
      if (spec.targets[i] < 0) continue;
      weights[i] = k * (spec.weights ? spec.weights[i] : 1 / count);
    }
    const soft = spec.soft && {
      ...spec.soft,
      weights: Float32Array.from(spec.soft.weights, (x) => x * k),
    };
    let loss = 0;
    let dh: T;
    if (count > 0 || soft) {
      const r = await this.#head(p, spec.targets, {
        weights,
        soft,
        grad: true,
        dw: G(this.#headName),
      });
      const rows = await ops.read(r.loss) as Float32Array;
      for (let i = 0; i < N; i++) loss += rows[i];
      loss /= k;
      ops.free(r.stats, r.loss);
      dh = r.dh!;
    } else dh = ops.zeros([N, cfg.hidden_size]);
    if (spec.value) await this.#valueBackward(p, spec.value, k, dh, G("score.weight"));
    const dx = await ops.rmsnormBackward(
      dh,
      p.xLast!,
      this.#w("model.norm.weight"),
      p.rstdF!,
      G("model.norm.weight"),
    );
    ops.free(dh);
    for (let l = cfg.num_hidden_layers - 1; l >= 0; l--) {
      const pre = `model.layers.${l}.`, c = p.layers[l];
      // MLP: x3 = x2 + a·Wdᵀ, a = silu(h2·Wgᵀ) ⊙ (h2·Wuᵀ)
      const da = await this.#linearBackward(dx, c.sd, G(pre + "mlp.down_proj.weight"));
      const { dg, du } = await ops.swigluBackward(da, c.g, c.u);
      const dh2 = await this.#linearBackward(dg, c.sg, G(pre + "mlp.gate_proj.weight"));
      const dh2u = await this.#linearBackward(du, c.su, G(pre + "mlp.up_proj.weight"));
      await ops.addInto(dh2, dh2u);
      const dn2 = await ops.rmsnormBackward(
        dh2,
        c.x2,
        this.#w(pre + "post_attention_layernorm.weight"),
        c.rstd2,
        G(pre + "post_attention_layernorm.weight"),
      );
      await ops.addInto(dx, dn2); // now the gradient at x2
      ops.free(da, dg, du, dh2, dh2u, dn2);
      // attention: x2 = x + o·Woᵀ
      const dO = await this.#linearBackward(dx, c.so, G(pre + "self_attn.o_proj.weight"));
      const dOa = await this.#attIn(dO);
      const ab = await ops.attentionBackward(
        ops.view(c.qa, [B, T, NH, HS]),
        ops.view(c.ka, [B, T, NKV, HS]),
        ops.view(c.va, [B, T, NKV, HS]),
        c.att,
        c.lse,
        ops.view(dOa, [B, T, NH, HS]),
        { doc: p.doc, fp8Scales: c.fp8s },
      );
      const dq = await ops.rope(ops.view(ab.dq, [N, NH, HS]), p.pos, this.#rope, true);
      const dk = await ops.rope(ops.view(ab.dk, [N, NKV, HS]), p.pos, this.#rope, true);
      const dhq = await this.#linearBackward(
        ops.view(dq, [N, NH * HS]),
        c.sq,
        G(pre + "self_attn.q_proj.weight"),
      );
      const dhk = await this.#linearBackward(
        ops.view(dk, [N, NKV * HS]),
        c.sk,
        G(pre + "self_attn.k_proj.weight"),
      );
      const dhv = await this.#linearBackward(
        ops.view(ab.dv, [N, NKV * HS]),
        c.sv,
        G(pre + "self_attn.v_proj.weight"),
      );
      await ops.addInto(dhq, dhk);
      await ops.addInto(dhq, dhv);
      const dn1 = await ops.rmsnormBackward(
        dhq,
        c.x,
        this.#w(pre + "input_layernorm.weight"),
        c.rstd1,
        G(pre + "input_layernorm.weight"),
      );
      await ops.addInto(dx, dn1); // now the gradient at the block input
      ops.free(dO, ab.dq, ab.dk, ab.dv, dq, dk, dhq, dhk, dhv, dn1);
      if (dOa !== dO) ops.free(dOa);
    }
    await ops.embeddingBackward(dx, p.batch.tokens, G("model.embed_tokens.weight"));
    ops.free(dx);
    this.release(p);
    return { loss, count };
  }

  /** dscore += Σ_b dv_b·hidden[p_b]; dh[p_b] += dv_b·score. */
  async #valueBackward(p: Pass<T>, v: LossSpec["value"] & object, k: number, dh: T, dscore: T) {
    const { ops } = this, B = v.positions.length;
    const sel = this.#selector(v.positions, p.N); // (B, N)
    const rows = await ops.matmul(sel, p.hidden); // (B, C)
    const dv = ops.upload(Array.from(v.grad, (g) => g * k), [B, 1]);
    await ops.matmul(dv, rows, { transA: true, out: dscore, beta: 1 }); // (1, C)
    const drows = await ops.matmul(dv, this.#w("score.weight")); // (B, C)
    await ops.matmul(sel, drows, { transA: true, out: dh, beta: 1 }); // (N, C)
    ops.free(sel, rows, dv, drows);
  }

  // ---- decoding with a KV cache -----------------------------------------------------------

  /** An empty KV cache for `B` rows of up to `S` positions. */
  kvCache(B: number, S: number): KvCache<T> {
    const KD = this.cfg.num_key_value_heads * this.cfg.head_dim;
    const L = this.cfg.num_hidden_layers;
    return {
      S,
      B,
      k: Array.from({ length: L }, () => this.ops.zeros([B * S, KD])),
      v: Array.from({ length: L }, () => this.ops.zeros([B * S, KD])),
      lengths: new Array(B).fill(0),
    };
  }

  /** Frees a KV cache. */
  freeKv(kv: KvCache<T>): void {
    this.ops.free(...kv.k, ...kv.v);
  }

  async #cacheKv(kv: KvCache<T>, l: number, k: T, v: T, B: number, T: number) {
    const { ops } = this, KD = this.cfg.num_key_value_heads * this.cfg.head_dim;
    if (T > kv.S) throw new UserError(`KV cache holds ${kv.S} positions, prompt has ${T}`);
    const kr = await this.#roundBf16(ops.view(k, [B * T, KD]));
    const vr = await this.#roundBf16(ops.view(v, [B * T, KD]));
    for (let b = 0; b < B; b++) {
      ops.copyRows(kr, b * T, kv.k[l], b * kv.S, T);
      ops.copyRows(vr, b * T, kv.v[l], b * kv.S, T);
    }
    if (this.precision.mode !== "fp32") ops.free(kr, vr);
  }

  /**
   * One decoding step: token `tokens[b]` at position `kv.lengths[b]` of each row; appends its keys
   * and values to the cache and returns the logits (B, V).
   */
  async decode(kv: KvCache<T>, tokens: ArrayLike<number>): Promise<Float32Array> {
    const { ops, cfg } = this, B = kv.B;
    const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads, HS = cfg.head_dim;
    const KD = NKV * HS, eps = cfg.rms_norm_eps;
    this.#checkBatch({ B, T: 1, tokens });
    for (const n of kv.lengths) {
      if (n >= kv.S || n >= cfg.max_position_embeddings) {
        throw new UserError(`KV cache full (${kv.S} positions)`);
      }
    }
    const pos = ops.upload(kv.lengths, [B], "u32");
    const lens = ops.upload(kv.lengths.map((n) => n + 1), [B], "u32");
    let x = await ops.embedding(this.#w("model.embed_tokens.weight"), tokens); // (B, C)
    for (let l = 0; l < cfg.num_hidden_layers; l++) {
      const pre = `model.layers.${l}.`;
      const n1 = await ops.rmsnorm(x, this.#w(pre + "input_layernorm.weight"), eps);
      const lq = await this.#linear(n1.y, pre + "self_attn.q_proj.weight", `l${l}.q`);
      const lk = await this.#linear(n1.y, pre + "self_attn.k_proj.weight", `l${l}.k`);
      const lv = await this.#linear(n1.y, pre + "self_attn.v_proj.weight", `l${l}.v`);
      const q = await ops.rope(ops.view(lq.y, [B, NH, HS]), pos, this.#rope);
      const k = await ops.rope(ops.view(lk.y, [B, NKV, HS]), pos, this.#rope);
      const kr = await this.#roundBf16(ops.view(k, [B, KD]));
      const vr = await this.#roundBf16(lv.y);
      for (let b = 0; b < B; b++) {
        ops.copyRows(kr, b, kv.k[l], b * kv.S + kv.lengths[b], 1);
        ops.copyRows(vr, b, kv.v[l], b * kv.S + kv.lengths[b], 1);
      }
      const qr = await this.#roundBf16(q);
      const att = await ops.attentionDecode(
        qr,
        ops.view(kv.k[l], [B, kv.S, NKV, HS]),
        ops.view(kv.v[l], [B, kv.S, NKV, HS]),
        lens,
      ); // (B, NH, HS)
      const attR = await this.#roundBf16(att);
      const lo = await this.#linear(
        ops.view(attR, [B, NH * HS]),
        pre + "self_attn.o_proj.weight",
        `l${l}.o`,
      );
      const x2 = await ops.add(x, lo.y);
      const n2 = await ops.rmsnorm(x2, this.#w(pre + "post_attention_layernorm.weight"), eps);
      const lg = await this.#linear(n2.y, pre + "mlp.gate_proj.weight", `l${l}.gate`);
      const lu = await this.#linear(n2.y, pre + "mlp.up_proj.weight", `l${l}.up`);
      const a = await ops.swiglu(lg.y, lu.y);
      const ld = await this.#linear(a, pre + "mlp.down_proj.weight", `l${l}.down`);
      const x3 = await ops.add(x2, ld.y);
      for (const s of [lq.s, lk.s, lv.s, lo.s, lg.s, lu.s, ld.s]) if (s.own) ops.free(s.x, s.w);
      ops.free(x, n1.y, n1.rstd, lq.y, lk.y, lv.y, q, k, att, lo.y, x2, n2.y, n2.rstd);
      ops.free(lg.y, lu.y, a, ld.y);
      if (this.precision.mode !== "fp32") ops.free(kr, vr, qr, attR);
      x = x3;
    }
    kv.lengths = kv.lengths.map((n) => n + 1);
    const nf = await ops.rmsnorm(x, this.#w("model.norm.weight"), eps);
    const out = await this.logits({ batch: { B, T: 1, tokens }, N: B, pos, hidden: nf.y });
    ops.free(x, nf.y, nf.rstd, pos, lens);
    return out;
  }

  /** Reads the weights back as f32 parameters. */
  async readParams(): Promise<Params> {
    const out: Params = new Map();
    for (const [name, t] of this.weights) out.set(name, await this.ops.read(t) as Float32Array);
    return out;
  }

  /** Frees the weights and state. */
  destroy(): void {
    this.weightsChanged();
    this.ops.free(...this.weights.values());
    this.weights.clear();
    this.fp8?.destroy();
  }
}
