/**
 * Plain reference for delayed scaling (kernels/fp8_scale.wgsl): one slot's amax history update and
 * scale, in f32 like the GPU.
 *
 * @module
 */

/**
 * Pushes `amaxNow` into `history` (newest first, in place) and returns the new `[scale,
 * scaleInv]`, or the old ones when the history's max is 0 or not finite.
 */
export function delayedScalingRef(
  history: Float32Array,
  amaxNow: number,
  fp8Max: number,
  margin: number,
  old: [number, number],
): [number, number] {
  history.copyWithin(1, 0, history.length - 1);
  history[0] = amaxNow;
  let amax = 0;
  for (const v of history) amax = Math.max(amax, v);
  if (!(amax > 0 && amax < 3.4e38)) return old;
  const scale = Math.fround(Math.fround(fp8Max / amax) / Math.fround(2 ** margin));
  return [scale, Math.fround(1 / scale)];
}
