/**
 * GPT-2's byte-level alphabet (each byte a printable code point, so a BPE vocabulary of byte
 * strings can live in JSON) and Llama 3's pre-tokenization regex, as JavaScript.
 *
 * @module
 */

/** Llama 3.1's `Split` pattern, in the form its tokenizer.json stores it. */
export const LLAMA3_SPLIT_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * Llama 3.1's pre-tokenization regex for JavaScript: `(?i:…)` (not JS syntax before ES2025)
 * spelled out case by case.
 */
export const LLAMA3_SPLIT =
  /'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/** Splits `text` as Llama 3.1's pre-tokenizer does (the pieces concatenate to `text`). */
export function llamaSplit(text: string): string[] {
  return text.match(LLAMA3_SPLIT) ?? [];
}

/** byte → its code point in the byte-level alphabet. */
export const BYTE_TO_CHAR: string[] = (() => {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const out: string[] = new Array(256);
  for (const b of keep) out[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (out[b] === undefined) out[b] = String.fromCharCode(256 + n++);
  return out;
})();

/** Byte-level code point → byte. */
export const CHAR_TO_BYTE: Map<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

const encoder = new TextEncoder();

/** The byte-level spelling of `text`'s UTF-8 bytes (lone surrogates become U+FFFD first). */
export function toByteLevel(text: string): string {
  let out = "";
  for (const b of encoder.encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}

/** The bytes a byte-level string stands for; throws on a character outside the alphabet. */
export function fromByteLevel(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const b = CHAR_TO_BYTE.get(s[i]);
    if (b === undefined) throw new Error(`not a byte-level string: ${JSON.stringify(s)}`);
    out[i] = b;
  }
  return out;
}
