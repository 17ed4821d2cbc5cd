/**
 * Finds the Hugging Face token the way the Hub's own tools do: `HF_TOKEN`, else the token file —
 * `HF_TOKEN_PATH`, else `$HF_HOME/token`, else `~/.cache/huggingface/token`. The token is
 * registered with {@linkcode registerSecret} at once, and only its source is ever shown.
 *
 * @module
 */

import { homedir } from "node:os";
import { registerSecret } from "./redact.ts";

/** A token and where it came from (shown in errors instead of the token). */
export interface HubToken {
  token: string;
  /** e.g. "HF_TOKEN" or "token file /root/.cache/huggingface/token". */
  source: string;
}

/** Reads an environment variable, or undefined when unset or not permitted. */
function _env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/** The token file's path by the Hub's conventions. */
export function tokenFilePath(): string | undefined {
  const explicit = _env("HF_TOKEN_PATH");
  if (explicit) return explicit;
  const hfHome = _env("HF_HOME");
  if (hfHome) return `${hfHome}/token`;
  try {
    return `${homedir()}/.cache/huggingface/token`;
  } catch {
    return undefined;
  }
}

/** Finds the token; null when there is none. */
export async function findToken(): Promise<HubToken | null> {
  const fromEnv = _env("HF_TOKEN") ?? _env("HUGGING_FACE_HUB_TOKEN");
  if (fromEnv) {
    registerSecret(fromEnv.trim());
    return {
      token: fromEnv.trim(),
      source: _env("HF_TOKEN") ? "HF_TOKEN" : "HUGGING_FACE_HUB_TOKEN",
    };
  }
  const path = tokenFilePath();
  if (!path) return null;
  try {
    const token = (await Deno.readTextFile(path)).trim();
    if (!token) return null;
    registerSecret(token);
    return { token, source: `token file ${path}` };
  } catch {
    return null;
  }
}

/** The Hub's address: `HF_ENDPOINT`, else https://huggingface.co (no trailing slash). */
export function hubEndpoint(): string {
  return (_env("HF_ENDPOINT") ?? "https://huggingface.co").replace(/\/+$/, "");
}
