/**
 * Writing a Unigram model as a sentencepiece-style vocabulary (`piece<TAB>log-prob` per line, the
 * `.vocab` spm_train writes) and as a Hugging Face `tokenizer.json` with a Unigram model: ▁ for
 * spaces (Metaspace), NFKC when the model was trained on NFKC text, byte fallback when it has
 * byte pieces — the layout Hugging Face's own converter gives sentencepiece models.
 *
 * @module
 */

import { PieceType, type UnigramModel } from "./unigram.ts";

/** The `.vocab` text: one `piece\tscore` line per id. */
export function sentencePieceVocabText(model: UnigramModel): string {
  return model.pieces.map((p) => `${p.piece}\t${p.type === PieceType.NORMAL ? p.score : 0}`)
    .join("\n") + "\n";
}

/** Options of the tokenizer.json. */
export interface UnigramJsonOptions {
  /** Text normalisation the model was trained with. */
  normalizer?: "NFKC" | null;
  /** Prepend ▁ to the text (sentencepiece's add_dummy_prefix). */
  addPrefixSpace?: boolean;
}

/** A Hugging Face tokenizer.json object for `model`. */
export function unigramTokenizerJson(
  model: UnigramModel,
  options: UnigramJsonOptions = {},
): Record<string, unknown> {
  const prepend = options.addPrefixSpace ?? true ? "always" : "never";
  const special = model.pieces.flatMap((p, id) =>
    p.type === PieceType.UNKNOWN || p.type === PieceType.CONTROL
      ? [{
        id,
        content: p.piece,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      }]
      : []
  );
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: special,
    normalizer: options.normalizer ? { type: options.normalizer } : null,
    pre_tokenizer: {
      type: "Metaspace",
      replacement: "\u2581",
      prepend_scheme: prepend,
      split: true,
    },
    post_processor: null,
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "\u2581" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        ...(prepend === "always" ? [{ type: "Strip", content: " ", start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: "Unigram",
      unk_id: model.unkId,
      vocab: model.pieces.map((p) => [p.piece, p.type === PieceType.NORMAL ? p.score : 0]),
      byte_fallback: model.byteFallback,
    },
  };
}
