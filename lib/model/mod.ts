/**
 * The Llama model: config.json, safetensors, Hugging Face folders, the one model definition
 * (lib/model/llama.ts) over its two backends, the precision policy, generation and the golden file.
 *
 * @module
 */

export * from "./config.ts";
export * from "./safetensors.ts";
export * from "./hf_folder.ts";
export * from "./params.ts";
export * from "./ops.ts";
export * from "./precision.ts";
export * from "./llama.ts";
export * from "./backend.ts";
export * from "./generate.ts";
