/**
 * Encodes texts with transformers.js (`@xenova/transformers`' `src/tokenizers.js`): the
 * cross-check that a tokenizer.json Jikji writes loads there and encodes as Jikji's own encoder
 * does, and transformers.js's encode speed for comparison. A separate script because
 * transformers.js loads the ONNX runtime's native binding at import, which needs `--allow-ffi`
 * that no Jikji task grants:
 *
 *     deno run --allow-read --allow-env --allow-ffi lib/tokenizer/transformers_js_encode.ts \
 *       TOKENIZER_JSON TEXTS_JSON            # prints the ids of each text as JSON
 *     … transformers_js_encode.ts --time TOKENIZER_JSON TEXT_FILE
 *                                           # MB/s over the file's lines (median of 3, warm)
 *
 * @module
 */

import { PreTrainedTokenizer } from "@xenova/transformers/src/tokenizers.js";

if (import.meta.main) {
  const time = Deno.args[0] === "--time";
  const [tokenizerPath, textsPath] = time ? Deno.args.slice(1) : Deno.args;
  const tok = new PreTrainedTokenizer(JSON.parse(await Deno.readTextFile(tokenizerPath)), {});
  const encode = (t: string) => Array.from(tok.encode(t, null, { add_special_tokens: false }));
  if (time) {
    const lines = (await Deno.readTextFile(textsPath)).split("\n").filter((l) => l.trim());
    const bytes = lines.reduce((a, l) => a + new TextEncoder().encode(l).length, 0);
    const times: number[] = [];
    for (let rep = 0; rep < 4; rep++) {
      const t0 = performance.now();
      lines.forEach(encode);
      if (rep > 0) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    console.log(`${(bytes / 1e6 / (times[1] / 1000)).toFixed(2)} MB/s (${lines.length} lines)`);
  } else {
    const texts: string[] = JSON.parse(await Deno.readTextFile(textsPath));
    console.log(JSON.stringify(texts.map(encode)));
  }
}
