/**
 * MinHash signatures on the GPU: `kernels/minhash.wgsl` through the runtime in lib/gpu/runtime.ts.
 * Bit-identical to the CPU paths (`signatureCpu` in minhash.ts, the WebAssembly loop).
 *
 * @module
 */

import { getRuntime, type GpuRuntime } from "../gpu/runtime.ts";

const _MAX_WG = 65535;

/** Signatures of document batches on the GPU. */
export class GpuMinhasher {
  readonly numPerm: number;
  readonly rt: GpuRuntime;
  #perms: GPUBuffer;

  private constructor(rt: GpuRuntime, perms: Uint32Array) {
    this.rt = rt;
    this.numPerm = perms.length / 4;
    this.#perms = rt.upload(perms, "minhash perms");
  }

  /** A hasher on the shared runtime; throws when no WebGPU adapter exists. */
  static async create(perms: Uint32Array): Promise<GpuMinhasher> {
    return new GpuMinhasher(await getRuntime(), perms);
  }

  /**
   * Signatures of `docs` (shingle hash sets) as one array (D, K): row d is document d's signature.
   * Large batches are split so that no binding exceeds the device's limit.
   */
  async signatures(docs: Uint32Array[]): Promise<Uint32Array> {
    const k = this.numPerm;
    const out = new Uint32Array(docs.length * k);
    const maxShingles = Math.floor(this.rt.maxBinding / 4);
    const maxDocs = Math.floor(this.rt.maxBinding / 4 / k);
    let at = 0;
    while (at < docs.length) {
      let end = at;
      let total = 0;
      while (
        end < docs.length && end - at < maxDocs &&
        (end === at || total + docs[end].length <= maxShingles)
      ) {
        total += docs[end].length;
        end++;
      }
      if (total > maxShingles) {
        throw new Error(`a document has ${total} shingles, above the GPU binding limit`);
      }
      out.set(await this.#batch(docs.slice(at, end), total), at * k);
      at = end;
    }
    return out;
  }

  /** Gives the permutation buffer back to the runtime's pool. */
  close(): void {
    this.rt.release(this.#perms);
  }

  async #batch(docs: Uint32Array[], total: number): Promise<Uint32Array> {
    const rt = this.rt;
    const k = this.numPerm;
    const shingles = new Uint32Array(Math.max(1, total));
    const offsets = new Uint32Array(docs.length + 1);
    let o = 0;
    for (let d = 0; d < docs.length; d++) {
      offsets[d] = o;
      shingles.set(docs[d], o);
      o += docs[d].length;
    }
    offsets[docs.length] = o;
    const bShingles = rt.upload(shingles, "minhash shingles");
    const bOffsets = rt.upload(offsets, "minhash offsets");
    const bSig = rt.buffer(docs.length * k * 4, "minhash sig");
    const pipe = rt.kernel("minhash", "main", { WG: 128 });
    const uniforms: GPUBuffer[] = [];
    for (let base = 0; base < docs.length; base += _MAX_WG) {
      const u = rt.uniform(new Uint32Array([docs.length, k, base, 0]));
      uniforms.push(u);
      rt.dispatch(pipe, [bShingles, bOffsets, this.#perms, bSig, u], [
        Math.min(_MAX_WG, docs.length - base),
      ]);
    }
    const sig = await rt.readU32(bSig, docs.length * k);
    rt.release(bShingles);
    rt.release(bOffsets);
    rt.release(bSig);
    for (const u of uniforms) u.destroy();
    return sig;
  }
}
