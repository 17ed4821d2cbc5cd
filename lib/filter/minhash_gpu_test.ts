import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { GpuMinhasher } from "./minhash_gpu.ts";
import { makePermutations, MINHASH_DEFAULTS, shingleHashes, signatureCpu } from "./minhash.ts";
import { DedupSigner } from "./dedup.ts";
import { generateNearDupSet } from "./near_dup_set.ts";
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

gpuTest("DedupSigner on the GPU writes the same sorted runs as on the CPU", async () => {
  const { docs } = generateNearDupSet(6, 200, (i) => [0, 0.01, 0.3][i % 3], 60);
  docs.splice(3, 0, { id: "empty", text: "", meta: {} });
  const dir = await Deno.makeTempDir();
  const files: Record<string, Uint8Array>[] = [];
  for (const device of ["cpu", "gpu"] as const) {
    const signer = await DedupSigner.open(`${dir}/${device}`, 0, {
      exact: true,
      minhash: MINHASH_DEFAULTS,
      device,
      batch_docs: 37, // several GPU batches
      verify: 0.8,
    });
    assert.equal(signer.backend, device === "cpu" ? "cpu-wasm" : "gpu");
    for (const d of docs) await signer.add(d);
    await signer.close();
    const got: Record<string, Uint8Array> = {};
    for await (const e of Deno.readDir(`${dir}/${device}`)) {
      if (e.name !== "index.json") got[e.name] = await Deno.readFile(`${dir}/${device}/${e.name}`);
    }
    files.push(got);
  }
  assert.deepEqual(Object.keys(files[1]).sort(), Object.keys(files[0]).sort());
  for (const name of Object.keys(files[0])) assert.deepEqual(files[1][name], files[0][name], name);
  await Deno.remove(dir, { recursive: true });
});
