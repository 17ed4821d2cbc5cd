/**
 * Turns Hub failures into one-line {@linkcode UserError}s that name the token's source (never the
 * token) and the fix, reading the Hub's `X-Error-Code` where the answer has one.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import { redact } from "./redact.ts";
import type { HubToken } from "./auth.ts";

const NO_TOKEN = "set HF_TOKEN or run `huggingface-cli login`";

/** A one-line error for `err`, raised while doing `what`. */
export function hubError(
  err: unknown,
  what: string,
  endpoint: string,
  token: HubToken | null,
  ctx: { repo?: string; revision?: string } = {},
): UserError {
  const e = err as { statusCode?: number; code?: string; message?: string };
  const status = e.statusCode;
  const code = typeof e.code === "string" ? e.code : undefined;
  const repo = ctx.repo ?? "the repo";
  const source = token ? `the token from ${token.source}` : undefined;
  const msg = redact(String(e.message ?? err)).split("\n")[0];
  if (code === "GatedRepo") {
    return new UserError(
      `${what}: ${repo} is gated: accept the licence on the Hub (${endpoint}/${repo}) ` +
        (source ? `with the account of ${source}` : `while logged in, then ${NO_TOKEN}`),
    );
  }
  if (code === "RepoNotFound") {
    return new UserError(
      `${what}: ${repo} was not found on ${endpoint}` +
        (source
          ? ` (or it is private and ${source} has no access to it)`
          : ` (or it is private: ${NO_TOKEN})`),
    );
  }
  if (code === "RevisionNotFound") {
    return new UserError(
      `${what}: ${repo} has no revision "${
        ctx.revision ?? "?"
      }" (check --revision: a branch, tag or commit id)`,
    );
  }
  if (code === "EntryNotFound") return new UserError(`${what}: not found on the Hub: ${msg}`);
  if (status === 401) {
    return new UserError(
      source
        ? `${what}: ${endpoint} refused ${source} (401 Unauthorized): check or replace it`
        : `${what}: ${endpoint} needs a token for this (401 Unauthorized): ${NO_TOKEN}`,
    );
  }
  if (status === 403) {
    return new UserError(
      `${what}: ${
        source ?? "no token"
      } may not write to ${repo} (403 Forbidden: ${msg}): use a write token of an account that owns it`,
    );
  }
  if (status === 429) {
    return new UserError(
      `${what}: the Hub's rate limit was hit and retries ran out (429): try again later`,
    );
  }
  return new UserError(`${what}: ${msg}${status ? ` (HTTP ${status})` : ""}`);
}
