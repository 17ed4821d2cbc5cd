/**
 * Keeps secrets out of everything Jikji writes: every registered secret is replaced by `***` in
 * text passed through {@linkcode redact}. The Hub token is registered as soon as it is read, and
 * the hub task's messages, errors and run-folder files pass through here.
 *
 * @module
 */

const _secrets = new Set<string>();

/** Registers a secret (ignored when shorter than 8 characters, which cannot be a token). */
export function registerSecret(secret: string | undefined | null): void {
  if (secret && secret.length >= 8) _secrets.add(secret);
}

/** Replaces every registered secret in `text` with `***`. */
export function redact(text: string): string {
  let out = text;
  for (const s of _secrets) out = out.split(s).join("***");
  return out;
}

/** Redacts every string inside a JSON-like value. */
export function redactValue<T>(value: T): T {
  return JSON.parse(redact(JSON.stringify(value)));
}
