/**
 * Post-training records, read and written as JSONL through the project's one JSONL reader and
 * writer (lib/io/jsonl.ts: line reading, gzip by extension, atomic writes). Two kinds:
 *
 * - a conversation (SFT): `{"id", "messages": [{"role", "content"}], "meta"}` with at least one
 *   assistant turn;
 * - a preference pair (DPO, reward model): `{"id", "prompt": messages, "chosen": messages,
 *   "rejected": messages, "meta"}` where `chosen` and `rejected` are assistant turns after the
 *   same prompt.
 *
 * A record that does not fit is refused with one line naming `file:line`, the field and the fix.
 *
 * @module
 */

import { type BadLine, JsonlWriter, readJsonl, type ReadOptions } from "../io/jsonl.ts";
import { UserError } from "../io/errors.ts";

/** Who speaks a turn. */
export type Role = "system" | "user" | "assistant";

/** The roles a message may have. */
export const ROLES: readonly Role[] = ["system", "user", "assistant"];

/** One turn of a conversation. */
export interface Message {
  role: Role;
  content: string;
}

/** An SFT record: a conversation with at least one assistant turn. */
export interface Conversation {
  id: string;
  messages: Message[];
  /** Source, licence, file and line it was built from, … */
  meta: Record<string, unknown>;
}

/** A preference record: two answers (assistant turns) to one prompt, the better one first. */
export interface PreferencePair {
  id: string;
  /** The conversation so far, ending with a user turn. */
  prompt: Message[];
  /** The preferred answer: one or more assistant turns. */
  chosen: Message[];
  /** The dispreferred answer: one or more assistant turns. */
  rejected: Message[];
  meta: Record<string, unknown>;
}

/** Options of the readers: the same as lib/io/jsonl.ts's (bad lines go to `onBadLine` or throw). */
export type RecordReadOptions = ReadOptions;

const CONVERSATION_FIELDS = ["id", "messages", "meta"];
const PAIR_FIELDS = ["id", "prompt", "chosen", "rejected", "meta"];

/**
 * Checks a parsed object against the conversation shape; returns the reason it fails (with the
 * fix), or undefined when it fits.
 *
 * @example
 * ```ts
 * import { validateConversation } from "./records.ts";
 * validateConversation({ id: "1", messages: [{ role: "user", content: "안녕?" }] });
 * // 'no assistant turn in "messages" (add the answer as {"role": "assistant", "content": …})'
 * ```
 */
export function validateConversation(value: Record<string, unknown>): string | undefined {
  if (value.messages === undefined && value.chosen !== undefined) {
    return 'no field "messages": this looks like a preference pair (prompt/chosen/rejected); read it with readPairs';
  }
  const head = _checkHead(value, CONVERSATION_FIELDS);
  if (head) return head;
  const bad = _checkMessages(value.messages, "messages");
  if (bad) return bad;
  const messages = value.messages as Message[];
  if (!messages.some((m) => m.role === "assistant")) {
    return 'no assistant turn in "messages" (add the answer as {"role": "assistant", "content": …})';
  }
  return undefined;
}

/**
 * Checks a parsed object against the preference-pair shape; returns the reason it fails (with the
 * fix), or undefined when it fits.
 *
 * @example
 * ```ts
 * import { validatePair } from "./records.ts";
 * const prompt = [{ role: "user", content: "2+2?" }];
 * validatePair({ id: "1", prompt, chosen: [{ role: "assistant", content: "4" }], rejected: [] });
 * // 'field "rejected": empty (give at least one assistant turn)'
 * ```
 */
export function validatePair(value: Record<string, unknown>): string | undefined {
  if (value.chosen === undefined && value.messages !== undefined) {
    return 'no field "chosen": this looks like a conversation (messages); read it with readConversations';
  }
  const head = _checkHead(value, PAIR_FIELDS);
  if (head) return head;
  const prompt = _checkMessages(value.prompt, "prompt");
  if (prompt) return prompt;
  const p = value.prompt as Message[];
  if (p[p.length - 1].role !== "user") {
    return `field "prompt": the last turn is "${
      p[p.length - 1].role
    }"; a prompt ends with the user turn that the answers reply to`;
  }
  for (const side of ["chosen", "rejected"] as const) {
    const bad = _checkMessages(value[side], side);
    if (bad) return bad;
    const turns = value[side] as Message[];
    const i = turns.findIndex((m) => m.role !== "assistant");
    if (i >= 0) {
      return `field "${side}[${i}].role": "${
        turns[i].role
      }"; an answer holds assistant turns only (move other turns into "prompt")`;
    }
  }
  return undefined;
}

/** Why `value` is not a conversation: throws a one-line {@linkcode UserError} naming `where`. */
export function assertConversation(value: Conversation, where: string): void {
  const reason = validateConversation(value as unknown as Record<string, unknown>);
  if (reason) throw new UserError(`${where}: ${reason}`);
}

/** Why `value` is not a preference pair: throws a one-line {@linkcode UserError} naming `where`. */
export function assertPair(value: PreferencePair, where: string): void {
  const reason = validatePair(value as unknown as Record<string, unknown>);
  if (reason) throw new UserError(`${where}: ${reason}`);
}

/**
 * Yields the records of one JSONL file (gzip by extension) that pass `validate`, with their line
 * numbers. Malformed lines go to `onBadLine`, or throw a one-line {@linkcode UserError} naming
 * `file:line`.
 */
export async function* readRecords(
  path: string,
  validate: (value: Record<string, unknown>) => string | undefined,
  options: RecordReadOptions = {},
): AsyncGenerator<{ line: number; value: Record<string, unknown> }> {
  for await (const { line, value } of readJsonl(path, options)) {
    const reason = validate(value);
    if (reason) {
      const bad: BadLine = { file: path, line, raw: JSON.stringify(value), reason };
      if (options.onBadLine) await options.onBadLine(bad);
      else throw new UserError(`${path}:${line}: ${reason}`);
      continue;
    }
    yield { line, value };
  }
}

/** Streams the conversations of a JSONL file (see {@linkcode readConversations}). */
export async function* iterateConversations(
  path: string,
  options: RecordReadOptions = {},
): AsyncGenerator<Conversation> {
  for await (const { value } of readRecords(path, validateConversation, options)) {
    yield {
      id: String(value.id),
      messages: _messages(value.messages),
      meta: (value.meta as Record<string, unknown> | undefined) ?? {},
    };
  }
}

/** Streams the preference pairs of a JSONL file (see {@linkcode readPairs}). */
export async function* iteratePairs(
  path: string,
  options: RecordReadOptions = {},
): AsyncGenerator<PreferencePair> {
  for await (const { value } of readRecords(path, validatePair, options)) {
    yield {
      id: String(value.id),
      prompt: _messages(value.prompt),
      chosen: _messages(value.chosen),
      rejected: _messages(value.rejected),
      meta: (value.meta as Record<string, unknown> | undefined) ?? {},
    };
  }
}

/**
 * Reads every conversation of a JSONL file (gzip by extension). Numeric ids become strings and a
 * missing `meta` becomes `{}`. The first bad line throws a one-line {@linkcode UserError} naming
 * `file:line` unless `onBadLine` is given.
 *
 * @example
 * ```ts
 * import { readConversations, writeConversations } from "./records.ts";
 * const path = `${await Deno.makeTempDir()}/sft.jsonl`;
 * await writeConversations(path, [{ id: "1", meta: {}, messages: [
 *   { role: "user", content: "수도는?" }, { role: "assistant", content: "서울입니다." }] }]);
 * (await readConversations(path))[0].messages[1].content; // "서울입니다."
 * ```
 */
export async function readConversations(
  path: string,
  options: RecordReadOptions = {},
): Promise<Conversation[]> {
  return await Array.fromAsync(iterateConversations(path, options));
}

/**
 * Reads every preference pair of a JSONL file (gzip by extension); errors as
 * {@linkcode readConversations}.
 *
 * @example
 * ```ts
 * import { readPairs, writePairs } from "./records.ts";
 * const path = `${await Deno.makeTempDir()}/dpo.jsonl.gz`;
 * await writePairs(path, [{ id: "1", meta: {}, prompt: [{ role: "user", content: "1+1?" }],
 *   chosen: [{ role: "assistant", content: "2" }], rejected: [{ role: "assistant", content: "3" }] }]);
 * (await readPairs(path)).length; // 1
 * ```
 */
export async function readPairs(
  path: string,
  options: RecordReadOptions = {},
): Promise<PreferencePair[]> {
  return await Array.fromAsync(iteratePairs(path, options));
}

/**
 * Writes conversations to `path` (gzip by extension) atomically, refusing an invalid record with
 * a one-line {@linkcode UserError} naming the record (nothing is left at `path` then). Returns how
 * many were written.
 */
export async function writeConversations(
  path: string,
  records: Iterable<Conversation> | AsyncIterable<Conversation>,
): Promise<number> {
  return await _write(path, records, (r, i) => {
    assertConversation(r, `${path}: record ${i + 1} (id ${JSON.stringify(r.id)})`);
    return { id: r.id, messages: r.messages.map(_plain), meta: r.meta ?? {} };
  });
}

/** Writes preference pairs to `path` atomically; errors as {@linkcode writeConversations}. */
export async function writePairs(
  path: string,
  records: Iterable<PreferencePair> | AsyncIterable<PreferencePair>,
): Promise<number> {
  return await _write(path, records, (r, i) => {
    assertPair(r, `${path}: record ${i + 1} (id ${JSON.stringify(r.id)})`);
    return {
      id: r.id,
      prompt: r.prompt.map(_plain),
      chosen: r.chosen.map(_plain),
      rejected: r.rejected.map(_plain),
      meta: r.meta ?? {},
    };
  });
}

/** All the text of a record (every turn's content, one turn a line), e.g. for overlap checks. */
export function recordText(record: Conversation | PreferencePair): string {
  const turns = "messages" in record
    ? record.messages
    : [...record.prompt, ...record.chosen, ...record.rejected];
  return turns.map((m) => m.content).join("\n");
}

async function _write<T>(
  path: string,
  records: Iterable<T> | AsyncIterable<T>,
  check: (r: T, i: number) => unknown,
): Promise<number> {
  const w = await JsonlWriter.open(path);
  try {
    let i = 0;
    for await (const r of records) await w.write(check(r, i++));
  } catch (err) {
    await w.abort();
    throw err;
  }
  await w.close();
  return w.count;
}

function _plain(m: Message): Message {
  return { role: m.role, content: m.content };
}

function _messages(v: unknown): Message[] {
  return (v as Message[]).map(_plain);
}

function _checkHead(value: Record<string, unknown>, known: string[]): string | undefined {
  for (const k of Object.keys(value)) {
    if (!known.includes(k)) {
      return `unknown field "${k}" (a record has ${known.join(", ")}; put anything else in "meta")`;
    }
  }
  if (typeof value.id !== "string" && typeof value.id !== "number") {
    return `field "id": expected a string, got ${_typeName(value.id)}`;
  }
  if (typeof value.id === "string" && value.id === "") {
    return 'field "id": empty (give each record an id)';
  }
  if (
    value.meta !== undefined &&
    (value.meta === null || typeof value.meta !== "object" || Array.isArray(value.meta))
  ) {
    return `field "meta": expected an object, got ${_typeName(value.meta)}`;
  }
  return undefined;
}

function _checkMessages(v: unknown, field: string): string | undefined {
  if (!Array.isArray(v)) {
    return `field "${field}": expected a list of {"role", "content"} messages, got ${_typeName(v)}`;
  }
  if (v.length === 0) {
    return `field "${field}": empty (give at least one ${
      field === "chosen" || field === "rejected" ? "assistant turn" : "message"
    })`;
  }
  for (let i = 0; i < v.length; i++) {
    const m = v[i];
    const at = `${field}[${i}]`;
    if (m === null || typeof m !== "object" || Array.isArray(m)) {
      return `field "${at}": expected a {"role", "content"} object, got ${_typeName(m)}`;
    }
    for (const k of Object.keys(m)) {
      if (k !== "role" && k !== "content") {
        const hint = k === "from" || k === "value"
          ? ' (ShareGPT\'s "from"/"value": rename to "role"/"content")'
          : "";
        return `field "${at}": unknown field "${k}"; a message has "role" and "content" only${hint}`;
      }
    }
    if (typeof m.role !== "string") {
      return `field "${at}.role": expected a string, got ${_typeName(m.role)}`;
    }
    if (!(ROLES as readonly string[]).includes(m.role)) {
      return `field "${at}.role": "${m.role}" is not a role (use ${ROLES.join(", ")})`;
    }
    if (typeof m.content !== "string") {
      return `field "${at}.content": expected a string, got ${_typeName(m.content)}`;
    }
    if (m.content.trim() === "") {
      return `field "${at}.content": empty (drop the turn or give it text)`;
    }
  }
  return undefined;
}

function _typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (v === undefined) return "nothing (field missing)";
  return typeof v;
}

/** The prompts of a JSONL file of pairs or of conversations (their turns before the last answer). */
export async function readPrompts(path: string): Promise<Message[][]> {
  const text = await Deno.readTextFile(path).catch((e) => {
    if (e instanceof Deno.errors.NotFound) throw new UserError(`${path}: file not found`);
    throw e;
  });
  const first = text.split("\n").find((l) => l.trim()) ?? "";
  let isPair = false;
  try {
    isPair = "prompt" in JSON.parse(first);
  } catch { /* the reader below names the bad line */ }
  if (isPair) return (await readPairs(path)).map((p) => p.prompt);
  return (await readConversations(path)).map((c) => {
    const last = c.messages.map((m) => m.role).lastIndexOf("assistant");
    return c.messages.slice(0, last);
  }).filter((m) => m.length > 0);
}
