/**
 * A minimal client of OpenAI-compatible chat endpoints (`POST {url}/chat/completions`, as served by
 * vLLM, llama.cpp's server, Ollama, TGI and OpenAI itself). The API key, when given, is sent as a
 * bearer token and never appears in errors or logs.
 *
 * @module
 */

import { UserError } from "../../io/errors.ts";

/** One chat message. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** Client options. */
export interface ChatClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:8000/v1` (or the full `…/chat/completions` URL). */
  url: string;
  model: string;
  apiKey?: string;
  /** Per-request timeout (default 120 s). */
  timeoutMs?: number;
  /** Retries on 429/5xx and network errors, with doubling waits from 1 s (default 3). */
  retries?: number;
  maxTokens?: number;
}

/** Sends chat requests and returns the first choice's text. */
export class ChatClient {
  readonly endpoint: string;
  readonly #o: ChatClientOptions;

  constructor(options: ChatClientOptions) {
    let u: URL;
    try {
      u = new URL(options.url);
    } catch {
      throw new UserError(`--url: "${options.url}" is not a URL (e.g. http://127.0.0.1:8000/v1)`);
    }
    const base = u.href.replace(/\/+$/, "");
    this.endpoint = base.endsWith("/chat/completions") ? base : `${base}/chat/completions`;
    this.#o = options;
  }

  /** The assistant's reply to `messages` (temperature 0). */
  async complete(messages: ChatMessage[]): Promise<string> {
    const body = JSON.stringify({
      model: this.#o.model,
      messages,
      temperature: 0,
      max_tokens: this.#o.maxTokens ?? 256,
    });
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.#o.apiKey) headers.authorization = `Bearer ${this.#o.apiKey}`;
    const retries = this.#o.retries ?? 3;
    let wait = 1000;
    for (let attempt = 0;; attempt++) {
      let res: Response;
      try {
        res = await fetch(this.endpoint, {
          method: "POST",
          headers,
          body,
          signal: AbortSignal.timeout(this.#o.timeoutMs ?? 120_000),
        });
      } catch (err) {
        if (attempt < retries) {
          await new Promise((r) => setTimeout(r, wait));
          wait *= 2;
          continue;
        }
        throw new UserError(`${this.endpoint}: request failed (${(err as Error).name})`);
      }
      if (res.status === 429 || res.status >= 500) {
        await res.body?.cancel();
        if (attempt < retries) {
          await new Promise((r) => setTimeout(r, wait));
          wait *= 2;
          continue;
        }
      }
      if (!res.ok) {
        const text = (await res.text()).slice(0, 200).replace(/\s+/g, " ");
        throw new UserError(`${this.endpoint}: HTTP ${res.status} ${text}`);
      }
      // deno-lint-ignore no-explicit-any
      let json: any;
      try {
        json = await res.json();
      } catch {
        throw new UserError(`${this.endpoint}: the reply is not JSON`);
      }
      const content = json?.choices?.[0]?.message?.content;
      if (typeof content !== "string") {
        throw new UserError(`${this.endpoint}: the reply has no choices[0].message.content`);
      }
      return content;
    }
  }
}
