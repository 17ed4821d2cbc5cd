/**
 * Character sets of fetched pages: a byte-order mark wins, then the `Content-Type` header's
 * `charset`, then a `<meta charset>` / `<meta http-equiv>` in the first 4 KiB, else UTF-8. Korean
 * legacy labels (EUC-KR, KS_C_5601-1987, CP949, MS949, UHC) all decode as WHATWG "euc-kr", which
 * is the CP949 (Unified Hangul Code) superset, so pages using the extended syllables decode too.
 *
 * @module
 */

/** Labels WHATWG does not list that Korean sites send; mapped to their WHATWG equivalent. */
const EXTRA_LABELS: Record<string, string> = {
  "cp949": "euc-kr",
  "ms949": "euc-kr",
  "x-windows-949": "euc-kr",
  "uhc": "euc-kr",
  "ks_c_5601": "euc-kr",
  "x-euc-kr": "euc-kr",
};

/** The WHATWG encoding name for `label`, or undefined when the label is unknown. */
export function encodingFor(label: string): string | undefined {
  const l = label.trim().toLowerCase().replace(/^["']|["']$/g, "");
  const mapped = EXTRA_LABELS[l] ?? l;
  try {
    return new TextDecoder(mapped).encoding;
  } catch {
    return undefined;
  }
}

/** The `charset` parameter of a Content-Type header value. */
export function charsetOfContentType(contentType: string | null | undefined): string | undefined {
  const m = /;\s*charset\s*=\s*("?)([^";\s]+)\1/i.exec(contentType ?? "");
  return m ? m[2] : undefined;
}

/** The charset declared by a `<meta>` tag in the first 4 KiB of `bytes`. */
export function charsetOfMeta(bytes: Uint8Array): string | undefined {
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 4096));
  const direct = /<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)/i.exec(head);
  return direct ? direct[1] : undefined;
}

function _bom(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return "utf-8";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  return undefined;
}

/**
 * Decodes a page body; returns the text and the encoding used and where it came from.
 *
 * @example
 * ```ts
 * import { decodeBody } from "./charset.ts";
 * const euckr = new Uint8Array([0xc7, 0xd1, 0xb1, 0xdb]); // "한글" in EUC-KR
 * console.log(decodeBody(euckr, "text/html; charset=ks_c_5601-1987").text); // 한글
 * ```
 */
export function decodeBody(
  bytes: Uint8Array,
  contentType?: string | null,
): { text: string; encoding: string; source: "bom" | "header" | "meta" | "default" } {
  const bom = _bom(bytes);
  if (bom) return { text: new TextDecoder(bom).decode(bytes), encoding: bom, source: "bom" };
  const header = charsetOfContentType(contentType);
  const fromHeader = header ? encodingFor(header) : undefined;
  if (fromHeader) {
    return {
      text: new TextDecoder(fromHeader).decode(bytes),
      encoding: fromHeader,
      source: "header",
    };
  }
  const meta = charsetOfMeta(bytes);
  let fromMeta = meta ? encodingFor(meta) : undefined;
  // A page cannot declare itself UTF-16 in ASCII-compatible bytes (HTML spec: use UTF-8 then).
  if (fromMeta?.startsWith("utf-16")) fromMeta = "utf-8";
  if (fromMeta) {
    return { text: new TextDecoder(fromMeta).decode(bytes), encoding: fromMeta, source: "meta" };
  }
  return { text: new TextDecoder("utf-8").decode(bytes), encoding: "utf-8", source: "default" };
}
