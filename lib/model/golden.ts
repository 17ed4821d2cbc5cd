/**
 * The whole-model golden file (llm.c's `test_gpt2` idea): a tiny random Llama run forward and
 * backward by PyTorch in float64 (`golden/make_golden.py`), stored as f32, that any Llama
 * implementation here is checked against tensor by tensor with {@linkcode compareToGolden}.
 *
 * File format, version 1 (little-endian):
 *   u32 magic 0x4A4B474C, u32 version 1, u32 H (header bytes, a multiple of 4);
 *   H bytes of UTF-8 JSON, space-padded: `{config, B, T, seed, tensors: [{name, dtype, shape,
 *   offset}]}` with `dtype` "f32" | "i32" and `offset` counted from the data section's start;
 *   the data section (byte 12 + H): each tensor's raw row-major values.
 * Tensors: `tokens` (B, T) i32; `targets` (B, T) i32, -1 = ignored; `logits` (B*T, V); `loss`
 * (1); every parameter by its Hugging Face name; each gradient as `grad.` + name.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import { type LlamaConfig, parseLlamaConfig } from "./config.ts";

/** The golden file's magic number: "LGKJ" in byte order, 0x4A4B474C as a little-endian u32. */
export const GOLDEN_MAGIC = 0x4a4b474c;
/** The golden file format version this reader understands. */
export const GOLDEN_VERSION = 1;

/** The golden file shipped with Jikji. */
export const GOLDEN_TINY = decodeURIComponent(
  new URL("./golden/llama_tiny.bin", import.meta.url).pathname,
);

/** One f32 rounding, relative: u = 2^-24. */
export const F32_U = 2 ** -24;

/** A golden file's contents. */
export interface Golden {
  config: LlamaConfig;
  B: number;
  T: number;
  tokens: Int32Array; // (B, T)
  targets: Int32Array; // (B, T), -1 = ignored
  logits: Float32Array; // (B*T, V)
  loss: number;
  /** Parameters by Hugging Face name. */
  params: Map<string, Float32Array>;
  /** Gradients of `loss`, by parameter name (without the `grad.` prefix). */
  grads: Map<string, Float32Array>;
  /** Every tensor's shape, by its name in the file. */
  shapes: Map<string, number[]>;
}

interface _Entry {
  name: string;
  dtype: "f32" | "i32";
  shape: number[];
  offset: number;
}

/**
 * Reads and checks a golden file: magic, version, header length and every tensor's extent against
 * the file's real size; a bad file is one line naming it.
 *
 * @example
 * ```ts
 * import { GOLDEN_TINY, readGolden } from "./golden.ts";
 * const g = await readGolden(GOLDEN_TINY);
 * console.log(g.B, g.T, g.logits.length === g.B * g.T * g.config.vocab_size); // 2 24 true
 * ```
 */
export async function readGolden(path: string): Promise<Golden> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`${path}: file not found`);
    throw err;
  }
  const bad = (why: string): never => {
    throw new UserError(`${path}: ${why}`);
  };
  const size = bytes.length;
  if (size < 12) bad(`${size} bytes is shorter than the 12-byte golden header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0, true);
  if (magic !== GOLDEN_MAGIC) {
    bad(`magic 0x${magic.toString(16)} is not a golden file's 0x${GOLDEN_MAGIC.toString(16)}`);
  }
  const version = dv.getUint32(4, true);
  if (version !== GOLDEN_VERSION) {
    bad(`version ${version}; this reader understands version ${GOLDEN_VERSION}`);
  }
  const H = dv.getUint32(8, true);
  if (H % 4 !== 0) bad(`header length ${H} is not a multiple of 4`);
  if (12 + H > size) bad(`header length ${H} runs past the end of the ${size}-byte file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(12, 12 + H)),
    );
  } catch (err) {
    return bad(`header is not UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    bad("header is not a JSON object");
  }
  const config = parseLlamaConfig(header.config, `${path} (header config)`);
  const B = header.B, T = header.T;
  if (!Number.isSafeInteger(B) || (B as number) < 1) bad(`B ${JSON.stringify(B)}: expected ≥ 1`);
  if (!Number.isSafeInteger(T) || (T as number) < 1) bad(`T ${JSON.stringify(T)}: expected ≥ 1`);
  if (!Array.isArray(header.tensors)) bad("header has no tensors list");
  const dataStart = 12 + H, dataBytes = size - dataStart;
  const shapes = new Map<string, number[]>();
  const values = new Map<string, Float32Array | Int32Array>();
  for (const e of header.tensors as _Entry[]) {
    const what = `tensor ${JSON.stringify(e?.name)}`;
    if (typeof e?.name !== "string") bad(`${what}: no name`);
    if (shapes.has(e.name)) bad(`${what} appears twice`);
    if (e.dtype !== "f32" && e.dtype !== "i32") bad(`${what}: dtype ${e.dtype}, not f32 or i32`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      bad(`${what}: shape ${JSON.stringify(e.shape)} is not a list of sizes`);
    }
    if (!Number.isSafeInteger(e.offset) || e.offset < 0 || e.offset % 4 !== 0) {
      bad(`${what}: offset ${e.offset} is not a multiple of 4`);
    }
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (e.offset + 4 * n > dataBytes) {
      bad(
        `${what} (${4 * n} bytes at data offset ${e.offset}) runs past the end of the file ` +
          `(${dataBytes} data bytes; truncated?)`,
      );
    }
    const out = e.dtype === "f32" ? new Float32Array(n) : new Int32Array(n);
    const at = dataStart + e.offset;
    if (e.dtype === "f32") { for (let i = 0; i < n; i++) out[i] = dv.getFloat32(at + 4 * i, true); }
    else for (let i = 0; i < n; i++) out[i] = dv.getInt32(at + 4 * i, true);
    shapes.set(e.name, e.shape);
    values.set(e.name, out);
  }
  const V = config.vocab_size;
  const take = <K extends "f32" | "i32">(name: string, shape: number[], dtype: K) => {
    const v = values.get(name);
    if (!v) return bad(`tensor "${name}" is missing`);
    if (JSON.stringify(shapes.get(name)) !== JSON.stringify(shape)) {
      bad(`tensor "${name}" has shape ${JSON.stringify(shapes.get(name))}, expected [${shape}]`);
    }
    if ((dtype === "f32") !== (v instanceof Float32Array)) bad(`tensor "${name}" is not ${dtype}`);
    return v as K extends "f32" ? Float32Array : Int32Array;
  };
  const b = B as number, t = T as number;
  const tokens = take("tokens", [b, t], "i32");
  const targets = take("targets", [b, t], "i32");
  for (const x of tokens) if (x < 0 || x >= V) bad(`token id ${x} outside vocab_size ${V}`);
  for (const x of targets) if (x < -1 || x >= V) bad(`target ${x} outside -1..${V - 1}`);
  const logits = take("logits", [b * t, V], "f32");
  const loss = take("loss", [1], "f32")[0];
  const params = new Map<string, Float32Array>(), grads = new Map<string, Float32Array>();
  for (const [name, v] of values) {
    if (["tokens", "targets", "logits", "loss"].includes(name)) continue;
    if (!(v instanceof Float32Array)) bad(`tensor "${name}" is not f32`);
    if (name.startsWith("grad.")) grads.set(name.slice(5), v as Float32Array);
    else params.set(name, v as Float32Array);
  }
  for (const name of grads.keys()) {
    if (!params.has(name)) bad(`gradient "grad.${name}" has no parameter "${name}"`);
  }
  return { config, B: b, T: t, tokens, targets, logits, loss, params, grads, shapes };
}

/** What {@linkcode compareToGolden} measured. */
export interface GoldenComparison {
  name: string;
  ok: boolean;
  /** The allowed max |got − want|. */
  tol: number;
  /** max |want| of the tensor. */
  scale: number;
  maxAbs: number;
  maxAbsAt: number;
  /** max |got − want| / max(|want|, 1e-3·scale): relative, near-zero elements floored. */
  maxRel: number;
  maxRelAt: number;
  /** One line: the figures and, on failure, the first few `got want` pairs over the limit. */
  report: string;
}

/**
 * The f32 tolerance for a tensor: `k · u · max|want|` (u = 2^-24), i.e. an error of `k` f32
 * roundings of the tensor's largest value. {@linkcode GOLDEN_K} gives the `k` the golden test uses.
 */
export function f32Tolerance(want: ArrayLike<number>, k: number): number {
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  return k * F32_U * scale;
}

/**
 * `k` of {@linkcode f32Tolerance} for an f32 implementation against the f64 golden file. The
 * golden script measures PyTorch's own f32 run against its f64 one: the worst tensor (a layer-0
 * norm weight's gradient, at the end of the longest backward chain) is 22.5·u·max|want|, logits
 * 10.9, loss 0.35. 128 leaves about 6× that for other summation orders (GPU reductions
 * accumulating in f32), while an error of one wrong term in a sum (≳ 1e-3·scale) is still ~1000×
 * over the limit.
 */
export const GOLDEN_K = 128;

/**
 * Compares `got` with the golden `want` under `tol` (the allowed max |got − want|; see
 * {@linkcode f32Tolerance}); never throws, so a test can report every tensor before failing.
 *
 * @example
 * ```ts
 * import { compareToGolden } from "./golden.ts";
 * const c = compareToGolden("x", [1, 2.0001], [1, 2], 1e-3);
 * console.log(c.ok, c.maxAbsAt); // true 1
 * ```
 */
export function compareToGolden(
  name: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: number,
): GoldenComparison {
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  const res: GoldenComparison = {
    name,
    ok: got.length === want.length,
    tol,
    scale,
    maxAbs: 0,
    maxAbsAt: -1,
    maxRel: 0,
    maxRelAt: -1,
    report: "",
  };
  if (!res.ok) {
    res.report = `${name}: length ${got.length}, expected ${want.length}`;
    return res;
  }
  const floor = 1e-3 * scale || Number.MIN_VALUE;
  const pairs: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    const dd = Number.isNaN(d) ? Infinity : d; // a NaN is the worst difference
    if (dd > res.maxAbs || res.maxAbsAt < 0) [res.maxAbs, res.maxAbsAt] = [dd, i];
    const r = dd / Math.max(Math.abs(want[i]), floor);
    if (r > res.maxRel || res.maxRelAt < 0) [res.maxRel, res.maxRelAt] = [r, i];
    if (!(dd <= tol)) {
      res.ok = false;
      if (pairs.length < 4) pairs.push(`[${i}] got ${got[i]} want ${want[i]}`);
    }
  }
  const fig = (x: number) => x.toExponential(2);
  res.report = `${name}: max|diff| ${fig(res.maxAbs)} at [${res.maxAbsAt}] ` +
    `(${fig(res.maxAbs / (F32_U * scale || 1))}·u·max|want|, limit ${fig(tol)}), ` +
    `max rel ${fig(res.maxRel)} at [${res.maxRelAt}]` +
    (res.ok ? "" : `; first over the limit: ${pairs.join(", ")}`);
  return res;
}

/** What the PyTorch golden script computes for a Hugging Face folder (float64, as lists). */
export interface PytorchFolderScores {
  /** (B, T, V), when the folder has an LM head. */
  logits?: number[][][];
  /** (B, num_labels) at each row's last non-pad token, for a `score.weight` folder. */
  scores?: number[][];
}

/** The PyTorch golden script (`golden/make_golden.py`). */
export const GOLDEN_SCRIPT = decodeURIComponent(
  new URL("./golden/make_golden.py", import.meta.url).pathname,
);

/**
 * Runs the golden script's PyTorch Llama on a Hugging Face folder's own files
 * (`make_golden.py --folder DIR`), for tests that check a folder Jikji wrote is the model Python
 * reads. Returns null, saying loudly that it skipped, where Debian's `/usr/bin/python3` with
 * `python3-torch` is missing — except under CI (`CI=true`), where that is an error.
 *
 * @example
 * ```ts ignore
 * const ref = await pytorchFolderScores("runs/x/model", [[1, 2, 3]]);
 * if (ref) console.log(ref.logits![0][2].length); // V
 * ```
 */
export async function pytorchFolderScores(
  dir: string,
  tokens: number[][],
): Promise<PytorchFolderScores | null> {
  const skip = (why: string) => {
    if (Deno.env.get("CI") === "true") throw new Error(`${why} (CI needs it)`);
    console.warn(`SKIPPED: ${why}`);
    return null;
  };
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("/usr/bin/python3", {
      args: [GOLDEN_SCRIPT, "--folder", dir],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return skip("/usr/bin/python3 is not installed");
    throw err;
  }
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify({ tokens })));
  await w.close();
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) {
    if (/No module named '(torch|numpy)'/.test(stderr)) {
      return skip(
        "PyTorch is not installed for /usr/bin/python3 (apt-get install -y python3-torch)",
      );
    }
    throw new Error(`${GOLDEN_SCRIPT} --folder ${dir} failed: ${stderr.trim()}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
