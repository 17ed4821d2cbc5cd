/**
 * Named document preprocessing a task file selects with `process_docs: NAME` — the registry that
 * stands in for lm-eval's `process_docs: !function utils.process_docs` (Jikji runs no Python).
 * Each function maps a split's rows to new rows; like `datasets.map`, the original columns stay
 * unless a function builds rows anew.
 *
 * @module
 */

type Doc = Record<string, unknown>;

/** Python's `str.capitalize()`: first character upper case, the rest lower case. */
export function pyCapitalize(s: string): string {
  const [first = "", ...rest] = [...s];
  return first.toUpperCase() + rest.join("").toLowerCase();
}

/** HellaSwag's text cleaning (WikiHow's bracketed artifacts), as lm-eval's hellaswag utils. */
export function hellaswagPreprocess(text: string): string {
  return text.trim().replaceAll(" [title]", ". ").replace(/\[.*?\]/g, "").replaceAll("  ", " ");
}

function _str(doc: Doc, k: string): string {
  const v = doc[k];
  if (typeof v !== "string") throw new Error(`column "${k}" is not text`);
  return v;
}

/**
 * HellaSwag: `query` = cleaned `activity_label: ctx_a Ctx_b`, `choices` = cleaned endings,
 * `gold` = the label as a number.
 */
function hellaswag(docs: Doc[]): Doc[] {
  return docs.map((d) => {
    const ctx = _str(d, "ctx_a") + " " + pyCapitalize(_str(d, "ctx_b"));
    const endings = d.endings;
    if (!Array.isArray(endings)) throw new Error(`column "endings" is not a list`);
    const gold = Number(d.label);
    if (!Number.isInteger(gold)) throw new Error(`column "label" is not an integer`);
    return {
      ...d,
      query: hellaswagPreprocess(_str(d, "activity_label") + ": " + ctx),
      choices: endings.map((e) => hellaswagPreprocess(String(e))),
      gold,
    };
  });
}

/**
 * SQuAD v1.1 / KorQuAD JSON articles (`{title, paragraphs: [{context, qas: [{id, question,
 * answers: [{text, answer_start}]}]}]}`) to one row per question, in the Hugging Face `squad`
 * layout: `id`, `title`, `context`, `question`, `answers: {text: [...], answer_start: [...]}`.
 * Rows already in that layout pass through.
 */
function squad(docs: Doc[]): Doc[] {
  const out: Doc[] = [];
  for (const a of docs) {
    if (!Array.isArray(a.paragraphs)) {
      out.push(a);
      continue;
    }
    for (const p of a.paragraphs as Doc[]) {
      for (const q of (p.qas ?? []) as Doc[]) {
        const answers = (q.answers ?? []) as { text: string; answer_start: number }[];
        out.push({
          id: q.id,
          title: a.title ?? "",
          context: p.context,
          question: q.question,
          answers: {
            text: answers.map((x) => x.text),
            answer_start: answers.map((x) => x.answer_start),
          },
        });
      }
    }
  }
  return out;
}

/** Every registered function by the name a task file gives. */
export const PROCESS_DOCS: Record<string, (docs: Doc[]) => Doc[]> = {
  hellaswag,
  squad,
};
