/**
 * Training data: packed sequences from token shards, mixed across sources by ratio with seeded,
 * deterministic sampling (Thunder-LLM's default English:Korean 1:1), with a held-out validation
 * tail per source. All state (RNG and per-source cursors) is plain JSON, saved with checkpoints.
 *
 * Packing: a source's training tokens form one stream (documents back to back, each followed by
 * its eos id); sequence i of that source is the window [pos, pos + T + 1) of the stream — inputs
 * the first T, targets shifted by one — and the cursor advances by T. At the end of the stream the
 * cursor wraps to 0 (a new epoch of that source).
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import { Rng } from "../model/params.ts";
import type { TokenShard } from "./shards.ts";

/** One data source: a name (e.g. "ko"), its shards and its mixing weight. */
export interface Source {
  name: string;
  shards: TokenShard[];
  weight: number;
}

/** The loader's resumable state. */
export interface LoaderState {
  rng: number[];
  cursors: Record<string, number>;
  epochs: Record<string, number>;
}

interface _Stream {
  name: string;
  weight: number;
  train: Uint32Array;
  val: Uint32Array;
}

/** Splits shards into a training stream and the validation tail (whole documents). */
function _split(src: Source, valFraction: number, T: number): _Stream {
  const all: Uint32Array[] = [];
  const val: Uint32Array[] = [];
  for (const s of src.shards) {
    const nDocs = s.docStarts.length - 1;
    let nVal = valFraction > 0 ? Math.max(1, Math.round(nDocs * valFraction)) : 0;
    if (nVal >= nDocs) nVal = nDocs > 1 ? 1 : 0;
    const cut = s.docStarts[nDocs - nVal];
    all.push(s.tokens.subarray(0, cut));
    val.push(s.tokens.subarray(cut));
  }
  const cat = (parts: Uint32Array[]) => {
    const out = new Uint32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) out.set(p, (o += p.length) - p.length);
    return out;
  };
  const train = cat(all);
  if (train.length < T + 1) {
    throw new UserError(
      `source "${src.name}": ${train.length} training tokens, fewer than seq_len + 1 = ${T + 1}`,
    );
  }
  return { name: src.name, weight: src.weight, train, val: cat(val) };
}

/** Batches of packed, mixed sequences. */
export class MixedLoader {
  readonly streams: _Stream[];
  #rng: Rng;
  #cursors: Record<string, number> = {};
  #epochs: Record<string, number> = {};
  #total: number;

  constructor(
    sources: Source[],
    readonly B: number,
    readonly T: number,
    seed: number,
    valFraction = 0.05,
  ) {
    if (!sources.length) throw new UserError("no data sources (give --data NAME=FILE.tok)");
    this.streams = sources.map((s) => _split(s, valFraction, T));
    this.#total = sources.reduce((a, s) => a + s.weight, 0);
    if (!(this.#total > 0)) throw new UserError("mixing weights must add up to more than 0");
    this.#rng = new Rng(seed);
    for (const s of this.streams) {
      this.#cursors[s.name] = 0;
      this.#epochs[s.name] = 0;
    }
  }

  /** Sets the mixing weights by source name (a stage's mixture); sources not named get 0. */
  setWeights(weights: Record<string, number>): void {
    for (const s of this.streams) s.weight = weights[s.name] ?? 0;
    this.#total = this.streams.reduce((a, s) => a + s.weight, 0);
    if (!(this.#total > 0)) throw new UserError("mixing weights must add up to more than 0");
  }

  /** The state to checkpoint. */
  state(): LoaderState {
    return { rng: this.#rng.state(), cursors: { ...this.#cursors }, epochs: { ...this.#epochs } };
  }

  /** Restores a checkpointed state. */
  restore(st: LoaderState): void {
    this.#rng = new Rng(st.rng);
    for (const s of this.streams) {
      if (!(s.name in st.cursors)) {
        throw new UserError(`checkpoint has no cursor for source "${s.name}"`);
      }
      this.#cursors[s.name] = st.cursors[s.name];
      this.#epochs[s.name] = st.epochs[s.name] ?? 0;
    }
  }

  /** The next batch: inputs and targets (B, T), and the source and stream start of each row. */
  next(): { tokens: Int32Array; targets: Int32Array; sources: string[]; starts: number[] } {
    const { B, T } = this;
    const tokens = new Int32Array(B * T), targets = new Int32Array(B * T);
    const sources: string[] = [], starts: number[] = [];
    for (let b = 0; b < B; b++) {
      let r = this.#rng.next() * this.#total;
      let s = this.streams[this.streams.length - 1];
      for (const st of this.streams) {
        if ((r -= st.weight) < 0) {
          s = st;
          break;
        }
      }
      let pos = this.#cursors[s.name];
      if (pos + T + 1 > s.train.length) {
        pos = 0;
        this.#epochs[s.name]++;
      }
      for (let t = 0; t < T; t++) {
        tokens[b * T + t] = s.train[pos + t];
        targets[b * T + t] = s.train[pos + t + 1];
      }
      this.#cursors[s.name] = pos + T;
      sources.push(s.name);
      starts.push(pos);
    }
    return { tokens, targets, sources, starts };
  }

  /** Validation batches of one source (consecutive windows of its held-out tail). */
  *valBatches(
    name: string,
    maxBatches: number,
  ): Generator<{ tokens: Int32Array; targets: Int32Array }> {
    const s = this.streams.find((x) => x.name === name)!;
    const { B, T } = this;
    let pos = 0;
    for (let n = 0; n < maxBatches; n++) {
      const tokens = new Int32Array(B * T), targets = new Int32Array(B * T).fill(-1);
      let rows = 0;
      for (let b = 0; b < B && pos + 2 <= s.val.length; b++) {
        const len = Math.min(T, s.val.length - pos - 1);
        for (let t = 0; t < len; t++) {
          tokens[b * T + t] = s.val[pos + t];
          targets[b * T + t] = s.val[pos + t + 1];
        }
        pos += len;
        rows++;
      }
      if (!rows) return;
      yield { tokens, targets };
    }
  }
}
