import assert from "node:assert/strict";
import { WasmPool } from "./minhash_pool.ts";
import { makePermutations, signatureCpu } from "./minhash.ts";
import { mulberry32 } from "./pii_eval.ts";

Deno.test("WasmPool.signatures() on 2 workers equals signatureCpu()", async () => {
  const perms = makePermutations(112, 3);
  const rnd = mulberry32(4);
  const docs = Array.from(
    { length: 57 },
    (_, i) =>
      Uint32Array.from(
        { length: i % 7 === 0 ? 0 : Math.floor(rnd() * 500) },
        () => (rnd() * 2 ** 32) >>> 0,
      ),
  );
  const pool = new WasmPool(perms, 2);
  try {
    const sig = await pool.signatures(docs);
    for (let d = 0; d < docs.length; d++) {
      assert.deepEqual(
        sig.subarray(d * 112, (d + 1) * 112),
        signatureCpu(docs[d], perms),
        `doc ${d}`,
      );
    }
    assert.equal((await pool.signatures([])).length, 0);
  } finally {
    pool.close();
  }
});
