/**
 * Training checkpoints: each is a Hugging Face model folder (config.json, model.safetensors with
 * the f32 master weights, tokenizer files) plus `optimizer.safetensors` (AdamW moments, named
 * `m.<param>` / `v.<param>`, and engine state such as the FP8 amax history as `extra.<name>`) and `trainer_state.json` (step, AdamW step count, data-loader
 * position and RNG state, tokens seen). A checkpoint is written into `<name>.partial/` and renamed
 * into place, then `latest.json` is replaced atomically, so a `kill -9` at any moment leaves the
 * previous checkpoint intact.
 *
 * @module
 */

import { join } from "node:path";
import { UserError } from "../io/errors.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import type { LlamaConfig } from "../model/config.ts";
import { loadModel, saveModel } from "../model/hf_folder.ts";
import type { Params } from "../model/params.ts";
import { readSafetensors, tensorToF32, writeSafetensors } from "../model/safetensors.ts";
import type { LoaderState } from "./data.ts";

/** What trainer_state.json holds. */
export interface TrainerState {
  step: number; // optimizer steps completed
  adam_t: number;
  loader: LoaderState;
  tokens_seen: number;
  /** A fingerprint of the options that must not change across a resume. */
  options_key: string;
}

/** Writes checkpoint `step` under `dir` (e.g. run/checkpoints) and points latest.json at it. */
export async function saveCheckpoint(
  dir: string,
  cfg: LlamaConfig,
  params: Params,
  opt: { m: Params; v: Params; extra?: Params },
  state: TrainerState,
  tokenizerDir?: string,
  keep = 2,
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const name = `step-${String(state.step).padStart(7, "0")}`;
  const tmp = join(dir, `${name}.partial`);
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await saveModel(tmp, cfg, params, { tokenizerDir });
  const tensors = [];
  for (const [k, m] of opt.m) tensors.push({ name: `m.${k}`, shape: [m.length], data: m });
  for (const [k, v] of opt.v) tensors.push({ name: `v.${k}`, shape: [v.length], data: v });
  for (const [k, x] of opt.extra ?? []) {
    tensors.push({ name: `extra.${k}`, shape: [x.length], data: x });
  }
  await writeSafetensors(join(tmp, "optimizer.safetensors"), tensors);
  await writeJsonAtomic(join(tmp, "trainer_state.json"), state);
  await Deno.remove(join(dir, name), { recursive: true }).catch(() => {});
  await Deno.rename(tmp, join(dir, name));
  await writeJsonAtomic(join(dir, "latest.json"), { step: state.step, dir: name });
  // prune older checkpoints beyond `keep`
  const all: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory && /^step-\d+$/.test(e.name)) all.push(e.name);
    if (e.isDirectory && e.name.endsWith(".partial")) {
      await Deno.remove(join(dir, e.name), { recursive: true }).catch(() => {});
    }
  }
  all.sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) {
    await Deno.remove(join(dir, old), { recursive: true });
  }
  return join(dir, name);
}

/** Reads the latest checkpoint under `dir`, or undefined when there is none. */
export async function loadLatestCheckpoint(dir: string): Promise<
  | {
    path: string;
    cfg: LlamaConfig;
    params: Params;
    m: Params;
    v: Params;
    extra: Params;
    state: TrainerState;
  }
  | undefined
> {
  let latest: { dir: string };
  try {
    latest = JSON.parse(await Deno.readTextFile(join(dir, "latest.json")));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new UserError(`${join(dir, "latest.json")}: unreadable (${(err as Error).message})`);
  }
  const path = join(dir, latest.dir);
  const { cfg, params } = await loadModel(path);
  const opt = await readSafetensors(join(path, "optimizer.safetensors"));
  const m: Params = new Map(), v: Params = new Map();
  for (const k of params.keys()) {
    const mt = opt.tensors.get(`m.${k}`), vt = opt.tensors.get(`v.${k}`);
    if (!mt || !vt) throw new UserError(`${path}/optimizer.safetensors: no moments for ${k}`);
    m.set(k, tensorToF32(mt));
    v.set(k, tensorToF32(vt));
  }
  const extra: Params = new Map();
  for (const [k, t] of opt.tensors) {
    if (k.startsWith("extra.")) extra.set(k.slice(6), tensorToF32(t));
  }
  const state = JSON.parse(await Deno.readTextFile(join(path, "trainer_state.json")));
  return { path, cfg, params, m, v, extra, state };
}

/**
 * Cuts a partial last line (left by a kill mid-write) off a JSONL log so that lines appended by
 * a resumed run start on a line of their own.
 */
export async function repairJsonlTail(path: string): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  if (!bytes.length || bytes[bytes.length - 1] === 0x0a) return;
  const cut = bytes.lastIndexOf(0x0a) + 1;
  await Deno.truncate(path, cut);
}
