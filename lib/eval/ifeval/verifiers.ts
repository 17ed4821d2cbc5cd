/**
 * IFEval's rule-checkable instructions re-implemented in TypeScript (Zhou et al. 2023, "Instruction-
 * Following Evaluation for Large Language Models"), plus the Korean-specific instructions of KITE
 * (acrostic poems, honorifics, number systems, postposition dropping) that a rule can check.
 * Each verifier takes the response and the instruction's kwargs and returns pass/fail. KITE writes
 * some relations in Korean ("최소", "적어도" = at least, "미만" = less than); both are accepted.
 *
 * @module
 */

/** kwargs of one instruction. */
export type Kwargs = Record<string, unknown>;

/** A verifier: response (and the prompt, for repeat_prompt) → pass. */
export type Verifier = (response: string, kw: Kwargs, prompt: string) => boolean;

/** Compares `count` with `n` under an IFEval relation ("at least" / "less than", or Korean). */
export function compare(count: number, relation: unknown, n: unknown): boolean {
  const k = Number(n);
  if (!Number.isFinite(k)) throw new Error(`expected a number, got ${JSON.stringify(n)}`);
  const r = String(relation).trim();
  if (["at least", "최소", "적어도", "최소한", "이상"].includes(r)) return count >= k;
  if (["less than", "미만"].includes(r)) return count < k;
  throw new Error(`unknown relation ${JSON.stringify(relation)}`);
}

const WORD = /[\p{L}\p{N}_]+/gu;
/** Words as IFEval counts them (runs of letters, digits and `_`). */
export function countWords(s: string): number {
  return s.match(WORD)?.length ?? 0;
}

/** Splits text into sentences at `.`, `!`, `?` (and their full-width forms) followed by space or end. */
export function splitSentences(s: string): string[] {
  return s.split(/(?<=[.!?。！？])\s+|\n+/u).map((x) => x.trim()).filter((x) =>
    /[\p{L}\p{N}]/u.test(x)
  );
}

function _escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function _wholeWord(word: string): RegExp {
  return new RegExp(`(?<![\\p{L}\\p{N}_])${_escape(word)}(?![\\p{L}\\p{N}_])`, "iu");
}

const HANGUL = /[\uac00-\ud7a3]/;

/** Latin-script languages told apart by their commonest words. */
const STOPWORDS: Record<string, string[]> = {
  en: ["the", "and", "is", "of", "to", "in", "that", "it", "with", "for"],
  de: ["der", "die", "und", "das", "ist", "nicht", "ich", "mit", "ein", "zu"],
  fi: ["ja", "on", "ei", "se", "että", "oli", "kun", "mutta", "hän", "myös"],
  it: ["il", "di", "che", "la", "e", "per", "non", "un", "sono", "della"],
  pt: ["o", "de", "que", "e", "do", "da", "em", "um", "para", "não"],
  sw: ["na", "ya", "wa", "kwa", "ni", "za", "katika", "la", "kuwa", "hii"],
  vi: ["và", "của", "là", "có", "không", "những", "được", "cho", "một", "người"],
};

/** Scripts of the other IFEval languages, with letters that single one out where scripts are shared. */
function _scriptLanguage(s: string): string[] {
  const count = (re: RegExp) => s.match(re)?.length ?? 0;
  const scripts: [string[], number][] = [
    [["ko"], count(/[\uac00-\ud7a3]/g)],
    [["ru", "bg"], count(/[\u0400-\u04ff]/g)],
    [["ar", "fa", "ur"], count(/[\u0600-\u06ff]/g)],
    [["hi", "mr", "ne"], count(/[\u0900-\u097f]/g)],
    [["bn"], count(/[\u0980-\u09ff]/g)],
    [["pa"], count(/[\u0a00-\u0a7f]/g)],
    [["gu"], count(/[\u0a80-\u0aff]/g)],
    [["ta"], count(/[\u0b80-\u0bff]/g)],
    [["te"], count(/[\u0c00-\u0c7f]/g)],
    [["kn"], count(/[\u0c80-\u0cff]/g)],
    [["th"], count(/[\u0e00-\u0e7f]/g)],
    [["latin"], count(/[A-Za-z\u00c0-\u024f\u1ea0-\u1ef9]/g)],
  ];
  scripts.sort((a, b) => b[1] - a[1]);
  if (scripts[0][1] === 0) return [];
  const top = scripts[0][0];
  if (top[0] !== "latin") return top;
  const words = s.toLowerCase().match(/[\p{L}]+/gu) ?? [];
  let best = "en";
  let bestScore = -1;
  for (const [lang, sw] of Object.entries(STOPWORDS)) {
    const set = new Set(sw);
    const score = words.filter((w) => set.has(w)).length;
    if (score > bestScore) [best, bestScore] = [lang, score];
  }
  return [best];
}

/** The response variants IFEval's loose check tries (first/last line dropped, `*` removed). */
export function looseVariants(response: string): string[] {
  const lines = response.split("\n");
  const noFirst = lines.slice(1).join("\n").trim();
  const noLast = lines.slice(0, -1).join("\n").trim();
  const noBoth = lines.slice(1, -1).join("\n").trim();
  const base = [response, noFirst, noLast, noBoth];
  return [...base, ...base.map((r) => r.replaceAll("*", ""))];
}

/** The request before a repeat-the-request instruction, when KITE leaves `prompt_to_repeat` out. */
function _promptToRepeat(kw: Kwargs, prompt: string): string {
  if (typeof kw.prompt_to_repeat === "string") return kw.prompt_to_repeat;
  const cut = prompt.lastIndexOf("\n");
  return cut > 0 ? prompt.slice(0, cut) : prompt;
}

const NATIVE_NUMERALS =
  /(?<![\p{L}])(하나|둘|셋|넷|다섯|여섯|일곱|여덟|아홉|열|스물|서른|마흔|쉰|예순|일흔|여든|아흔|한|두|세|네|스무)(?=\s*(개|명|번|시|살|마리|권|잔|송이|가지|사람|대|장|병|벌|켤레|그루|채|척|군데|달|해|째|시간|\s|[.,!?]|$))/u;
const SINO_NUMERALS =
  /(?<![\p{L}])[일이삼사오육륙칠팔구십백천만]+(?=\s*(번째|번|시|분|초|일|월|년|층|호|원|개월|주|회|등|학년|세|퍼센트|%|[.,!?]|$))/u;
const HONORIFIC_END = /(요|니다|니까|시오|세요|죠)$/u;

/** Sentences' final words with trailing punctuation removed (Hangul sentences only). */
function _sentenceEnds(s: string): string[] {
  return splitSentences(s).filter((x) => HANGUL.test(x)).map((x) =>
    x.replace(/[\s\p{P}\p{S}]+$/u, "").split(/\s+/).pop() ?? ""
  ).filter((w) => HANGUL.test(w));
}

/** Particles a rule can spot without a morphological analyser (see postposition_drop). */
const PARTICLE_ANY_STEM = /(를|에서|에게|께서|한테|으로|로서|로써|부터|까지|처럼|에는|에도)$/u;
const PARTICLE_LONG_STEM = /^[\uac00-\ud7a3]{2,}(을|의)$/u;

/** Every verifier by instruction id. */
export const VERIFIERS: Record<string, Verifier> = {
  "keywords:existence": (r, kw) =>
    (kw.keywords as string[]).every((k) => new RegExp(_escape(k), "iu").test(r)),
  "keywords:frequency": (r, kw) =>
    compare(
      r.match(new RegExp(_escape(String(kw.keyword)), "giu"))?.length ?? 0,
      kw.relation,
      kw.frequency,
    ),
  "keywords:forbidden_words": (r, kw) =>
    (kw.forbidden_words as string[]).every((w) => !_wholeWord(w).test(r)),
  "keywords:letter_frequency": (r, kw) =>
    compare(
      r.toLowerCase().split(String(kw.letter).toLowerCase()).length - 1,
      kw.let_relation,
      kw.let_frequency,
    ),
  "language:response_language": (r, kw) => _scriptLanguage(r).includes(String(kw.language)),
  "length_constraints:number_sentences": (r, kw) =>
    compare(splitSentences(r).length, kw.relation, kw.num_sentences),
  "length_constraints:number_paragraphs": (r, kw) => {
    const parts = r.split(/\s?\*\*\*\s?/);
    let n = parts.length;
    for (const [i, p] of parts.entries()) {
      if (p.trim() === "") {
        if (i === 0 || i === parts.length - 1) n--;
        else return false;
      }
    }
    return n === Number(kw.num_paragraphs);
  },
  "length_constraints:number_words": (r, kw) => compare(countWords(r), kw.relation, kw.num_words),
  "length_constraints:nth_paragraph_first_word": (r, kw) => {
    const paras = r.split(/\n\n/).filter((p) => p.trim() !== "");
    if (paras.length !== Number(kw.num_paragraphs)) return false;
    const p = paras[Number(kw.nth_paragraph) - 1];
    if (!p) return false;
    const word = (p.trim().split(/\s+/)[0] ?? "").replace(/^['"“‘]+/, "");
    const first = word.split(/[.,?!'"”’]/)[0].toLowerCase();
    return first === String(kw.first_word).toLowerCase();
  },
  "detectable_content:number_placeholders": (r, kw) =>
    (r.match(/\[.*?\]/g)?.length ?? 0) >= Number(kw.num_placeholders),
  "detectable_content:postscript": (r, kw) => {
    const m = String(kw.postscript_marker).trim().toLowerCase();
    const re = m === "p.p.s"
      ? /\s*p\.\s?p\.\s?s.*$/m
      : m === "p.s."
      ? /\s*p\.\s?s\..*$/m
      : new RegExp(`\\s*${_escape(m)}.*$`, "m");
    return re.test(r.toLowerCase());
  },
  "detectable_format:number_bullet_lists": (r, kw) => {
    const stars = r.match(/^\s*\*[^*].*$/gm)?.length ?? 0;
    const dashes = r.match(/^\s*-.*$/gm)?.length ?? 0;
    return stars + dashes === Number(kw.num_bullets);
  },
  "detectable_format:constrained_response": (r) =>
    ["My answer is yes.", "My answer is no.", "My answer is maybe."].some((o) =>
      r.trim().includes(o)
    ),
  "detectable_format:number_highlighted_sections": (r, kw) => {
    let n = 0;
    for (const m of r.matchAll(/\*[^\n*]*\*/g)) if (m[0].slice(1, -1).trim()) n++;
    for (const m of r.matchAll(/\*\*[^\n*]*\*\*/g)) if (m[0].slice(2, -2).trim()) n++;
    return n >= Number(kw.num_highlights);
  },
  "detectable_format:multiple_sections": (r, kw) => {
    const re = new RegExp(`\\s?${_escape(String(kw.section_spliter))}\\s?\\d+\\s?`);
    return r.split(re).length - 1 >= Number(kw.num_sections);
  },
  "detectable_format:json_format": (r) => {
    const s = r.trim().replace(/^```(?:json|Json|JSON)?/, "").replace(/```$/, "").trim();
    try {
      JSON.parse(s);
      return true;
    } catch {
      return false;
    }
  },
  "detectable_format:title": (r) =>
    [...r.matchAll(/<<([^\n]+?)>>/g)].some((m) => m[1].trim() !== ""),
  "combination:two_responses": (r) => {
    const parts = r.split("******");
    const valid: string[] = [];
    for (const [i, p] of parts.entries()) {
      if (p.trim() === "") {
        if (i !== 0 && i !== parts.length - 1) return false;
      } else valid.push(p.trim());
    }
    return valid.length === 2 && valid[0] !== valid[1];
  },
  "combination:repeat_prompt": (r, kw, prompt) =>
    r.trim().toLowerCase().startsWith(_promptToRepeat(kw, prompt).trim().toLowerCase()),
  "startend:end_checker": (r, kw) =>
    r.trim().replace(/^"+|"+$/g, "").trim().toLowerCase().endsWith(
      String(kw.end_phrase).trim().toLowerCase(),
    ),
  "startend:quotation": (r) => {
    const s = r.trim();
    return s.length > 1 && s.startsWith('"') && s.endsWith('"');
  },
  "change_case:capital_word_frequency": (r, kw) =>
    compare(
      (r.match(/[\p{L}]+/gu) ?? []).filter((w) => w === w.toUpperCase() && /[A-Z]/.test(w))
        .length,
      kw.capital_relation,
      kw.capital_frequency,
    ),
  "change_case:english_capital": (r) =>
    r === r.toUpperCase() && /[A-Z]/.test(r) && _scriptLanguage(r)[0] === "en",
  "change_case:english_lowercase": (r) =>
    r === r.toLowerCase() && /[a-z]/.test(r) && _scriptLanguage(r)[0] === "en",
  "punctuation:no_comma": (r) => !r.includes(","),

  // KITE's Korean-specific instructions (Kim et al. 2025, "KITE").
  /** Acrostic: consecutive lines begin with the target word's syllables, in order. */
  "Korean:acrostic_poem": (r, kw) => {
    const target = [...String(kw.target_word)];
    const firsts = r.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !/^<<.*>>$/.test(l))
      .map((l) => l.match(/[\uac00-\ud7a3]/)?.[0] ?? "");
    for (let i = 0; i + target.length <= firsts.length; i++) {
      if (target.every((ch, j) => firsts[i + j] === ch)) return true;
    }
    return false;
  },
  /** Honorifics: every Korean sentence ends politely (요/니다/니까/시오), or none does. */
  "Korean:honorifics": (r, kw) => {
    const ends = _sentenceEnds(r);
    if (ends.length === 0) return false;
    const polite = ends.filter((w) => HONORIFIC_END.test(w)).length;
    if (kw.direction_to === "honorific") return polite === ends.length;
    if (kw.direction_to === "non-honorific") return polite === 0;
    throw new Error(`unknown direction_to ${JSON.stringify(kw.direction_to)}`);
  },
  /** Numbers: no digits, and no numeral of the other system (native 하나/둘… vs Sino 일/이/삼…). */
  "Korean:numbers": (r, kw) => {
    if (/[0-9]/.test(r)) return false;
    if (kw.direction_to === "chinese") return !NATIVE_NUMERALS.test(r);
    if (kw.direction_to === "korean") return !SINO_NUMERALS.test(r);
    throw new Error(`unknown direction_to ${JSON.stringify(kw.direction_to)}`);
  },
  /**
   * Postposition drop: no word ends in a particle a rule can tell apart without a morphological
   * analyser (를, 에서, 에게, 께서, 한테, 으로, 로서, 로써, 부터, 까지, 처럼, 에는, 에도, and 을/의
   * after a stem of two or more syllables). 은/는/이/가/에/와/과/로/도 are left out: they collide
   * with verb endings (하는, 작은) and noun endings (고양이, 사과).
   */
  "Korean:postposition_drop": (r) => {
    const words = r.match(/[\uac00-\ud7a3]+/g) ?? [];
    if (words.length === 0) return false;
    return !words.some((w) =>
      (w.length >= 2 && PARTICLE_ANY_STEM.test(w) && w !== "까지" && w !== "부터") ||
      PARTICLE_LONG_STEM.test(w)
    );
  },
};

/** Result of checking one prompt's instructions. */
export interface IfevalResult {
  strict: boolean[];
  loose: boolean[];
}

/**
 * Checks a response against each instruction, strictly and loosely (IFEval's variants); an
 * unknown instruction id throws.
 */
export function checkInstructions(
  response: string,
  ids: string[],
  kwargs: Kwargs[],
  prompt: string,
): IfevalResult {
  const strict: boolean[] = [];
  const loose: boolean[] = [];
  const variants = looseVariants(response);
  ids.forEach((id, i) => {
    const v = VERIFIERS[id];
    if (!v) throw new Error(`unknown instruction "${id}"`);
    const kw = Object.fromEntries(
      Object.entries(kwargs[i] ?? {}).filter(([, x]) => x !== null && x !== undefined),
    );
    strict.push(response.trim() !== "" && v(response, kw, prompt));
    loose.push(variants.some((x) => x.trim() !== "" && v(x, kw, prompt)));
  });
  return { strict, loose };
}
