/**
 * fastText's text word-vector format (`.vec`): a header line `COUNT DIM`, then one line per word,
 * `word v1 … vDIM`. The reader is strict: the header must be two integers, every line must have
 * exactly DIM numbers and the number of lines must match COUNT; problems name `file:line`.
 *
 * @module
 */

import { UserError } from "../../io/errors.ts";
import { readLines } from "../../io/jsonl.ts";

/** Word vectors. */
export interface WordVectors {
  dim: number;
  vectors: Map<string, Float32Array>;
}

/**
 * Reads a `.vec` file.
 *
 * @example
 * ```ts ignore
 * const { dim, vectors } = await readVec("wiki.ko.vec");
 * ```
 */
export async function readVec(path: string): Promise<WordVectors> {
  let count = -1, dim = -1, n = 0, last = 0;
  const vectors = new Map<string, Float32Array>();
  for await (const [no, line] of readLines(path)) {
    last = no;
    if (count < 0) {
      const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(line);
      if (!m) throw new UserError(`${path}:${no}: expected the header "COUNT DIM" of a .vec file`);
      count = Number(m[1]);
      dim = Number(m[2]);
      continue;
    }
    if (line.trim() === "") continue;
    const parts = line.trimEnd().split(" ");
    if (parts.length !== dim + 1) {
      throw new UserError(
        `${path}:${no}: expected a word and ${dim} numbers, got ${parts.length} fields`,
      );
    }
    const v = new Float32Array(dim);
    for (let i = 0; i < dim; i++) {
      const x = Number(parts[i + 1]);
      if (!Number.isFinite(x) || parts[i + 1] === "") {
        throw new UserError(`${path}:${no}: "${parts[i + 1]}" is not a number`);
      }
      v[i] = x;
    }
    vectors.set(parts[0], v);
    n++;
  }
  if (count < 0) throw new UserError(`${path}: empty file; expected a .vec header`);
  if (n !== count) {
    throw new UserError(`${path}:${last}: the header says ${count} vectors but the file has ${n}`);
  }
  return { dim, vectors };
}
