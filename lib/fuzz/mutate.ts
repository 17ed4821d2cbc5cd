/**
 * Mutations of valid files, as an attacker or a careless user would make them: bytes flipped,
 * cut, repeated or spliced in; numbers swapped for absurd ones (2^53, 1e300, −1, NaN); values
 * swapped for the wrong type; keys such as `__proto__` or `constructor` added; YAML aliases that
 * refer to themselves; markup nested 10,000 deep. Each mutation is chosen by the caller's PRNG, so
 * a seed reproduces a case exactly.
 *
 * @module
 */

/** A uniform random number in [0, 1). */
export type Rand = () => number;

/** One mutated file and a short description of what was done to it. */
export interface Mutant {
  bytes: Uint8Array;
  what: string;
}

/** How a file is structured: which mutations make sense for it. */
export type Shape =
  | "binary"
  | "json"
  | "jsonl"
  | "gzip"
  | "yaml"
  | "text"
  | "html"
  | "safetensors";

/** Numbers that break naive code. */
export const ABSURD_NUMBERS: readonly string[] = [
  "0",
  "-1",
  "-0",
  "0.5",
  "1e300",
  "-1e300",
  "9007199254740992",
  "2147483648",
  "1099511627776",
  "NaN",
  "Infinity",
  "4294967296",
];

/** Keys that collide with what every JavaScript object inherits. */
export const HOSTILE_KEYS: readonly string[] = [
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "prototype",
];

/** JSON values of every type, for swapping into a field. */
const WRONG_TYPES: readonly unknown[] = [
  null,
  true,
  [],
  {},
  "",
  "x",
  -1,
  1e300,
  9007199254740992,
  2147483648,
  0.5,
  [[[[[]]]]],
  { "__proto__": { "polluted": 1 } },
  "\u0000\uffff",
];

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: false });

function _int(rand: Rand, n: number): number {
  return Math.floor(rand() * n);
}

function _pick<T>(rand: Rand, xs: readonly T[]): T {
  return xs[_int(rand, xs.length)];
}

/** Byte-level mutations: any file. */
export function mutateBytes(src: Uint8Array, rand: Rand): Mutant {
  const b = src.slice();
  const n = b.length;
  switch (_int(rand, 9)) {
    case 0: {
      const flips = 1 + _int(rand, 8);
      for (let i = 0; i < flips && n; i++) b[_int(rand, n)] ^= 1 << _int(rand, 8);
      return { bytes: b, what: `${flips} bit(s) flipped` };
    }
    case 1: {
      const at = _int(rand, n + 1);
      return { bytes: b.slice(0, at), what: `truncated at byte ${at} of ${n}` };
    }
    case 2: {
      const at = _int(rand, n + 1);
      const len = 1 + _int(rand, 64);
      const junk = new Uint8Array(len).map(() => _int(rand, 256));
      return {
        bytes: _concat(b.slice(0, at), junk, b.slice(at)),
        what: `${len} random bytes at ${at}`,
      };
    }
    case 3: {
      const at = _int(rand, n);
      const len = 1 + _int(rand, Math.max(1, n - at));
      return {
        bytes: _concat(b.slice(0, at), b.slice(at + len)),
        what: `${len} bytes cut at ${at}`,
      };
    }
    case 4: {
      const at = _int(rand, n);
      const len = 1 + _int(rand, Math.min(256, Math.max(1, n - at)));
      const times = 2 + _int(rand, 50);
      const chunk = b.slice(at, at + len);
      const parts = [b.slice(0, at), ...Array(times).fill(chunk), b.slice(at)];
      return { bytes: _concat(...parts), what: `${len} bytes at ${at} repeated ${times}×` };
    }
    case 5:
      return { bytes: new Uint8Array(0), what: "empty file" };
    case 6: {
      const junk = new Uint8Array(1 + _int(rand, 4096)).map(() => _int(rand, 256));
      return { bytes: junk, what: `${junk.length} random bytes instead` };
    }
    case 7: {
      // an ASCII number swapped for an absurd one
      const text = dec.decode(b);
      const nums = [...text.matchAll(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi)];
      if (!nums.length) return mutateBytes(src, rand);
      const m = _pick(rand, nums);
      const to = _pick(rand, ABSURD_NUMBERS);
      const out = text.slice(0, m.index) + to + text.slice(m.index! + m[0].length);
      return { bytes: enc.encode(out), what: `number ${m[0]} → ${to}` };
    }
    default: {
      const at = _int(rand, n + 1);
      const bad = new Uint8Array([0xff, 0xfe, 0xc3, 0x28, 0x00, 0xed, 0xa0, 0x80]);
      return { bytes: _concat(b.slice(0, at), bad, b.slice(at)), what: `invalid UTF-8 at ${at}` };
    }
  }
}

/** Structure-aware mutations of a JSON document (wrong types, absurd numbers, hostile keys). */
export function mutateJson(src: Uint8Array, rand: Rand): Mutant {
  let doc: unknown;
  try {
    doc = JSON.parse(dec.decode(src));
  } catch {
    return mutateBytes(src, rand);
  }
  if (rand() < 0.25) return mutateBytes(src, rand);
  const paths = _paths(doc, []).filter((p) => p.length > 0);
  const choice = _int(rand, 5);
  if (choice === 0 || !paths.length) {
    const key = _pick(rand, HOSTILE_KEYS);
    const target = _pick(rand, [[], ...paths]);
    const holder = _get(doc, target);
    if (holder && typeof holder === "object" && !Array.isArray(holder)) {
      Object.defineProperty(holder, key, {
        value: _pick(rand, WRONG_TYPES),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      return _json(doc, `key "${key}" added at ${_name(target)}`);
    }
  }
  const path = _pick(rand, paths);
  if (choice === 1) {
    _del(doc, path);
    return _json(doc, `${_name(path)} removed`);
  }
  if (choice === 2) {
    const v = _get(doc, path);
    if (typeof v === "number" || typeof v === "string") {
      const to = Number(_pick(rand, ABSURD_NUMBERS));
      _set(doc, path, to);
      return _json(doc, `${_name(path)}: ${JSON.stringify(v)?.slice(0, 20)} → ${to}`);
    }
  }
  if (choice === 3) {
    let deep: unknown = 1;
    const depth = 1000 + _int(rand, 20000);
    for (let i = 0; i < depth; i++) deep = [deep];
    _set(doc, path, deep);
    try {
      return _json(doc, `${_name(path)} nested ${depth} deep`);
    } catch {
      return mutateBytes(src, rand);
    }
  }
  const to = _pick(rand, WRONG_TYPES);
  _set(doc, path, structuredClone(to));
  return _json(doc, `${_name(path)} → ${JSON.stringify(to)}`);
}

/** Line-level mutations of YAML: absurd values, wrong types, hostile keys, self-referring aliases. */
export function mutateYaml(src: Uint8Array, rand: Rand): Mutant {
  const text = dec.decode(src);
  const lines = text.split("\n");
  const keyed = lines.map((l, i) => [l, i] as const).filter(([l]) => /^\s*[\w-]+:/.test(l));
  if (rand() < 0.2 || !keyed.length) return mutateBytes(src, rand);
  const [line, i] = _pick(rand, keyed);
  const indent = /^\s*/.exec(line)![0];
  const key = /^\s*([\w-]+):/.exec(line)![1];
  const out = lines.slice();
  switch (_int(rand, 6)) {
    case 0:
      out[i] = `${indent}${key}: &a [*a]`;
      return _text(out, `${key}: a self-referring alias`);
    case 1: {
      const k = _pick(rand, HOSTILE_KEYS);
      out.splice(i, 0, `${indent}${k}: ${_pick(rand, ["1", "[]", "{}", "x", "&b [*b]"])}`);
      return _text(out, `key "${k}" added`);
    }
    case 2: {
      const v = _pick(rand, ABSURD_NUMBERS);
      out[i] = `${indent}${key}: ${v === "NaN" ? ".nan" : v === "Infinity" ? ".inf" : v}`;
      return _text(out, `${key}: ${v}`);
    }
    case 3: {
      const v = _pick(rand, ["[]", "{}", "null", "true", '""', "[[[[1]]]]", "~", "'x'", "-"]);
      out[i] = `${indent}${key}: ${v}`;
      return _text(out, `${key}: ${v}`);
    }
    case 4:
      out.splice(i, 0, out[i]);
      return _text(out, `${key} given twice`);
    default:
      out.splice(i, 1);
      return _text(out, `${key} removed`);
  }
}

/** Line- and token-level mutations of a text format (ARPA, fastText-style lines). */
export function mutateText(src: Uint8Array, rand: Rand): Mutant {
  const text = dec.decode(src);
  const lines = text.split("\n");
  if (rand() < 0.4 || lines.length < 2) return mutateBytes(src, rand);
  const i = _int(rand, lines.length);
  const out = lines.slice();
  switch (_int(rand, 5)) {
    case 0:
      out.splice(i, 1);
      return _text(out, `line ${i + 1} removed`);
    case 1:
      out.splice(i, 0, out[i]);
      return _text(out, `line ${i + 1} duplicated`);
    case 2: {
      const words = out[i].split(/(\s+)/);
      const w = _int(rand, words.length);
      words[w] = _pick(rand, [...ABSURD_NUMBERS, "", "\t", "=", "-", "\\data\\", "<s>"]);
      out[i] = words.join("");
      return _text(out, `line ${i + 1}: a token → ${JSON.stringify(words[w])}`);
    }
    case 3: {
      const nums = [...out[i].matchAll(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi)];
      if (!nums.length) return mutateBytes(src, rand);
      const m = _pick(rand, nums);
      const to = _pick(rand, ABSURD_NUMBERS);
      out[i] = out[i].slice(0, m.index) + to + out[i].slice(m.index! + m[0].length);
      return _text(out, `line ${i + 1}: ${m[0]} → ${to}`);
    }
    default:
      out.splice(i, 0, "x".repeat(1 + _int(rand, 100_000)));
      return _text(out, `a long line before line ${i + 1}`);
  }
}

/** Markup mutations: deep nesting, unclosed tags, binary, huge attribute lists, many links. */
export function mutateHtml(src: Uint8Array, rand: Rand): Mutant {
  const text = dec.decode(src);
  const at = _int(rand, text.length + 1);
  const ins = (s: string, what: string) => ({
    bytes: enc.encode(text.slice(0, at) + s + text.slice(at)),
    what,
  });
  switch (_int(rand, 7)) {
    case 0: {
      const depth = 1000 + _int(rand, 10_000);
      const tag = _pick(rand, ["div", "span", "b", "table", "li", "p"]);
      return ins(
        `<${tag}>`.repeat(depth) + "깊다" + `</${tag}>`.repeat(depth),
        `${depth} nested <${tag}>`,
      );
    }
    case 1: {
      const depth = 1000 + _int(rand, 10_000);
      return ins("<div>".repeat(depth), `${depth} unclosed <div>`);
    }
    case 2: {
      const n = 1000 + _int(rand, 10_000);
      const links = Array.from({ length: n }, (_, k) => `<a href="/p/${k}.html">링크 ${k}</a>`);
      return ins(links.join(""), `${n} links`);
    }
    case 3:
      return ins(
        `<p ${"a=1 ".repeat(1 + _int(rand, 20_000))}>`,
        "a tag with thousands of attributes",
      );
    case 4:
      return ins("<!--", "an unclosed comment");
    case 5:
      return ins('<meta charset="x-unknown-charset">', "an unknown charset");
    default:
      return mutateBytes(src, rand);
  }
}

/** Mutations of a safetensors file: its JSON header mutated structurally, or its bytes. */
export function mutateSafetensors(src: Uint8Array, rand: Rand): Mutant {
  if (src.length < 8 || rand() < 0.3) return mutateBytes(src, rand);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const hlen = Number(view.getBigUint64(0, true));
  if (rand() < 0.2) {
    const b = src.slice();
    const to = _pick(rand, [0n, 1n, 2n ** 53n, 2n ** 63n, BigInt(hlen + 1), BigInt(src.length)]);
    new DataView(b.buffer).setBigUint64(0, to, true);
    return { bytes: b, what: `header length ${hlen} → ${to}` };
  }
  const header = src.subarray(8, 8 + hlen);
  const m = mutateJson(header, rand);
  const h = m.bytes;
  const out = new Uint8Array(8 + h.length + (src.length - 8 - hlen));
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(src.subarray(8 + hlen), 8 + h.length);
  return { bytes: out, what: `header: ${m.what}` };
}

/** JSON lines: one line mutated as JSON, or the file as text. */
export function mutateJsonl(src: Uint8Array, rand: Rand): Mutant {
  const lines = dec.decode(src).split("\n");
  if (rand() < 0.4 || lines.length < 2) return mutateText(src, rand);
  const i = _int(rand, lines.length - 1);
  const m = mutateJson(enc.encode(lines[i]), rand);
  const out = lines.slice();
  out[i] = dec.decode(m.bytes).replaceAll("\n", " ");
  return _text(out, `line ${i + 1}: ${m.what}`);
}

/** Gzip JSON lines: the compressed bytes, the lines inside, or two members back to back. */
export async function mutateGzip(src: Uint8Array, rand: Rand): Promise<Mutant> {
  const r = rand();
  if (r < 0.3) return mutateBytes(src, rand);
  const plain = await _pipe(src, new DecompressionStream("gzip"));
  if (r < 0.45) {
    // valid: a standard multi-member gzip file (`cat a.gz b.gz`)
    const cut = plain.lastIndexOf(10, Math.floor(plain.length / 2)) + 1;
    const a = await _pipe(plain.slice(0, cut), new CompressionStream("gzip"));
    const b = await _pipe(plain.slice(cut), new CompressionStream("gzip"));
    return { bytes: _concat(a, b), what: "two gzip members back to back (valid)" };
  }
  const m = mutateJsonl(plain, rand);
  return { bytes: await _pipe(m.bytes, new CompressionStream("gzip")), what: `inside: ${m.what}` };
}

/** One mutation of `src` suited to its shape. */
export async function mutate(shape: Shape, src: Uint8Array, rand: Rand): Promise<Mutant> {
  switch (shape) {
    case "json":
      return mutateJson(src, rand);
    case "jsonl":
      return mutateJsonl(src, rand);
    case "gzip":
      return await mutateGzip(src, rand);
    case "yaml":
      return mutateYaml(src, rand);
    case "text":
      return mutateText(src, rand);
    case "html":
      return mutateHtml(src, rand);
    case "safetensors":
      return mutateSafetensors(src, rand);
    default:
      return mutateBytes(src, rand);
  }
}

async function _pipe(
  bytes: Uint8Array,
  ts: CompressionStream | DecompressionStream,
): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(
    ts as unknown as TransformStream<Uint8Array, Uint8Array>,
  );
  const out = new Response(stream).arrayBuffer();
  return new Uint8Array(await out);
}

function _concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

type Path = (string | number)[];

function _paths(v: unknown, at: Path, out: Path[] = []): Path[] {
  if (out.length > 5000) return out;
  out.push(at);
  if (Array.isArray(v)) {
    const step = Math.max(1, Math.floor(v.length / 20));
    for (let i = 0; i < v.length; i += step) _paths(v[i], [...at, i], out);
  } else if (v && typeof v === "object") {
    for (const k of Object.keys(v)) _paths((v as Record<string, unknown>)[k], [...at, k], out);
  }
  return out;
}

function _get(v: unknown, path: Path): unknown {
  for (const k of path) v = (v as Record<string | number, unknown>)?.[k];
  return v;
}

function _set(v: unknown, path: Path, value: unknown): void {
  const holder = _get(v, path.slice(0, -1)) as Record<string | number, unknown>;
  holder[path.at(-1)!] = value;
}

function _del(v: unknown, path: Path): void {
  const holder = _get(v, path.slice(0, -1));
  if (Array.isArray(holder)) holder.splice(path.at(-1) as number, 1);
  else delete (holder as Record<string, unknown>)[path.at(-1) as string];
}

function _name(path: Path): string {
  return path.length ? path.join(".") : "the top level";
}

function _json(doc: unknown, what: string): Mutant {
  return { bytes: enc.encode(JSON.stringify(doc)), what };
}

function _text(lines: string[], what: string): Mutant {
  return { bytes: enc.encode(lines.join("\n")), what };
}
