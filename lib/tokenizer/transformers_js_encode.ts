/**
 * Encodes texts with transformers.js (`@xenova/transformers`' `src/tokenizers.js`) and prints the
 * ids as JSON: the cross-check that a tokenizer.json Jikji writes loads there and encodes as
 * Jikji's own encoder does. A separate script because transformers.js loads the ONNX runtime's
 * native binding at import, which needs `--allow-ffi` that no Jikji task grants:
 *
 *     deno run --allow-read --allow-env --allow-ffi lib/tokenizer/transformers_js_encode.ts \
 *       TOKENIZER_JSON TEXTS_JSON
 *
 * @module
 */

import { PreTrainedTokenizer } from "@xenova/transformers/src/tokenizers.js";

if (import.meta.main) {
  const [tokenizerPath, textsPath] = Deno.args;
  const tok = new PreTrainedTokenizer(JSON.parse(await Deno.readTextFile(tokenizerPath)), {});
  const texts: string[] = JSON.parse(await Deno.readTextFile(textsPath));
  const ids = texts.map((t) => Array.from(tok.encode(t, null, { add_special_tokens: false })));
  console.log(JSON.stringify(ids));
}
