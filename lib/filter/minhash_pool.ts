/**
 * MinHash signatures on several CPU cores: a pool of workers each running the WebAssembly loop
 * (`minhash_worker.ts`). Bit-identical to the single-threaded path; call {@linkcode close} when
 * done (idle workers keep a process alive).
 *
 * @module
 */

/** A pool of signature workers. */
export class WasmPool {
  readonly numPerm: number;
  readonly threads: number;
  #workers: Worker[];
  #next = 0;
  #waiting = new Map<number, (sig: Uint32Array) => void>();

  constructor(perms: Uint32Array, threads: number) {
    this.numPerm = perms.length / 4;
    this.threads = threads;
    this.#workers = Array.from({ length: threads }, () => {
      const w = new Worker(new URL("./minhash_worker.ts", import.meta.url).href, {
        type: "module",
      });
      w.onmessage = (e: MessageEvent) => {
        const { id, sig } = e.data as { id: number; sig: Uint32Array };
        this.#waiting.get(id)?.(sig);
        this.#waiting.delete(id);
      };
      w.postMessage({ perms });
      return w;
    });
  }

  /** Signatures of `docs` as one (D, K) array, the documents split among the workers. */
  async signatures(docs: Uint32Array[]): Promise<Uint32Array> {
    const k = this.numPerm;
    const total = docs.reduce((a, d) => a + d.length, 0);
    // contiguous chunks of about equal shingle counts
    const chunks: [number, number][] = [];
    let start = 0;
    let acc = 0;
    for (let i = 0; i < docs.length; i++) {
      acc += docs[i].length;
      if (acc >= (total * (chunks.length + 1)) / this.threads && chunks.length < this.threads - 1) {
        chunks.push([start, i + 1]);
        start = i + 1;
      }
    }
    chunks.push([start, docs.length]);
    const parts = await Promise.all(chunks.map(([a, b], w) => {
      const id = this.#next++;
      return new Promise<Uint32Array>((resolve) => {
        this.#waiting.set(id, resolve);
        this.#workers[w % this.#workers.length].postMessage({ id, docs: docs.slice(a, b) });
      });
    }));
    const out = new Uint32Array(docs.length * k);
    chunks.forEach(([a], i) => out.set(parts[i], a * k));
    return out;
  }

  /** Stops the workers. */
  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers = [];
  }
}
