/**
 * Turns Hub failures into one-line {@linkcode UserError}s that name the token's source (never the
 * token) and the fix.
 *
 * @module
 */

import { UserError } from "../io/errors.ts";
import { redact } from "./redact.ts";
import type { HubToken } from "./auth.ts";

/** A one-line error for `err`, raised while doing `what` against `endpoint`. */
export function hubError(
  err: unknown,
  what: string,
  endpoint: string,
  token: HubToken | null,
): UserError {
  const status = (err as { statusCode?: number }).statusCode;
  const source = token ? token.source : "no token (set HF_TOKEN or run `huggingface-cli login`)";
  if (status === 401) {
    return new UserError(
      `${what}: ${endpoint} refused the token from ${source} (401 Unauthorized): check or replace it`,
    );
  }
  if (status === 403) {
    return new UserError(`${what}: the token from ${source} may not write there (403 Forbidden)`);
  }
  const msg = redact(String((err as Error).message ?? err)).split("\n")[0];
  return new UserError(`${what}: ${msg}${status ? ` (HTTP ${status})` : ""}`);
}
