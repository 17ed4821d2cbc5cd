/** The sum and the max of each row of x (rows, n): out[2r] = sum, out[2r + 1] = max (f64 sums). */
export function rowStatsRef(x: ArrayLike<number>, rows: number, n: number): Float32Array {
  const out = new Float32Array(2 * rows);
  for (let r = 0; r < rows; r++) {
    let s = 0, m = -Infinity;
    for (let i = 0; i < n; i++) {
      s += x[r * n + i];
      m = Math.max(m, x[r * n + i]);
    }
    out[2 * r] = s;
    out[2 * r + 1] = m;
  }
  return out;
}
