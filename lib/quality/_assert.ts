/** Small assertion helpers for the quality tests (node:assert based; JSR is not reachable). */

import nodeAssert from "node:assert/strict";

/** Fails unless `cond`. */
export function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg);
}

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}

/** |actual − expected| ≤ tol. */
export function assertAlmostEquals(actual: number, expected: number, tol = 1e-7, msg = ""): void {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new Error(`${msg} expected ${expected} ± ${tol}, got ${actual}`.trim());
  }
}

/** `fn` rejects with an instance of `cls` whose message includes `includes`. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  cls: new (...a: never[]) => Error,
  includes = "",
): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof cls)) throw new Error(`expected ${cls.name}, got ${err}`);
    if (!err.message.includes(includes)) {
      throw new Error(`expected a message including "${includes}", got "${err.message}"`);
    }
    return err;
  }
  throw new Error(`expected a rejection with ${cls.name}`);
}
