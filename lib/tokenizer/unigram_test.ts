import assert from "node:assert/strict";
import { bytePiece, codePoints, type Piece, PieceType, UnigramModel } from "./unigram.ts";
import { digamma, distinctSubstrings, preTokenWords, trainUnigram } from "./unigram_trainer.ts";
import { countPreTokens, spmValidPiece, spmWords } from "./pretokens.ts";
import { koreanCorpus, prng } from "./testing.ts";
import { sentencePieceVocabText } from "./unigram_files.ts";

function model(entries: [string, number][], byteFallback = false): UnigramModel {
  const pieces: Piece[] = [{ piece: "<unk>", score: 0, type: PieceType.UNKNOWN }];
  if (byteFallback) {
    for (let b = 0; b < 256; b++) {
      pieces.push({ piece: bytePiece(b), score: 0, type: PieceType.BYTE });
    }
  }
  for (const [piece, score] of entries) pieces.push({ piece, score, type: PieceType.NORMAL });
  return new UnigramModel(pieces);
}

/** Best total score over every segmentation (unknown characters scored as the model does). */
function bruteForce(m: UnigramModel, cps: number[]): number {
  if (!cps.length) return 0;
  let best = -Infinity;
  for (let len = 1; len <= cps.length; len++) {
    const id = m.pieceToId(String.fromCodePoint(...cps.slice(0, len)));
    let s: number | undefined;
    if (id !== undefined && m.pieces[id].type === PieceType.NORMAL) s = m.pieces[id].score;
    else if (len === 1 && id === undefined) s = m.unkScore;
    if (s !== undefined) best = Math.max(best, s + bruteForce(m, cps.slice(len)));
  }
  return best;
}

Deno.test("viterbi() finds the segmentation of highest score (against brute force)", () => {
  const rand = prng(7);
  const alphabet = ["가", "나", "다", "라", "😀"];
  for (let trial = 0; trial < 40; trial++) {
    const entries = new Map<string, number>();
    for (let k = 0; k < 12; k++) {
      let p = "";
      const len = 1 + Math.floor(rand() * 3);
      for (let i = 0; i < len; i++) p += alphabet[Math.floor(rand() * 4)];
      entries.set(p, -1 - 5 * rand());
    }
    entries.set("가", -9); // one certain single character, so the fallback path is tested too
    const m = model([...entries]);
    let text = "";
    for (let i = 0; i < 8; i++) text += alphabet[Math.floor(rand() * alphabet.length)];
    const cps = codePoints(text);
    const { ids } = m.viterbi(cps);
    const score = ids.reduce(
      (a, id) => a + (id === m.unkId ? m.unkScore : m.pieces[id].score),
      0,
    );
    assert.ok(Math.abs(score - bruteForce(m, cps)) < 1e-9, `trial ${trial}: ${text}`);
    // The pieces (an unknown node covering one code point) spell the text back.
    const { starts } = m.viterbi(cps);
    const spelled = ids.map((id, k) =>
      id === m.unkId ? String.fromCodePoint(cps[starts[k]]) : m.pieces[id].piece
    );
    assert.equal(spelled.join(""), text);
  }
});

Deno.test("encode() falls back to UTF-8 byte pieces for unknown characters", () => {
  const m = model([["안녕", -1], ["하세요", -2], ["안", -3], ["녕", -3]], true);
  const ids = m.encode("안녕하세요😀");
  assert.deepEqual(ids.slice(0, 2).map((i) => m.pieces[i].piece), ["안녕", "하세요"]);
  assert.deepEqual(ids.slice(2).map((i) => m.pieces[i].piece), [
    "<0xF0>",
    "<0x9F>",
    "<0x98>",
    "<0x80>",
  ]);
  assert.equal(m.decode(ids), "안녕하세요😀");
});

Deno.test("digamma() matches known values", () => {
  assert.ok(Math.abs(digamma(1) + 0.5772156649015329) < 1e-10);
  assert.ok(Math.abs(digamma(0.5) + 1.9635100260214235) < 1e-10);
  assert.ok(Math.abs(digamma(100) - 4.600161852738087) < 1e-10);
});

function counts(lines: string[]): Map<string, number> {
  const c = new Map<string, number>();
  for (const l of lines) countPreTokens(c, spmWords(l));
  return c;
}

Deno.test("trainUnigram() learns the corpus's morphemes, deterministically, at the exact size", () => {
  const lines = koreanCorpus(3000);
  const options = { vocabSize: 200, isValidPiece: spmValidPiece };
  const a = trainUnigram(counts(lines), options);
  const b = trainUnigram(counts(lines), options);
  assert.equal(a.size, 200);
  assert.deepEqual(a.pieces, b.pieces);
  const pieces = new Set(a.pieces.map((p) => p.piece));
  // The ten most frequent words (the verbs) are single pieces.
  for (const w of ["▁있습니다", "▁저장합니다", "▁클릭합니다"]) assert.ok(pieces.has(w), w);
  for (const p of a.pieces.slice(3)) assert.ok(spmValidPiece(codePoints(p.piece)), p.piece);
  // Every character of the corpus is covered; held-out text needs far fewer tokens than chars.
  const held = koreanCorpus(200, 99);
  let tokens = 0, chars = 0;
  for (const l of held) {
    for (const w of spmWords(l)) {
      const ids = a.encode(w);
      assert.ok(!ids.includes(a.unkId), w);
      tokens += ids.length;
      chars += w.length;
    }
  }
  assert.ok(tokens / chars < 0.5, `tokens/char ${tokens / chars}`); // 1.0 with characters only
});

Deno.test("trainUnigram() leaves rare characters to byte fallback under character coverage", () => {
  const lines = [...koreanCorpus(2000), "희귀한 글자 뷁"];
  const m = trainUnigram(counts(lines), {
    vocabSize: 600,
    byteFallback: true,
    characterCoverage: 0.999,
  });
  assert.equal(m.pieces.filter((p) => p.type === PieceType.BYTE).length, 256);
  assert.equal(m.pieceToId("뷁"), undefined);
  const ids = m.encode("▁뷁");
  assert.ok(ids.some((i) => m.pieces[i].type === PieceType.BYTE));
  assert.equal(m.decode(ids), "▁뷁");
});

Deno.test("unigram_file_train.ts trains on a text file as trainUnigram() does in process", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines = koreanCorpus(500, 7);
    await Deno.writeTextFile(`${dir}/text.txt`, lines.join("\n") + "\n");
    const script = new URL("./unigram_file_train.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        script,
        `${dir}/text.txt`,
        "150",
        `${dir}/m.vocab`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    assert.ok(JSON.parse(new TextDecoder().decode(out.stdout)).seconds > 0);
    const ours = trainUnigram(counts(lines), { vocabSize: 150, isValidPiece: spmValidPiece });
    assert.equal(await Deno.readTextFile(`${dir}/m.vocab`), sentencePieceVocabText(ours));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("distinctSubstrings() finds every substring once with its count (against brute force)", () => {
  const rand = prng(11);
  const alphabet = [..."가나다라ab𝄞"];
  const tokens = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    const n = 1 + Math.floor(rand() * 9);
    let w = "";
    for (let k = 0; k < n; k++) w += alphabet[Math.floor(rand() * alphabet.length)];
    tokens.set(w, (tokens.get(w) ?? 0) + 1 + Math.floor(rand() * 3));
  }
  const words = preTokenWords(tokens);
  const isRequired = new Uint8Array(0x110000);
  for (const c of "가나다라a𝄞") isRequired[c.codePointAt(0)!] = 1; // "b" is not required
  const maxLength = 4;
  const want = new Map<string, number>();
  for (const [w, count] of tokens) {
    const cps = [...w];
    for (let i = 0; i < cps.length; i++) {
      for (let j = i + 1; j <= Math.min(cps.length, i + maxLength); j++) {
        if (cps[j - 1] === "b") break;
        const s = cps.slice(i, j).join("");
        want.set(s, (want.get(s) ?? 0) + count);
      }
    }
  }
  const got = new Map<string, number>();
  const runs: [string, number, number][] = [];
  const { sa } = distinctSubstrings(words, isRequired, maxLength, (first, d, count, from, to) => {
    const s = String.fromCodePoint(...words.cps.subarray(first, first + d));
    assert.ok(!got.has(s), `${s} found twice`);
    got.set(s, count);
    runs.push([s, from, to]);
  });
  // Every suffix of a substring's run starts with it.
  for (const [s, from, to] of runs) {
    const d = [...s].length;
    for (let r = from; r < to; r++) {
      assert.equal(String.fromCodePoint(...words.cps.subarray(sa[r], sa[r] + d)), s);
    }
  }
  assert.deepEqual([...got].sort(), [...want].sort());
});
