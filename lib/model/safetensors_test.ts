import assert from "node:assert/strict";
import {
  bf16BitsToF32,
  encodeSafetensors,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  parseSafetensors,
  readModelWeights,
  tensorToF32,
  writeSafetensors,
} from "./safetensors.ts";
import { UserError } from "../io/errors.ts";

/** Builds a file by hand from the spec: u64 LE header length, JSON header, raw buffer. */
function handBuilt(
  header: string,
  buffer: number[] | Uint8Array,
  lenOverride?: bigint,
): Uint8Array {
  const hb = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + hb.length + buffer.length);
  new DataView(out.buffer).setBigUint64(0, lenOverride ?? BigInt(hb.length), true);
  out.set(hb, 8);
  out.set(buffer, 8 + hb.length);
  return out;
}

function f32Bytes(values: number[]): number[] {
  const b = new Uint8Array(new Float32Array(values).buffer);
  return [...b];
}

function refuses(bytes: Uint8Array, pattern: RegExp) {
  assert.throws(() => parseSafetensors(bytes, "bad.safetensors"), (err: unknown) => {
    assert.ok(err instanceof UserError, `expected UserError, got ${err}`);
    assert.match(err.message, /^bad\.safetensors: not a valid safetensors file: /);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes("\n"), "one line");
    return true;
  });
}

Deno.test("parseSafetensors() reads a file hand-built from the format spec", () => {
  // The spec's own example shape: an I32 2x2 tensor plus metadata, then an F32 tensor; the header
  // is padded with spaces, and F16/BF16 bit patterns are written out by hand.
  const header = JSON.stringify({
    __metadata__: { format: "pt" },
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    b: { dtype: "BF16", shape: [2], data_offsets: [8, 12] },
    c: { dtype: "F16", shape: [1, 2], data_offsets: [12, 16] },
  }) + "   ";
  // bf16 0x3f80 = 1.0, 0xc040 = -3.0; f16 0x3c00 = 1.0, 0xc200 = -3.0 (little-endian bytes)
  const buf = [...f32Bytes([1.5, -2]), 0x80, 0x3f, 0x40, 0xc0, 0x00, 0x3c, 0x00, 0xc2];
  const st = parseSafetensors(handBuilt(header, buf), "hand.safetensors");
  assert.deepEqual(st.metadata, { format: "pt" });
  assert.deepEqual([...tensorToF32(st.tensors.get("a")!)], [1.5, -2]);
  assert.deepEqual([...tensorToF32(st.tensors.get("b")!)], [1, -3]);
  assert.deepEqual(st.tensors.get("c")!.shape, [1, 2]);
  assert.deepEqual([...tensorToF32(st.tensors.get("c")!)], [1, -3]);
});

Deno.test("encodeSafetensors() round-trips f32, bf16 and f16 and aligns the buffer", () => {
  const data = new Float32Array([0, 1, -2.5, 3.140625, 1e-3, 65504]);
  const bytes = encodeSafetensors([
    { name: "x.f32", shape: [2, 3], data },
    { name: "x.bf16", shape: [6], data, dtype: "BF16" },
    { name: "x.f16", shape: [3, 2], data, dtype: "F16" },
  ], { format: "pt" });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0);
  const st = parseSafetensors(bytes);
  assert.deepEqual([...tensorToF32(st.tensors.get("x.f32")!)], [...data]);
  const bf = tensorToF32(st.tensors.get("x.bf16")!);
  const h = tensorToF32(st.tensors.get("x.f16")!);
  for (let i = 0; i < data.length; i++) {
    assert.ok(Math.abs(bf[i] - data[i]) <= Math.abs(data[i]) * 2 ** -8, `bf16 ${bf[i]} ${data[i]}`);
    assert.ok(Math.abs(h[i] - data[i]) <= Math.abs(data[i]) * 2 ** -11 + 1e-7, `f16 ${h[i]}`);
  }
});

Deno.test("f32ToBf16Bits() and f32ToF16Bits() round to nearest even", () => {
  assert.equal(f32ToBf16Bits(1), 0x3f80);
  assert.equal(bf16BitsToF32(f32ToBf16Bits(1 + 2 ** -8)), 1); // tie → even
  assert.equal(bf16BitsToF32(f32ToBf16Bits(1 + 3 * 2 ** -8)), 1 + 2 ** -6);
  assert.equal(f32ToF16Bits(1), 0x3c00);
  assert.equal(f32ToF16Bits(65520), 0x7c00); // overflows to inf
  assert.equal(f16BitsToF32(f32ToF16Bits(2 ** -24)), 2 ** -24); // smallest subnormal
  assert.equal(f16BitsToF32(f32ToF16Bits(1 + 2 ** -11)), 1); // tie → even
  assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN))));
  assert.ok(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN))));
});

Deno.test("parseSafetensors() refuses malformed and hostile files with one clear line", () => {
  const ok = (o: unknown) => JSON.stringify(o);
  refuses(new Uint8Array(5), /shorter than the 8-byte header length/);
  refuses(handBuilt("{}", [], 1000n), /runs past the end/);
  refuses(handBuilt("{}", [], 1n << 62n), /exceeds/);
  refuses(handBuilt("{not json}", []), /not valid JSON/);
  refuses(handBuilt("[1,2]", []), /does not start with/);
  refuses(
    handBuilt(ok({ a: { dtype: "F33", shape: [1], data_offsets: [0, 4] } }), [0, 0, 0, 0]),
    /unknown dtype "F33"/,
  );
  refuses(
    handBuilt(ok({ a: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }), [0, 0, 0, 0]),
    /non-negative integers/,
  );
  refuses(
    handBuilt(ok({ a: { dtype: "F32", shape: [1.5], data_offsets: [0, 4] } }), [0, 0, 0, 0]),
    /non-negative integers/,
  );
  refuses(
    handBuilt(ok({ a: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }), [0, 0, 0, 0]),
    /needs 8 bytes but data_offsets span 4/,
  );
  refuses(
    handBuilt(ok({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }), [0, 0]),
    /outside the 2-byte buffer/,
  );
  refuses(
    handBuilt(ok({ a: { dtype: "F32", shape: [1], data_offsets: [4, 0] } }), [0, 0, 0, 0]),
    /end 0 < begin 4/,
  );
  refuses(
    handBuilt(ok({ a: { dtype: "F32", shape: [1], data_offsets: [0] } }), [0, 0, 0, 0]),
    /is not \[begin, end\]/,
  );
  refuses(
    handBuilt(
      ok({
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
      }),
      new Array(8).fill(0),
    ),
    /overlaps/,
  );
  refuses(
    handBuilt(ok({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }), new Array(8).fill(0)),
    /hole in the buffer at bytes \[0, 4\)/,
  );
  refuses(
    handBuilt(ok({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }), new Array(12).fill(0)),
    /8 trailing bytes/,
  );
  refuses(handBuilt(ok({ __metadata__: { n: 3 } }), []), /__metadata__\.n is not a string/);
  refuses(
    handBuilt(ok({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4], x: 1 } }), [0, 0, 0, 0]),
    /unknown field "x"/,
  );
  // a shape whose element count overflows safe integers cannot pass as a small tensor
  refuses(
    handBuilt(
      ok({ a: { dtype: "F64", shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 8] } }),
      new Array(8).fill(0),
    ),
    /needs/,
  );
  const notUtf8 = handBuilt('{"ab":1}', []);
  notUtf8[10] = 0xff; // the "a" becomes a byte that is never valid UTF-8
  refuses(notUtf8, /not valid UTF-8/);
});

Deno.test("readModelWeights() reads sharded checkpoints through model.safetensors.index.json", async () => {
  const dir = await Deno.makeTempDir();
  await writeSafetensors(`${dir}/model-00001-of-00002.safetensors`, [
    { name: "a", shape: [1], data: new Float32Array([1]) },
  ]);
  await writeSafetensors(`${dir}/model-00002-of-00002.safetensors`, [
    { name: "b", shape: [2], data: new Float32Array([2, 3]), dtype: "BF16" },
  ]);
  const index = {
    metadata: { total_size: 8 },
    weight_map: { a: "model-00001-of-00002.safetensors", b: "model-00002-of-00002.safetensors" },
  };
  await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, JSON.stringify(index));
  const st = await readModelWeights(dir);
  assert.deepEqual([...st.tensors.keys()].sort(), ["a", "b"]);
  assert.deepEqual([...tensorToF32(st.tensors.get("b")!)], [2, 3]);
  // an index that points outside the folder is refused
  await Deno.writeTextFile(
    `${dir}/model.safetensors.index.json`,
    JSON.stringify({ weight_map: { a: "../x.safetensors" } }),
  );
  await assert.rejects(() => readModelWeights(dir), /must be a file name in the same folder/);
  // an index naming a tensor the shard lacks is refused
  await Deno.writeTextFile(
    `${dir}/model.safetensors.index.json`,
    JSON.stringify({
      weight_map: { a: "model-00001-of-00002.safetensors", z: "model-00001-of-00002.safetensors" },
    }),
  );
  await assert.rejects(() => readModelWeights(dir), /lacks tensor "z"/);
  await Deno.remove(dir, { recursive: true });
});
