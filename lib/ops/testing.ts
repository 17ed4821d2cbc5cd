/**
 * Helpers for kernel tests: seeded random data and a comparison that, on failure, names the first
 * few `gpu ref` pairs and the largest difference.
 *
 * @module
 */

/** A seeded uniform generator in [lo, hi). */
export function rng(seed: number): (lo?: number, hi?: number) => number {
  let s = seed >>> 0 || 1;
  return (lo = -1, hi = 1) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return lo + (hi - lo) * (s / 4294967296);
  };
}

/** `n` seeded values in [lo, hi). */
export function randn(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r(lo, hi));
}

/**
 * Throws unless |gpu - ref| ≤ atol + rtol·|ref| everywhere (or ≤ `bound[i]` when given); the
 * message lists the first mismatches and the largest difference.
 */
export function assertClose(
  what: string,
  gpu: ArrayLike<number>,
  ref: ArrayLike<number>,
  tol: { atol?: number; rtol?: number; bound?: ArrayLike<number> },
): void {
  if (gpu.length !== ref.length) throw new Error(`${what}: length ${gpu.length} ≠ ${ref.length}`);
  const bad: string[] = [];
  let worst = 0, worstAt = -1;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(gpu[i] - ref[i]);
    const lim = tol.bound ? tol.bound[i] : (tol.atol ?? 0) + (tol.rtol ?? 0) * Math.abs(ref[i]);
    if (!(d <= lim)) {
      if (bad.length < 5) bad.push(`[${i}] gpu ${gpu[i]} ref ${ref[i]} (limit ${lim})`);
      if (!(d <= worst)) [worst, worstAt] = [d, i];
    }
  }
  if (bad.length) {
    throw new Error(`${what}: ${bad.join("; ")}; largest |diff| ${worst} at ${worstAt}`);
  }
}

/**
 * Checks an analytic gradient against central finite differences of `f` at `x` (float64, so
 * eps = 1e-6 leaves ~1e-9 relative error): |grad - fd| ≤ 1e-6 + 1e-5·|fd| at every index.
 */
export function assertFiniteDiff(
  what: string,
  f: (x: Float64Array) => number,
  x: ArrayLike<number>,
  grad: ArrayLike<number>,
  eps = 1e-6,
): void {
  const xx = Float64Array.from(x);
  const fd = new Float64Array(xx.length);
  for (let i = 0; i < xx.length; i++) {
    const v = xx[i];
    xx[i] = v + eps;
    const fp = f(xx);
    xx[i] = v - eps;
    const fm = f(xx);
    xx[i] = v;
    fd[i] = (fp - fm) / (2 * eps);
  }
  assertClose(`${what} vs finite differences`, grad, fd, { atol: 1e-6, rtol: 1e-5 });
}

/** Σ r_i·y_i: the scalar loss whose gradient w.r.t. y is r. */
export function dot(r: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += r[i] * y[i];
  return s;
}
