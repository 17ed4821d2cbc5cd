/**
 * A branching-entropy pre-tokenizer for Korean: unsupervised boundaries inside Hangul words, used
 * to choose the pre-tokens a Unigram vocabulary is trained on.
 *
 * Training counts which unit follows and which precedes each context x of n = 1..maxContext units
 * inside every word (a maximal run of Hangul syllables). Units are syllables or, with
 * `unit: "jamo"`, conjoining jamo ({@linkcode decomposeHangul}). The forward branching entropy is
 *
 *     H_f(x) = -Σ_c P(c|x) log P(c|x) = log N(x) - (1/N(x)) Σ_c N(x,c) log N(x,c)
 *
 * over the units c seen after x, where N(x) counts every occurrence of x, word ends included: a
 * word end is a successor that is new every time (N(x,end) = 1 each), since what follows a space
 * is open. H_b(x) is the same over preceding units and word starts. Contexts seen fewer than
 * `minCount` times carry no evidence.
 *
 * Boundary rule ("entropy rises", after Tanaka-Ishii 2005, "Entropy as an indicator of context
 * boundaries"): let s be a Hangul run's units and b_i the unit offset of syllable boundary i
 * (b_i = i for syllables; for jamo, the offset after the last jamo of syllable i-1). Then
 *
 *     rise_f(n) = H_f(s[b_i - n, b_i)) - H_f(s[b_{i-1} - n, b_{i-1}))
 *     rise_b(n) = H_b(s[b_i, b_i + n)) - H_b(s[b_{i+1}, b_{i+1} + n))
 *     split at i  ⇔  Σ_n (rise_f(n) + rise_b(n)) > threshold
 *
 * over the n in 1..maxContext whose two contexts both lie in the run and were both counted: the
 * next unit is much less predictable after the context ending at i than after the one ending a
 * syllable earlier, and symmetrically backwards.
 *
 * Measured with {@linkcode boundaryScores} (train on 4.3 MB of Korean LibreOffice help, score
 * 0.5 MB): F1 0.816 (syllable) and 0.856 (jamo) with the defaults; splitting everywhere gets 0.457.
 * Alternatives that lost: a majority vote of the rises' signs (0.76, 0.79); word edges left out of
 * the counts (< 0.47); H_f(s[b_i - n, b_i)) against the one-unit-shorter H_f(s[b_i - n, b_i - 1))
 * (0.785 syllable); for jamo, comparing with the context ending one jamo earlier (0.55).
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import { LLAMA3_SPLIT } from "./byte_level.ts";

/** What entropies are computed over: Hangul syllables, or the conjoining jamo they are made of. */
export type EntropyUnit = "syllable" | "jamo";

/** Options of {@linkcode BranchingEntropy.train}; defaults depend on the unit (see `DEFAULTS`). */
export interface BranchingEntropyOptions {
  /** Units the entropies are computed over (default `"syllable"`). */
  unit?: EntropyUnit;
  /** Contexts of 1..maxContext units are counted (default 4 syllables, 6 jamo). */
  maxContext?: number;
  /** Contexts seen fewer times than this carry no evidence (default 2). */
  minCount?: number;
  /** Least summed entropy rise (nats) for a split; default 5 syllable, 8 jamo (toy corpora: ~0). */
  threshold?: number;
}

/**
 * Defaults by unit, the best {@linkcode boundaryScores} F1 on the development data (module doc).
 * Syllable: maxContext 2/3/4/6 → 0.805/0.811/0.816/0.816; threshold 5–6.5 within 0.01; minCount 1
 * or 3 −0.005. Jamo: maxContext 4/6/8 → 0.827/0.856/0.856 (6 trains faster); threshold 7–9 within
 * 0.002. On a 2 MB subset the optimum moves by < 0.01 F1.
 */
export const DEFAULTS: Readonly<Record<EntropyUnit, Readonly<Required<BranchingEntropyOptions>>>> =
  Object.freeze({
    syllable: Object.freeze({ unit: "syllable", maxContext: 4, minCount: 2, threshold: 5 }),
    jamo: Object.freeze({ unit: "jamo", maxContext: 6, minCount: 2, threshold: 8 }),
  });

const _HANGUL_RUN = /[\uAC00-\uD7A3]+/g;
const _HAS_HANGUL = /[\uAC00-\uD7A3]/;
/** Marks a word's start and end in training keys; never a unit. */
const _EDGE = " ";

/**
 * Decomposes every precomposed Hangul syllable of `text` into conjoining jamo (lead U+1100+,
 * vowel U+1161+, tail U+11A8+ when there is one), arithmetically from U+AC00; other characters
 * are kept. Equals `text.normalize("NFD")` on Hangul syllables.
 *
 * @example
 * ```ts
 * import { decomposeHangul } from "./branching_entropy.ts";
 * console.log([...decomposeHangul("한글")]); // ["ᄒ", "ᅡ", "ᆫ", "ᄀ", "ᅳ", "ᆯ"]
 * ```
 */
export function decomposeHangul(text: string): string {
  return _units(text, "jamo").units;
}

/** A Hangul run's units and, for each syllable boundary k (0..length), its offset in them. */
function _units(run: string, unit: EntropyUnit): { units: string; offsets: number[] } {
  if (unit === "syllable") return { units: run, offsets: [...Array(run.length + 1).keys()] };
  let units = "";
  const offsets = [0];
  for (let k = 0; k < run.length; k++) {
    const o = run.charCodeAt(k) - 0xac00;
    if (o < 0 || o > 11171) units += run[k];
    else {
      units += String.fromCharCode(0x1100 + Math.floor(o / 588), 0x1161 + Math.floor(o / 28) % 21);
      if (o % 28) units += String.fromCharCode(0x11a7 + (o % 28)); // no tail jamo for 0
    }
    offsets.push(units.length);
  }
  return { units, offsets };
}

function _resolve(options: BranchingEntropyOptions): Required<BranchingEntropyOptions> {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o: Required<BranchingEntropyOptions> = {
    ...DEFAULTS[options.unit ?? "syllable"],
    ...given,
  };
  const fail = (key: keyof BranchingEntropyOptions, want: string) => {
    throw new UserError(`branching entropy: ${key} must be ${want}, got ${JSON.stringify(o[key])}`);
  };
  for (const key of Object.keys(options)) {
    if (!(key in DEFAULTS.syllable)) {
      throw new UserError(`branching entropy: unknown option ${key}`);
    }
  }
  if (o.unit !== "syllable" && o.unit !== "jamo") fail("unit", '"syllable" or "jamo"');
  const { maxContext: n, minCount: c } = o;
  if (!Number.isInteger(n) || n < 1 || n > 32) fail("maxContext", "an integer in 1..32");
  if (!Number.isInteger(c) || c < 1) fail("minCount", "an integer ≥ 1");
  if (!Number.isFinite(o.threshold)) fail("threshold", "a finite number");
  return o;
}

/** Forward and backward branching entropies of Hangul contexts, and the splits they imply. */
export class BranchingEntropy {
  /** The units the entropies are over. */
  readonly unit: EntropyUnit;
  /** The resolved options it was trained with (save them with whatever it produced). */
  readonly options: Readonly<Required<BranchingEntropyOptions>>;
  /** context → H_f, for contexts seen at least minCount times. */
  #forward: Map<string, number>;
  /** context → H_b, likewise. */
  #backward: Map<string, number>;

  private constructor(
    options: Required<BranchingEntropyOptions>,
    forward: Map<string, number>,
    backward: Map<string, number>,
  ) {
    this.unit = options.unit;
    this.options = Object.freeze({ ...options });
    this.#forward = forward;
    this.#backward = backward;
  }

  /**
   * Counts forward (next-unit) and backward (previous-unit) successor distributions of every
   * context of length 1..maxContext inside the words of `texts` (words = maximal runs of Hangul
   * syllables; other characters are word breaks). Takes about 0.2 s per MB of Korean text for
   * syllables, 0.5 s per MB for jamo.
   *
   * @example
   * ```ts
   * import { BranchingEntropy } from "./branching_entropy.ts";
   * const stems = ["학교", "회사", "우체국", "공원", "시장", "병원", "식당", "운동장"];
   * const texts = stems.flatMap((s) => ["에서", "는", "가", "를", "만", "과"].map((p) => s + p));
   * // A toy corpus has small entropies: a large one wants the default threshold.
   * const be = BranchingEntropy.train(texts, { threshold: 0 });
   * console.log(be.split("우체국에서")); // ["우체국", "에서"]
   * ```
   */
  static train(texts: Iterable<string>, options: BranchingEntropyOptions = {}): BranchingEntropy {
    const o = _resolve(options);
    // (n+1)-gram counts, n = 1..maxContext, over _EDGE + units + _EDGE of every word.
    const grams = new Map<string, number>();
    for (const text of texts) {
      for (const m of text.matchAll(_HANGUL_RUN)) {
        const s = _EDGE + _units(m[0], o.unit).units + _EDGE;
        for (let a = 0; a < s.length - 1; a++) {
          const end = Math.min(s.length, a + o.maxContext + 1);
          for (let b = a + 2; b <= end; b++) {
            const g = s.slice(a, b);
            grams.set(g, (grams.get(g) ?? 0) + 1);
          }
        }
      }
    }
    // Per context: N = Σ counts and S = Σ c log c (word edges add to N only: each is distinct).
    const fN = new Map<string, number>(), fS = new Map<string, number>();
    const bN = new Map<string, number>(), bS = new Map<string, number>();
    for (const [g, c] of grams) {
      const first = g[0] === _EDGE, last = g[g.length - 1] === _EDGE;
      const cLogC = c * Math.log(c);
      if (!first) {
        const x = g.slice(0, -1);
        fN.set(x, (fN.get(x) ?? 0) + c);
        fS.set(x, (fS.get(x) ?? 0) + (last ? 0 : cLogC));
      }
      if (!last) {
        const x = g.slice(1);
        bN.set(x, (bN.get(x) ?? 0) + c);
        bS.set(x, (bS.get(x) ?? 0) + (first ? 0 : cLogC));
      }
    }
    const entropies = (counts: Map<string, number>, sums: Map<string, number>) => {
      const h = new Map<string, number>();
      for (const [x, n] of counts) if (n >= o.minCount) h.set(x, Math.log(n) - sums.get(x)! / n);
      return h;
    };
    return new BranchingEntropy(o, entropies(fN, fS), entropies(bN, bS));
  }

  /**
   * Indices (in UTF-16 code units, 0 < i < word.length) where a Hangul word should be split, i.e.
   * at syllable boundaries only: inside each run of Hangul syllables of `word`, by the module doc's
   * rule (a run's neighbours are never looked at).
   */
  splitPoints(word: string): number[] {
    const points: number[] = [];
    for (const m of word.matchAll(_HANGUL_RUN)) {
      for (const i of this.#runSplitPoints(m[0])) points.push(m.index + i);
    }
    return points;
  }

  /**
   * H_f (`"forward"`) or H_b (`"backward"`) of `context`, undefined when it was seen fewer than
   * minCount times; in jamo mode its syllables are decomposed first.
   */
  entropy(context: string, direction: "forward" | "backward"): number | undefined {
    const units = this.unit === "jamo" ? decomposeHangul(context) : context;
    return (direction === "forward" ? this.#forward : this.#backward).get(units);
  }

  /** `word` split at {@linkcode BranchingEntropy.splitPoints}. */
  split(word: string): string[] {
    const pieces: string[] = [];
    let last = 0;
    for (const i of this.splitPoints(word)) {
      pieces.push(word.slice(last, i));
      last = i;
    }
    pieces.push(word.slice(last));
    return pieces;
  }

  /** Split points of one run of Hangul syllables (the module doc's rule). */
  #runSplitPoints(run: string): number[] {
    const { units: s, offsets: b } = _units(run, this.unit);
    const { maxContext, threshold } = this.options;
    const fwd = this.#forward, bwd = this.#backward;
    const points: number[] = [];
    for (let i = 1; i < run.length; i++) {
      let rise = 0, terms = 0;
      const add = (now: number | undefined, then: number | undefined) => {
        if (now === undefined || then === undefined) return;
        rise += now - then;
        terms++;
      };
      const prev = b[i - 1], at = b[i], next = b[i + 1];
      for (let n = 1; n <= maxContext; n++) {
        if (prev - n >= 0) add(fwd.get(s.slice(at - n, at)), fwd.get(s.slice(prev - n, prev)));
        if (next + n <= s.length) {
          add(bwd.get(s.slice(at, at + n)), bwd.get(s.slice(next, next + n)));
        }
      }
      if (terms > 0 && rise > threshold) points.push(i);
    }
    return points;
  }
}

/**
 * Llama-3 regex pre-tokenization (the exact Split pattern of Llama 3.1's tokenizer.json) and then,
 * inside every piece that contains Hangul, branching-entropy splits of each Hangul run; a leading
 * space/punctuation char stays attached to the first sub-piece. Concatenating the output gives back
 * `text` exactly. Without `be`, the regex pieces alone.
 *
 * @example
 * ```ts
 * import { BranchingEntropy, preTokenize } from "./branching_entropy.ts";
 * const stems = ["학교", "회사", "우체국", "공원", "시장", "병원", "식당", "운동장"];
 * const texts = stems.flatMap((s) => ["에서", "는", "가", "를", "만", "과"].map((p) => s + p));
 * const be = BranchingEntropy.train(texts, { threshold: 0 });
 * console.log(preTokenize("I'm at 우체국에서 now", be));
 * // ["I", "'m", " at", " 우체국", "에서", " now"]
 * ```
 */
export function preTokenize(text: string, be?: BranchingEntropy): string[] {
  const pieces: string[] = [];
  let last = 0;
  for (const m of text.matchAll(LLAMA3_SPLIT)) {
    // The pattern matches every character; the gap check only guards the round trip.
    if (m.index > last) pieces.push(text.slice(last, m.index));
    pieces.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) pieces.push(text.slice(last));
  if (!be) return pieces;
  return pieces.flatMap((p) => _HAS_HANGUL.test(p) ? be.split(p) : [p]);
}

/**
 * Word-segmentation check: removes spaces between Hangul words of `lines`, predicts boundaries with
 * splitPoints, returns precision/recall/F1 of predicted boundaries vs the removed spaces (only
 * positions between two Hangul syllables count). `boundaries` is the number of removed spaces.
 *
 * @example
 * ```ts
 * import { BranchingEntropy, boundaryScores } from "./branching_entropy.ts";
 * const be = BranchingEntropy.train(["학교 에서 학교 에서"], { threshold: 0 });
 * console.log(boundaryScores(be, ["학교 에서"]).boundaries); // 1
 * ```
 */
export function boundaryScores(
  be: BranchingEntropy,
  lines: Iterable<string>,
): { precision: number; recall: number; f1: number; boundaries: number } {
  let correct = 0, predicted = 0, boundaries = 0;
  for (const line of lines) {
    let joined = "", last = 0;
    const gold = new Set<number>();
    for (const m of line.matchAll(/[\uAC00-\uD7A3][^\S\r\n]+(?=[\uAC00-\uD7A3])/g)) {
      joined += line.slice(last, m.index + 1);
      gold.add(joined.length);
      last = m.index + m[0].length;
    }
    joined += line.slice(last);
    boundaries += gold.size;
    for (const i of be.splitPoints(joined)) {
      predicted++;
      if (gold.has(i)) correct++;
    }
  }
  const precision = predicted ? correct / predicted : 0,
    recall = boundaries ? correct / boundaries : 0;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1, boundaries };
}
