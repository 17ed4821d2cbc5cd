/**
 * Builds pipeline steps from their names and parameters as written in YAML pipeline files, e.g.
 *
 * ```yaml
 * steps:
 *   - normalize: {}
 *   - rules: { min_words: 10, min_hangul_ratio: 0.8 }
 * ```
 *
 * Each stage module registers its steps with {@linkcode registerStep}; unknown step names and
 * unknown parameters are one-line errors naming the file and the step.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import { checkValue, type OptionsSpec } from "../cli/options.ts";
import type { PipelineStep } from "./step.ts";

/** How a step is built: its parameters (typed, with defaults) and a factory. */
export interface StepFactory {
  summary: string;
  params: OptionsSpec;
  create(params: Record<string, unknown>): PipelineStep | Promise<PipelineStep>;
}

const _registry = new Map<string, StepFactory>();

/** Registers a step type under `name`. */
export function registerStep(name: string, factory: StepFactory): void {
  if (_registry.has(name)) throw new Error(`pipeline step "${name}" registered twice`);
  _registry.set(name, factory);
}

/** The registered step names with their summaries. */
export function listSteps(): [string, string][] {
  return [..._registry].map(([n, f]) => [n, f.summary]);
}

/** The factory of step `name` (its parameters with defaults), or undefined. */
export function stepFactory(name: string): StepFactory | undefined {
  return _registry.get(name);
}

/**
 * Builds a step from `{name: params}` as found at `where` (e.g. `pipeline.yaml: steps[2]`),
 * applying defaults and validating every parameter.
 */
export async function buildStep(
  name: string,
  params: Record<string, unknown> | null | undefined,
  where: string,
): Promise<PipelineStep> {
  const factory = _registry.get(name);
  if (!factory) {
    throw new UserError(
      `${where}: unknown step "${name}" (known: ${[..._registry.keys()].join(", ")})`,
    );
  }
  const resolved: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(factory.params)) {
    if (spec.default !== undefined) resolved[k] = structuredClone(spec.default);
  }
  for (const [k, v] of Object.entries(params ?? {})) {
    const spec = Object.hasOwn(factory.params, k) ? factory.params[k] : undefined;
    if (!spec) throw new UserError(`${where}: step "${name}" has no parameter "${k}"`);
    const problem = checkValue(spec, v);
    if (problem) {
      throw new UserError(`${where}: step "${name}" parameter "${k}": expected ${problem}`);
    }
    resolved[k] = v;
  }
  for (const [k, spec] of Object.entries(factory.params)) {
    if (spec.required && resolved[k] === undefined) {
      throw new UserError(`${where}: step "${name}" needs parameter "${k}"`);
    }
  }
  return await factory.create(resolved);
}
