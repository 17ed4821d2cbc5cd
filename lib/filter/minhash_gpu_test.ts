import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { GpuMinhasher } from "./minhash_gpu.ts";
import { makePermutations, shingleHashes, signatureCpu } from "./minhash.ts";
import { mulberry32 } from "./pii_eval.ts";

gpuTest("GpuMinhasher.signatures() is bit-identical to signatureCpu()", async () => {
  const perms = makePermutations(112, 42);
  const rnd = mulberry32(3);
  const docs: Uint32Array[] = [new Uint32Array(0), shingleHashes("한 두 세", 5, "word")];
  // random shingles, including the extremes of the 32-bit range
  docs.push(new Uint32Array([0, 1, 0xffffffff, 0x80000000, 0x7fffffff]));
  for (let i = 0; i < 300; i++) {
    const n = Math.floor(rnd() * 400);
    docs.push(Uint32Array.from({ length: n }, () => (rnd() * 2 ** 32) >>> 0));
  }
  const gpu = await (await GpuMinhasher.create(perms)).signatures(docs);
  let mismatches = 0;
  const shown: string[] = [];
  for (let d = 0; d < docs.length; d++) {
    const ref = signatureCpu(docs[d], perms);
    for (let k = 0; k < 112; k++) {
      if (gpu[d * 112 + k] !== ref[k]) {
        mismatches++;
        if (shown.length < 5) {
          shown.push(`doc ${d} perm ${k}: gpu ${gpu[d * 112 + k]} ref ${ref[k]}`);
        }
      }
    }
  }
  assert.equal(mismatches, 0, shown.join("\n"));
  assert.ok(gpu.subarray(0, 112).every((v) => v === 0xffffffff));
});
