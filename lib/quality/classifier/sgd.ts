/**
 * The SGD inner loop of the fastText-style classifier, shared by the single-threaded trainer and
 * the Hogwild workers (`sgd_worker.ts`): for each example, average its input rows (the embedding
 * bag), softmax over the labels, then update the output rows and — with the gradient divided by
 * the number of features, as fastText does — every input row. The learning rate decays linearly
 * with the tokens processed by all threads together.
 *
 * Shapes: D = dim, L = labels; `input` (rows, D), `output` (L, D), row-major Float32.
 *
 * @module
 */

/** Training examples, flattened (so that workers can share them). */
export interface SgdData {
  /** Feature rows of all examples, concatenated. */
  feats: Int32Array;
  /** Example e's features are feats[fOff[e] … fOff[e+1]). */
  fOff: Int32Array;
  /** Label ids of all examples, concatenated; example e's are tIds[tOff[e] … tOff[e+1]). */
  tIds: Int32Array;
  tOff: Int32Array;
  /** Tokens of each example (words + `</s>`), for the learning-rate schedule. */
  ntok: Int32Array;
}

/** Counts tokens processed; returns the count before adding `n`. */
export type TokenCounter = (n: number) => number;

/** Mean of the input rows `feats[from…to)` into `hidden`. */
export function averageRows(
  input: Float32Array,
  feats: Int32Array,
  from: number,
  to: number,
  D: number,
  hidden: Float64Array,
): void {
  hidden.fill(0);
  for (let f = from; f < to; f++) {
    const off = feats[f] * D;
    for (let d = 0; d < D; d++) hidden[d] += input[off + d];
  }
  const n = to - from;
  if (n > 0) { for (let d = 0; d < D; d++) hidden[d] /= n; }
}

/** Softmax of `output · hidden` into `p`. */
export function softmaxRows(
  output: Float32Array,
  hidden: Float64Array,
  D: number,
  L: number,
  p: Float64Array,
): void {
  let max = -Infinity;
  for (let j = 0; j < L; j++) {
    let s = 0;
    const off = j * D;
    for (let d = 0; d < D; d++) s += output[off + d] * hidden[d];
    p[j] = s;
    if (s > max) max = s;
  }
  let z = 0;
  for (let j = 0; j < L; j++) z += p[j] = Math.exp(p[j] - max);
  for (let j = 0; j < L; j++) p[j] /= z;
}

/**
 * Runs SGD over the examples `order[from…to)`; returns the summed loss. `rnd` picks one label of
 * multi-label examples, as fastText does.
 */
export function sgdRun(
  input: Float32Array,
  output: Float32Array,
  D: number,
  L: number,
  data: SgdData,
  order: Int32Array,
  from: number,
  to: number,
  lr0: number,
  total: number,
  counter: TokenCounter,
  rnd: () => number,
): number {
  const hidden = new Float64Array(D), grad = new Float32Array(D), p = new Float64Array(L);
  const { feats, fOff, tIds, tOff, ntok } = data;
  let loss = 0;
  for (let i = from; i < to; i++) {
    const e = order[i];
    const lr = lr0 * Math.max(0, 1 - counter(ntok[e]) / total);
    const nt = tOff[e + 1] - tOff[e];
    const target = tIds[tOff[e] + (nt === 1 ? 0 : Math.floor(rnd() * nt))];
    const f0 = fOff[e], f1 = fOff[e + 1];
    if (f1 === f0) continue;
    averageRows(input, feats, f0, f1, D, hidden);
    softmaxRows(output, hidden, D, L, p);
    loss -= Math.log(Math.max(p[target], 1e-30));
    grad.fill(0);
    for (let j = 0; j < L; j++) {
      const alpha = lr * ((j === target ? 1 : 0) - p[j]);
      const off = j * D;
      for (let d = 0; d < D; d++) {
        grad[d] += alpha * output[off + d];
        output[off + d] += alpha * hidden[d];
      }
    }
    const inv = 1 / (f1 - f0);
    for (let d = 0; d < D; d++) grad[d] *= inv;
    for (let k = f0; k < f1; k++) {
      const off = feats[k] * D;
      for (let d = 0; d < D; d++) input[off + d] += grad[d];
    }
  }
  return loss;
}
