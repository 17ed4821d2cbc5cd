/**
 * `bench sft`: SFT throughput with packing (several conversations per row, document masks)
 * against padding (one conversation per row), same model, same conversations, same run: real
 * (non-padding) tokens per second over one pass of 64 short chat conversations of mixed lengths
 * through forward, backward and AdamW, on the tiny preset's shape with the byte-level demo
 * tokenizer and its chat template.
 *
 * @module
 */

import { writeJsonAtomic } from "../io/atomic.ts";
import { readLlamaConfig } from "../model/config.ts";
import { initParams, Rng } from "../model/params.ts";
import { byteLevelTokenizerJson } from "../train/tokenizer.ts";
import { createEngine } from "../train/engine.ts";
import { THUNDER_ADAMW } from "../train/optim.ts";
import { writeByteLevelChatFiles } from "../posttrain/byte_chat.ts";
import { loadChatFormat } from "../posttrain/chat_template.ts";
import { conversationExample, makeRows, sliceRows } from "../posttrain/examples.ts";
import type { BenchResult, BenchSuite } from "./harness.ts";

/** The sft suite. */
export const sftBench: BenchSuite = {
  name: "sft",
  summary: "SFT tokens/s with packing vs padding (tiny preset, chat template), same run",
  async *run(ctx): AsyncIterable<BenchResult> {
    const dir = "runs/bench-sft-tokenizer";
    await Deno.mkdir(dir, { recursive: true });
    await writeJsonAtomic(`${dir}/tokenizer.json`, byteLevelTokenizerJson());
    await writeByteLevelChatFiles(dir);
    const format = await loadChatFormat(dir);
    const cfg = await readLlamaConfig("data/configs/llama-tiny.json");
    const rng = new Rng(4);
    const words = ["LibreOffice", "셀", "서식을", "선택합니다", "open", "the", "menu", "저장"];
    const say = (n: number) =>
      Array.from({ length: n }, () => words[rng.nextU32() % words.length]).join(" ");
    const examples = Array.from({ length: ctx.quick ? 32 : 64 }, () =>
      conversationExample(format, [
        { role: "user", content: say(2 + (rng.nextU32() % 8)) },
        { role: "assistant", content: say(2 + (rng.nextU32() % 20)) },
      ], "assistant"));
    const T = 256, B = 4;
    const real = examples.reduce((n, e) => n + Math.min(e.ids.length - 1, T), 0);
    const tps: Record<string, number> = {};
    for (const packing of [true, false, true, false]) {
      const rows = makeRows(examples, T, packing);
      const engine = await createEngine("gpu", {
        cfg,
        params: initParams(cfg, 0),
        adam: THUNDER_ADAMW,
        B,
        T,
        precision: "bf16",
        clip: 1,
      });
      const t0 = performance.now();
      for (let r0 = 0; r0 < rows.B; r0 += B) {
        const b = sliceRows(rows, r0, Math.min(B, rows.B - r0));
        await engine.stepWith(1e-3, async (m, grads) => {
          const pass = await m.forward(b, { grad: true });
          return (await m.backward(pass, { targets: b.targets }, grads)).loss;
        });
      }
      const v = real / ((performance.now() - t0) / 1000);
      const key = packing ? "packed" : "padded";
      tps[key] = Math.max(tps[key] ?? 0, v);
      ctx.log(`sft: ${key}: ${rows.B} rows of ${T}, ${v.toFixed(0)} tokens/s`);
      engine.close();
    }
    yield {
      name: "sft step, packed rows (gpu engine, bf16)",
      value: tps.packed,
      unit: "tokens/s",
      peer: "the same conversations padded, one per row",
      peer_value: tps.padded,
      note:
        `${examples.length} conversations, ${real} real tokens, T=${T}, B=${B}; best of 2 passes each`,
    };
  },
};
