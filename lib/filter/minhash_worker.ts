/**
 * Worker of {@linkcode WasmPool}: computes MinHash signatures with the WebAssembly loop.
 * Messages: `{perms}` once, then `{id, docs}` → `{id, sig}` (sig: (D, K) u32, transferred).
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { WasmMinhasher } from "./minhash_wasm.ts";

let hasher: WasmMinhasher | undefined;

self.onmessage = (e: MessageEvent) => {
  const msg = e.data as { perms?: Uint32Array; id?: number; docs?: Uint32Array[] };
  if (msg.perms) {
    hasher = new WasmMinhasher(msg.perms);
    return;
  }
  const k = hasher!.numPerm;
  const docs = msg.docs!;
  const sig = new Uint32Array(docs.length * k);
  for (let d = 0; d < docs.length; d++) {
    hasher!.signature(docs[d], sig.subarray(d * k, (d + 1) * k));
  }
  self.postMessage({ id: msg.id, sig }, [sig.buffer]);
};
