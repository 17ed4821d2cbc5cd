/**
 * Normalisation, the first step of the filter pipeline: Unicode NFC (so that a Hangul syllable
 * written as conjoining jamo and its precomposed form compare equal), and whitespace clean-up.
 *
 * @module
 */

import type { Doc } from "../io/jsonl.ts";
import { BaseTransform } from "../pipeline/step.ts";

// Spaces that are not U+0020: no-break, the typographic spaces, ideographic space (U+3000).
const _SPACES = /[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g;
// Invisible characters that only get in the way: zero-width space, word joiner, BOM, soft hyphen.
const _INVISIBLE = /[\u200b\u2060\ufeff\u00ad]/g;
// C0/C1 controls other than tab and newline.
// deno-lint-ignore no-control-regex
const _CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Returns `text` in NFC with line breaks unified to `\n`, odd spaces turned into U+0020, invisible
 * and control characters removed, runs of spaces collapsed, lines trimmed, at most one blank line
 * in a row, and no leading or trailing blank lines.
 *
 * @example
 * ```ts
 * import { normalizeText } from "./normalize.ts";
 * normalizeText("  가\u3000나 \r\n\n\n\n다 "); // "가 나\n\n다"
 * ```
 */
export function normalizeText(text: string): string {
  const t = text.normalize("NFC")
    .replace(/\r\n?|[\u2028\u2029\u0085]/g, "\n")
    .replace(_INVISIBLE, "")
    .replace(_CONTROLS, "")
    .replace(_SPACES, " ");
  const lines = t.split("\n").map((l) => l.replace(/ {2,}/g, " ").trim());
  const out: string[] = [];
  for (const line of lines) {
    if (line === "" && (out.length === 0 || out[out.length - 1] === "")) continue;
    out.push(line);
  }
  while (out.length > 0 && out[out.length - 1] === "") out.pop();
  return out.join("\n");
}

/** The `normalize` step: {@linkcode normalizeText} on every document; empty results are dropped. */
export class Normalize extends BaseTransform {
  readonly name = "normalize";

  transform(doc: Doc): Doc {
    return { ...doc, text: normalizeText(doc.text) };
  }
}
