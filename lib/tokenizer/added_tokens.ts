/**
 * Added (special) tokens that every tokenizer.json reader numbers alike.
 *
 * Readers disagree about an added token that is missing from `model.vocab`: the JavaScript
 * libraries and Jikji take the `id` written in `added_tokens`, but Hugging Face's Rust `tokenizers`
 * (and so Python's `transformers`) gives it the next id after the model's vocabulary *size* — so
 * where `model.vocab` has a gap (Llama 3.1's specials sit at 128000–128255, above a 128,000-entry
 * vocabulary, and merged pieces follow at 128256…) the specials move to ids after the last piece.
 * A file agrees everywhere when every added token is in `model.vocab` at its id and the vocabulary's
 * ids run 0…n-1 without a gap.
 *
 * @module
 */

/** An entry of tokenizer.json's `added_tokens` (the fields these checks read). */
export interface AddedTokenEntry {
  id: number;
  content: string;
}

/**
 * `vocab` (token → id) with every added token in it at its id; refuses an added token whose
 * content `vocab` holds at another id. Entries come out in id order.
 */
export function vocabWithAdded(
  vocab: Iterable<[string, number]>,
  added: AddedTokenEntry[],
): Record<string, number> {
  const all = new Map(vocab);
  for (const a of added) {
    const at = all.get(a.content);
    if (at !== undefined && at !== a.id) {
      throw new Error(`added token ${JSON.stringify(a.content)} is id ${a.id} but vocab has ${at}`);
    }
    all.set(a.content, a.id);
  }
  const out: Record<string, number> = {};
  for (const [t, id] of [...all].sort((x, y) => x[1] - y[1])) out[t] = id;
  return out;
}

/**
 * Why readers of this tokenizer.json (a BPE/WordPiece `model.vocab` object or a Unigram list)
 * could give different ids; empty when they all agree.
 */
export function idAgreementProblems(json: Record<string, unknown>): string[] {
  const model = json.model as { vocab?: unknown } | undefined;
  const added = (json.added_tokens ?? []) as AddedTokenEntry[];
  const problems: string[] = [];
  const byContent = new Map<string, number>();
  if (Array.isArray(model?.vocab)) {
    model.vocab.forEach((e, i) => byContent.set((e as [string, number])[0], i));
  } else if (model?.vocab && typeof model.vocab === "object") {
    const ids = Object.values(model.vocab as Record<string, number>).sort((a, b) => a - b);
    const gap = ids.findIndex((id, i) => id !== i);
    if (gap >= 0) {
      problems.push(`model.vocab ids are not 0…${ids.length - 1}: id ${gap} is missing`);
    }
    for (const [t, id] of Object.entries(model.vocab as Record<string, number>)) {
      byContent.set(t, id);
    }
  } else problems.push("model.vocab is missing");
  for (const a of added) {
    const id = byContent.get(a.content);
    if (id === undefined) {
      problems.push(`added token ${JSON.stringify(a.content)} (id ${a.id}) is not in model.vocab`);
    } else if (id !== a.id) {
      problems.push(
        `added token ${JSON.stringify(a.content)} is id ${a.id}, model.vocab says ${id}`,
      );
    }
  }
  return problems;
}
