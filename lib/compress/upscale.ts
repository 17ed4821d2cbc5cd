/**
 * Depth up-scaling (SOLAR 10.7B, Kim et al. 2023): a model of L layers becomes one of 2(L − m)
 * layers by concatenating two copies of its layers, the last m dropped from the first copy and
 * the first m from the second (L = 32, m = 8 gives 48); or any explicit layer map. Continued
 * pretraining then heals the seam (`deno task train --init-from`).
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import type { LlamaConfig } from "../model/config.ts";
import type { Params } from "../model/params.ts";

/** SOLAR's map for L layers and m dropped: [0 … L−m−1] then [m … L−1]. */
export function dusLayerMap(L: number, m: number): number[] {
  if (!Number.isInteger(m) || m < 0 || m >= L) {
    throw new UserError(
      `--drop ${m}: expected an integer from 0 to ${L - 1} (the model has ${L} layers)`,
    );
  }
  const first = Array.from({ length: L - m }, (_, i) => i);
  const second = Array.from({ length: L - m }, (_, i) => m + i);
  return [...first, ...second];
}

/**
 * Parses a layer map such as `0-23,8-31` (ranges inclusive, single indices allowed) for a model
 * of `L` layers; the result lists, for each new layer, the old layer it copies.
 *
 * @example
 * ```ts
 * import { parseLayerMap } from "./upscale.ts";
 * console.log(parseLayerMap("0-2,1-3", 4)); // [0, 1, 2, 1, 2, 3]
 * ```
 */
export function parseLayerMap(spec: string, L: number): number[] {
  const bad = (why: string): never => {
    throw new UserError(`--layer-map ${spec}: ${why} (e.g. 0-23,8-31 for a 32-layer model)`);
  };
  const out: number[] = [];
  for (const part of spec.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) bad(`"${part}" is not an index or a range A-B`);
    const a = Number(m![1]), b = m![2] === undefined ? a : Number(m![2]);
    if (b < a) bad(`range ${part} runs backwards`);
    if (b >= L) bad(`layer ${b} does not exist (the model has ${L} layers, 0-${L - 1})`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/** The parameters of a model whose layer i is a copy of old layer `map[i]`. */
export function remapLayers(
  cfg: LlamaConfig,
  params: Params,
  map: readonly number[],
): { cfg: LlamaConfig; params: Params } {
  if (!map.length) throw new UserError("layer map: empty (a model needs at least one layer)");
  const out: Params = new Map();
  const layer = /^model\.layers\.(\d+)\.(.*)$/;
  for (const [name, p] of params) if (!layer.test(name)) out.set(name, p);
  map.forEach((src, i) => {
    if (!(src >= 0 && src < cfg.num_hidden_layers)) {
      throw new UserError(`layer map: layer ${src} outside 0-${cfg.num_hidden_layers - 1}`);
    }
    for (const [name, p] of params) {
      const m = layer.exec(name);
      if (m && Number(m[1]) === src) out.set(`model.layers.${i}.${m[2]}`, p.slice());
    }
  });
  return { cfg: { ...cfg, num_hidden_layers: map.length }, params: out };
}
