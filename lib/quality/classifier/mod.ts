/**
 * The fastText-style classifier, its `.vec` reader, the "mostly Hangul?" check task and the
 * educational-quality workflow (annotators, oversampling, retraining rounds).
 *
 * @module
 */

export * from "./fasttext.ts";
export * from "./fasttext_bin.ts";
export * from "./vec.ts";
export * from "./hangul_task.ts";
export * from "./llm_client.ts";
export * from "./edu.ts";
