/**
 * A Hogwild worker of the classifier's training: runs {@linkcode sgdRun} on its share of the
 * examples over matrices in shared memory, updating them without locks as fastText's threads do.
 *
 * @module
 */

import { sgdRun } from "./sgd.ts";
import { mulberry32 } from "./prng.ts";

/** What the trainer sends for one epoch. */
export interface SgdJob {
  input: SharedArrayBuffer;
  output: SharedArrayBuffer;
  D: number;
  L: number;
  feats: SharedArrayBuffer;
  fOff: SharedArrayBuffer;
  tIds: SharedArrayBuffer;
  tOff: SharedArrayBuffer;
  ntok: SharedArrayBuffer;
  order: SharedArrayBuffer;
  counter: SharedArrayBuffer;
  from: number;
  to: number;
  lr: number;
  total: number;
  seed: number;
}

// deno-lint-ignore no-explicit-any
const self_ = self as any;
self_.onmessage = (ev: MessageEvent<SgdJob>) => {
  const j = ev.data;
  const counter = new Int32Array(j.counter);
  const loss = sgdRun(
    new Float32Array(j.input),
    new Float32Array(j.output),
    j.D,
    j.L,
    {
      feats: new Int32Array(j.feats),
      fOff: new Int32Array(j.fOff),
      tIds: new Int32Array(j.tIds),
      tOff: new Int32Array(j.tOff),
      ntok: new Int32Array(j.ntok),
    },
    new Int32Array(j.order),
    j.from,
    j.to,
    j.lr,
    j.total,
    (n) => Atomics.add(counter, 0, n),
    mulberry32(j.seed),
  );
  self_.postMessage({ loss });
};
