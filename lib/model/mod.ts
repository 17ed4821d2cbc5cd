/**
 * The Llama model: config.json, safetensors, Hugging Face folders, the CPU reference and the
 * WebGPU model.
 *
 * @module
 */

export * from "./config.ts";
export * from "./safetensors.ts";
export * from "./hf_folder.ts";
export * from "./llama_ref.ts";
export * from "./llama_gpu.ts";
