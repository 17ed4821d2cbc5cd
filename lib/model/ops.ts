/**
 * The one op interface the Llama (lib/model/llama.ts) is written against, with two backends: the
 * WebGPU ops of lib/ops ({@linkcode "./ops_gpu.ts"}) and the TypeScript references of lib/ops/ref
 * ({@linkcode "./ops_cpu.ts"}). `T` is the backend's tensor; every op is async so that a debug run
 * can send chosen ops to the reference (lib/model/ops_mixed.ts, `--ref-ops attention,rmsnorm`).
 *
 * Shapes (legend for the whole model): B batch, T positions, N = B·T tokens, C hidden_size,
 * F intermediate_size, NH query heads, NKV key/value heads, HS head_dim, V vocab_size,
 * L layers, S KV-cache length, K top-k. Activations are row-major (N, ·).
 *
 * Element types: f32; bf16 (values rounded to BF16); e4m3/e5m2 (FP8 codes with a per-tensor
 * scale held by an {@linkcode Fp8State}); i32/u32 (ids, positions). `matmul` takes any float
 * operand type and returns f32.
 *
 * @module
 */

/** The ops a debug run may send to the reference (`--ref-ops`). */
export const SWITCHABLE_OPS = [
  "matmul",
  "cast",
  "rmsnorm",
  "rope",
  "swiglu",
  "attention",
  "embedding",
  "head",
  "add",
] as const;

/** One of {@linkcode SWITCHABLE_OPS}. */
export type OpName = typeof SWITCHABLE_OPS[number];

/** Element types a tensor may hold. */
export type DType = "f32" | "bf16" | "e4m3" | "e5m2" | "i32" | "u32";

/** Per-tensor FP8 scaling state (delayed scaling: Transformer Engine's amax history). */
export interface Fp8State<T> {
  readonly slots: { name: string; format: "e4m3" | "e5m2" }[];
  readonly historyLen: number;
  readonly margin: number;
  /** Casts f32 `x` to the slot's format with the slot's current scale, recording its amax. */
  quantize(x: T, slot: string): Promise<T>;
  /** Pushes this step's amaxes into the histories and recomputes every scale. */
  update(): Promise<void>;
  /** History (S·H, newest first per slot) and state (S·3: scale, scaleInv, max) for checkpoints. */
  save(): Promise<{ history: Float32Array; state: Float32Array }>;
  load(saved: { history: Float32Array; state: Float32Array }): void;
  /** Current scales of the named slots (the fp8-attention ablation hands them to the kernel). */
  scales(slots: string[]): Promise<T>;
  destroy(): void;
}

/** What the general LM head computes per row (see lib/ops/lm_head.ts). */
export interface HeadSpec<T> {
  /** (N) i32; < 0 = no hard target. */
  targets: T;
  /** (N) f32 weight of row i's NLL term (omit to score only). */
  weights?: T;
  /** Distillation: a teacher's distribution, full (N, V) or top-k (N, K) with ids. */
  soft?: { probs: T; ids?: T; weights: T; temperature: number };
}

/** Result of {@linkcode Ops.head}. */
export interface HeadOut<T> {
  /** (N, 4): lse, logit of the target, max logit, argmax id. */
  stats: T;
  /** (N) weighted loss per row. */
  loss: T;
  /** (N, C) gradient w.r.t. h (with `grad`). */
  dh?: T;
}

/** A RoPE table for one config (opaque to the model). */
export type RopeHandle = unknown;

/** The ops a Llama needs. */
export interface Ops<T> {
  /** "gpu" or "cpu" (with the switched ops appended in a mixed run). */
  readonly name: string;
  // ---- storage ----
  upload(data: ArrayLike<number>, shape: readonly number[], dtype?: "f32" | "i32" | "u32"): T;
  zeros(shape: readonly number[]): T;
  /** f32 values of a float tensor (bf16 widened, FP8 decoded and scaled), or the ids. */
  read(t: T): Promise<Float32Array | Int32Array | Uint32Array>;
  /** Writes f32 values into an f32 tensor. */
  write(t: T, data: Float32Array): void;
  free(...ts: (T | undefined)[]): void;
  shape(t: T): readonly number[];
  dtype(t: T): DType;
  /** The same storage seen with another shape of the same size. */
  view(t: T, shape: readonly number[]): T;
  /** rows [srcRow, srcRow+rows) of src (·, …) copied to rows [dstRow, …) of dst (same row size). */
  copyRows(src: T, srcRow: number, dst: T, dstRow: number, rows: number): void;
  /** Waits until recorded work is done. */
  sync(): Promise<void>;
  /** Bytes of backend memory in use now and at most since the last reset (GPU: buffers). */
  memory(): { bytes: number; peak: number };

  // ---- math ----
  /** C = op(A)·op(B) (+ beta·out), f32; A and B of any float type. */
  matmul(
    a: T,
    b: T,
    o?: { transA?: boolean; transB?: boolean; out?: T; beta?: number },
  ): Promise<T>;
  /** f32 → bf16 (round to nearest even). */
  toBf16(x: T): Promise<T>;
  /** bf16 → f32 (exact). */
  fromBf16(x: T): Promise<T>;
  fp8State(
    slots: { name: string; format: "e4m3" | "e5m2" }[],
    o: { historyLen: number; margin: number },
  ): Fp8State<T>;
  rmsnorm(x: T, w: T, eps: number): Promise<{ y: T; rstd: T }>;
  /** dx; dw is added into `dwAccum`. */
  rmsnormBackward(dy: T, x: T, w: T, rstd: T, dwAccum: T): Promise<T>;
  ropeTable(
    maxPos: number,
    headDim: number,
    theta: number,
    scaling?: {
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    },
  ): RopeHandle;
  /** x (N, H, HS) rotated at positions pos (N, u32); `inverse` is the backward. */
  rope(x: T, pos: T, table: RopeHandle, inverse?: boolean): Promise<T>;
  swiglu(g: T, u: T): Promise<T>;
  swigluBackward(dh: T, g: T, u: T): Promise<{ dg: T; du: T }>;
  /**
   * Causal GQA attention: q (B, T, NH, HS), k, v (B, T, NKV, HS), all f32 or all bf16; doc (B, T)
   * u32 document ids; fp8Scales (3) f32: the fp8-attention ablation's q, k, v scales.
   */
  attention(q: T, k: T, v: T, o?: { doc?: T; fp8Scales?: T }): Promise<{ o: T; lse: T }>;
  attentionBackward(
    q: T,
    k: T,
    v: T,
    out: T,
    lse: T,
    dout: T,
    o?: { doc?: T; fp8Scales?: T },
  ): Promise<{ dq: T; dk: T; dv: T }>;
  /** One query per row over a KV cache: q (B, NH, HS), k, v (B, S, NKV, HS), lengths (B) u32. */
  attentionDecode(q: T, k: T, v: T, lengths: T): Promise<T>;
  embedding(table: T, ids: ArrayLike<number>): Promise<T>;
  embeddingBackward(dout: T, ids: ArrayLike<number>, dtable: T): Promise<void>;
  add(a: T, b: T): Promise<T>;
  /** y += alpha·x. */
  addInto(y: T, x: T, alpha?: number): Promise<void>;
  /** The chunked LM head (never N × V at once) with the general loss of {@linkcode HeadSpec}. */
  head(
    h: T,
    w: T,
    spec: HeadSpec<T>,
    o: { grad: boolean; dwAccum?: T },
  ): Promise<HeadOut<T>>;

  // ---- optimizer ----
  /** Global L2 norm of the gradients and the clip factor min(1, maxNorm/(norm+1e-6)) (2 f32). */
  clipByGlobalNorm(grads: T[], maxNorm: number): Promise<T>;
  adamw(
    p: T,
    g: T,
    m: T,
    v: T,
    cfg: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number },
    step: number,
    clip: T,
  ): Promise<void>;
}
