/**
 * ARPA back-off model files, the text format KenLM, SRILM and IRSTLM share:
 *
 * ```text
 * \data\
 * ngram 1=7
 * ngram 2=11
 *
 * \1-grams:
 * -1.0791812	<unk>	0
 * …
 * \end\
 * ```
 *
 * Each n-gram line is `log10prob TAB w1 … wk [TAB log10backoff]` (backoff only below the highest
 * order). The reader is strict: counts in the header must match the sections, every line must
 * parse, every n-gram's context must be present one order down, and `<s>`/`</s>` must exist; each
 * problem is a {@linkcode UserError} naming `file:line`. A missing `<unk>` is added with log10
 * probability −100, as KenLM does.
 *
 * @module
 */

import { UserError } from "../../io/errors.ts";
import { AtomicFile } from "../../io/atomic.ts";
import { readLines } from "../../io/jsonl.ts";
import { NgramModel, type OrderTable } from "./model.ts";
import { IntVec, PairIndex } from "./pair_index.ts";
import { Vocab } from "./vocab.ts";

/** Formats a float the way ARPA files usually do (up to 8 significant digits). */
function _num(x: number): string {
  if (x === 0) return "0";
  let s = x.toPrecision(8);
  if (s.includes("e")) return String(Number(s));
  if (s.includes(".")) {
    let end = s.length;
    while (s.charCodeAt(end - 1) === 48) end--; // trailing zeros
    if (s.charCodeAt(end - 1) === 46) end--; // a bare "."
    s = s.slice(0, end);
  }
  return s;
}

/** Writes `model` as an ARPA file at `path` (atomically). */
export async function writeArpa(model: NgramModel, path: string): Promise<void> {
  const out = await AtomicFile.open(path);
  try {
    const enc = new TextEncoder();
    const buf = new Uint8Array(1 << 20);
    let pos = 0;
    const flush = async () => {
      await out.write(buf.subarray(0, pos));
      pos = 0;
    };
    const ascii = (s: string) => {
      for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
    };
    const counts = model.counts();
    ascii("\\data\\\n");
    for (let k = 1; k <= model.order; k++) ascii(`ngram ${k}=${counts[k - 1]}\n`);
    const wordBytes = model.vocab.words.map((w) => enc.encode(w));
    const maxWord = Math.max(...wordBytes.map((b) => b.length));
    const ids = new Int32Array(model.order);
    for (let k = 1; k <= model.order; k++) {
      await flush();
      ascii(`\n\\${k}-grams:\n`);
      const pr = model.prob[k - 1], bo = model.backoff[k - 1];
      for (let i = 0; i < pr.length; i++) {
        if (pos + k * (maxWord + 1) + 64 > buf.length) await flush();
        // the words of n-gram i, by walking its contexts down to the unigram
        let node = i;
        for (let o = k; o >= 2; o--) {
          const tt = model.tables[o - 1];
          ids[o - 1] = tt.word.data[node];
          node = tt.ctx.data[node];
        }
        ids[0] = node;
        ascii(_num(pr[i]));
        buf[pos++] = 9;
        for (let j = 0; j < k; j++) {
          if (j > 0) buf[pos++] = 32;
          const wb = wordBytes[ids[j]];
          buf.set(wb, pos);
          pos += wb.length;
        }
        if (k < model.order) {
          buf[pos++] = 9;
          ascii(_num(bo[i]));
        }
        buf[pos++] = 10;
      }
    }
    ascii("\n\\end\\\n");
    await flush();
    await out.commit();
  } catch (err) {
    await out.abort();
    throw err;
  }
}

/**
 * Reads an ARPA file into a model.
 *
 * @example
 * ```ts ignore
 * const model = await readArpa("ko.arpa");
 * console.log(model.scoreSentence(["안녕", "하세요"]).logprob);
 * ```
 */
export async function readArpa(path: string): Promise<NgramModel> {
  const lines = readLines(path);
  // A k-gram line takes at least 2k + 2 bytes ("p w … w\n"); a count the file cannot hold is
  // refused before tables are sized by it (gzip: up to its 1032:1 ceiling).
  const size = await Deno.stat(path).then((i) => i.size).catch(() => 0);
  const room = size * (path.endsWith(".gz") ? 1032 : 1);
  const fail = (line: number, msg: string): never => {
    throw new UserError(`${path}:${line}: ${msg}`);
  };
  let state: "start" | "header" | "between" | "grams" | "end" = "start";
  const declared: number[] = [];
  const vocab = new Vocab();
  const unigramIds: number[] = [];
  let order = 0;
  let k = 0; // current section's order
  let seen = 0; // lines read in current section
  let lastLine = 0;
  const probs: Float32Array[] = [], backs: Float32Array[] = [];
  const tables: OrderTable[] = [undefined as unknown as OrderTable];
  const wordIdsOfUnigram = new Map<string, number>();
  const ids: number[] = [];
  for await (const [no, raw] of lines) {
    lastLine = no;
    const line = raw.trim();
    if (state === "start") {
      if (line === "") continue;
      if (line !== "\\data\\") {
        fail(no, `expected "\\data\\" at the start of an ARPA file, got "${line.slice(0, 40)}"`);
      }
      state = "header";
      continue;
    }
    if (state === "header") {
      if (line === "") {
        if (declared.length > 0) state = "between";
        continue;
      }
      const m = /^ngram\s+(\d+)\s*=\s*(\d+)$/.exec(line);
      if (!m) fail(no, `expected "ngram K=COUNT", got "${line.slice(0, 40)}"`);
      const kk = Number(m![1]), c = Number(m![2]);
      if (kk !== declared.length + 1) {
        fail(no, `expected ngram ${declared.length + 1}=…, got ngram ${kk}`);
      }
      if (!Number.isSafeInteger(c) || c * (2 * kk + 2) > room) {
        fail(no, `ngram ${kk}=${m![2]} is more ${kk}-grams than a file of ${size} bytes can hold`);
      }
      declared.push(c);
      continue;
    }
    if (state === "between") {
      if (line === "") continue;
      if (line === "\\end\\") {
        if (k !== declared.length) fail(no, `\\end\\ before the ${k + 1}-grams section`);
        state = "end";
        continue;
      }
      if (declared.length === 0) fail(no, 'no "ngram K=COUNT" lines in the header');
      const m = /^\\(\d+)-grams:$/.exec(line);
      if (!m) {
        if (k > 0) {
          fail(
            no,
            `more ${k}-grams than the header's ngram ${k}=${
              declared[k - 1]
            }, or a malformed section header`,
          );
        }
        if (/^ngram\s/.test(line)) fail(no, `header lines must not be separated by blank lines`);
        fail(no, `expected "\\${k + 1}-grams:", got "${line.slice(0, 40)}"`);
      }
      const kk = Number(m![1]);
      if (kk !== k + 1) fail(no, `expected the \\${k + 1}-grams: section, got \\${kk}-grams:`);
      if (kk > declared.length) fail(no, `section \\${kk}-grams: is not declared in the header`);
      k = kk;
      order = declared.length;
      seen = 0;
      probs.push(new Float32Array(declared[k - 1]));
      backs.push(new Float32Array(declared[k - 1]));
      if (k >= 2) {
        const n = declared[k - 1];
        tables.push({ ctx: new IntVec(n), word: new IntVec(n), index: new PairIndex(n) });
      }
      state = declared[k - 1] === 0 ? "between" : "grams";
      continue;
    }
    if (state === "grams") {
      if (line === "") {
        fail(
          no,
          `the ${k}-grams section has ${seen} lines but the header says ngram ${k}=${
            declared[k - 1]
          }`,
        );
      }
      const parts = line.split(/\s+/);
      const want = k < order ? [k + 1, k + 2] : [k + 1, k + 1];
      if (parts.length < want[0] || parts.length > want[1]) {
        fail(
          no,
          `a ${k}-gram line needs a probability, ${k} word${k > 1 ? "s" : ""}` +
            (k < order ? " and an optional backoff" : "") + `; got ${parts.length} fields`,
        );
      }
      const p = Number(parts[0]);
      if (!Number.isFinite(p) || parts[0] === "") {
        fail(no, `probability "${parts[0]}" is not a number`);
      }
      if (p > 0) fail(no, `log10 probability ${p} is above 0`);
      let b = 0;
      if (parts.length === k + 2) {
        b = Number(parts[k + 1]);
        if (!Number.isFinite(b)) fail(no, `backoff "${parts[k + 1]}" is not a number`);
        // a log10 backoff weight beyond ±100 (a factor of 10^100) is damage, not a model
        if (Math.abs(b) > 100) fail(no, `log10 backoff ${b} is out of range (±100)`);
      }
      const i = seen;
      if (k === 1) {
        const w = parts[1];
        if (wordIdsOfUnigram.has(w)) fail(no, `unigram "${w}" appears twice`);
        const id = vocab.add(w);
        wordIdsOfUnigram.set(w, i);
        unigramIds.push(id);
      } else {
        ids.length = 0;
        for (let j = 1; j <= k; j++) {
          const u = wordIdsOfUnigram.get(parts[j]);
          if (u === undefined) fail(no, `word "${parts[j]}" is not among the unigrams`);
          ids.push(u!);
        }
        let c = ids[0];
        for (let o = 2; o < k; o++) {
          c = tables[o - 1].index.get(c, ids[o - 1]);
          if (c < 0) break;
        }
        if (c < 0) {
          fail(no, `the context "${parts.slice(1, k).join(" ")}" is not among the ${k - 1}-grams`);
        }
        const t = tables[k - 1];
        if (t.index.getOrSet(c, ids[k - 1], i) !== i) {
          fail(no, `${k}-gram "${parts.slice(1, k + 1).join(" ")}" appears twice`);
        }
        t.ctx.push(c);
        t.word.push(ids[k - 1]);
      }
      probs[k - 1][i] = p;
      backs[k - 1][i] = b;
      seen++;
      if (seen === declared[k - 1]) state = "between";
      continue;
    }
    if (line !== "") fail(no, `text after \\end\\`);
  }
  if (state === "start") fail(lastLine, "empty file; expected an ARPA model");
  if (state !== "end") {
    if (state === "grams") {
      fail(
        lastLine,
        `the file ends inside the ${k}-grams section (${seen} of ${declared[k - 1]} lines)`,
      );
    }
    fail(lastLine, `the file ends without "\\end\\" (truncated?)`);
  }
  for (const w of ["<s>", "</s>"]) {
    if (!vocab.has(w)) throw new UserError(`${path}: the unigrams lack ${w}`);
  }
  // Reorder unigrams so index = word id (ids were assigned with <unk>, <s>, </s> first).
  const p1 = new Float32Array(vocab.size), b1 = new Float32Array(vocab.size);
  p1[0] = -100;
  const remap = new Int32Array(declared[0]);
  for (let i = 0; i < unigramIds.length; i++) {
    p1[unigramIds[i]] = probs[0][i];
    b1[unigramIds[i]] = backs[0][i];
    remap[i] = unigramIds[i];
  }
  probs[0] = p1;
  backs[0] = b1;
  if (order >= 2) {
    // n-grams of order 2 keyed their context by unigram line index; rekey by word id.
    const t = tables[1];
    const index = new PairIndex(t.ctx.length);
    for (let i = 0; i < t.ctx.length; i++) {
      t.ctx.data[i] = remap[t.ctx.data[i]];
      t.word.data[i] = remap[t.word.data[i]];
      index.getOrSet(t.ctx.data[i], t.word.data[i], i);
    }
    tables[1] = { ...t, index };
    for (let o = 3; o <= order; o++) {
      const tt = tables[o - 1];
      const idx = new PairIndex(tt.ctx.length);
      for (let i = 0; i < tt.ctx.length; i++) {
        tt.word.data[i] = remap[tt.word.data[i]];
        idx.getOrSet(tt.ctx.data[i], tt.word.data[i], i);
      }
      tables[o - 1] = { ...tt, index: idx };
    }
  }
  return new NgramModel(order, vocab, tables, probs, backs);
}
