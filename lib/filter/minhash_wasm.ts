/**
 * The fast CPU path of MinHash signatures: the inner loop in WebAssembly, which has 64-bit integer
 * arithmetic (JavaScript numbers do not). The module is assembled here from named instructions
 * (no binary blob); it computes exactly what {@linkcode permute} in `minhash.ts` computes, by a
 * different route: with p = 2⁶¹ − 1, a·x = a_hi·x·2³² + a_lo·x, where a_lo·x < 2⁶⁴ is folded at
 * bit 61, and a_hi·x·2³² mod p is a 61-bit rotation of a_hi·x. Tests check it against the
 * reference and against BigInt.
 *
 * Memory layout: permutations as (a_hi, a_lo, b) u64 triples (24 bytes each) at 0; the signature
 * (u32 per permutation) after them; shingles (u32) after that.
 *
 * @module
 */

const P61 = (1n << 61n) - 1n;

// The opcodes used (WebAssembly core spec §5.4).
const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br_if: 0x0d,
  select: 0x1b,
  local_get: 0x20,
  local_set: 0x21,
  local_tee: 0x22,
  i32_load: 0x28,
  i64_load: 0x29,
  i64_load32_u: 0x35,
  i32_store: 0x36,
  i32_const: 0x41,
  i64_const: 0x42,
  i32_eqz: 0x45,
  i32_lt_u: 0x49,
  i32_ge_u: 0x4f,
  i64_ge_u: 0x5a,
  i32_add: 0x6a,
  i32_sub: 0x6b,
  i32_shl: 0x74,
  i64_add: 0x7c,
  i64_sub: 0x7d,
  i64_mul: 0x7e,
  i64_and: 0x83,
  i64_or: 0x84,
  i64_shl: 0x86,
  i64_shr_u: 0x88,
  i32_wrap_i64: 0xa7,
} as const;
const VOID = 0x40;

function _uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function _sleb(v: bigint): number[] {
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function _section(id: number, body: number[]): number[] {
  return [id, ..._uleb(body.length), ...body];
}

function _name(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [..._uleb(b.length), ...b];
}

/** The bytes of the module exporting `mem` and `sig(sh, end, perms, k, out)`. */
export function minhashWasmBytes(): Uint8Array {
  // params: 0 sh (byte ptr), 1 end (byte ptr), 2 perms, 3 k, 4 out; locals: 5 pp, 6 op, 7 j,
  // 8 v (i32), 9 x, 10 t, 11 s (i64)
  const [SH, END, PERMS, K, OUT, PP, OPTR, J, V, X, T, S] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const g = (i: number) => [OP.local_get, i];
  const set = (i: number) => [OP.local_set, i];
  const tee = (i: number) => [OP.local_tee, i];
  const c64 = (v: bigint) => [OP.i64_const, ..._sleb(v)];
  const c32 = (v: number) => [OP.i32_const, ..._sleb(BigInt(v))];
  const code = [
    OP.block,
    VOID,
    ...g(SH),
    ...g(END),
    OP.i32_ge_u,
    OP.br_if,
    0,
    OP.loop,
    VOID, // over shingles
    ...g(SH),
    OP.i64_load32_u,
    2,
    0,
    ...set(X),
    ...g(PERMS),
    ...set(PP),
    ...g(OUT),
    ...set(OPTR),
    ...g(K),
    ...set(J),
    OP.block,
    VOID,
    ...g(J),
    OP.i32_eqz,
    OP.br_if,
    0,
    OP.loop,
    VOID, // over permutations
    // r1 = fold61(a_lo·x)
    ...g(PP),
    OP.i64_load,
    3,
    8,
    ...g(X),
    OP.i64_mul,
    ...tee(T),
    ...c64(P61),
    OP.i64_and,
    ...g(T),
    ...c64(61n),
    OP.i64_shr_u,
    OP.i64_add,
    // r2 = rot61(a_hi·x, 32)
    ...g(PP),
    OP.i64_load,
    3,
    0,
    ...g(X),
    OP.i64_mul,
    ...tee(T),
    ...c64(0x1fffffffn),
    OP.i64_and,
    ...c64(32n),
    OP.i64_shl,
    ...g(T),
    ...c64(29n),
    OP.i64_shr_u,
    OP.i64_or,
    OP.i64_add,
    ...g(PP),
    OP.i64_load,
    3,
    16,
    OP.i64_add, // + b
    // s = fold61(s); s = s ≥ p ? s − p : s
    ...tee(S),
    ...c64(P61),
    OP.i64_and,
    ...g(S),
    ...c64(61n),
    OP.i64_shr_u,
    OP.i64_add,
    ...tee(S),
    ...c64(P61),
    OP.i64_sub,
    ...g(S),
    ...g(S),
    ...c64(P61),
    OP.i64_ge_u,
    OP.select,
    OP.i32_wrap_i64,
    ...tee(V),
    ...g(OPTR),
    OP.i32_load,
    2,
    0,
    OP.i32_lt_u,
    OP.if,
    VOID,
    ...g(OPTR),
    ...g(V),
    OP.i32_store,
    2,
    0,
    OP.end,
    ...g(PP),
    ...c32(24),
    OP.i32_add,
    ...set(PP),
    ...g(OPTR),
    ...c32(4),
    OP.i32_add,
    ...set(OPTR),
    ...g(J),
    ...c32(1),
    OP.i32_sub,
    ...tee(J),
    OP.br_if,
    0,
    OP.end, // loop over permutations
    OP.end, // block
    ...g(SH),
    ...c32(4),
    OP.i32_add,
    ...tee(SH),
    ...g(END),
    OP.i32_lt_u,
    OP.br_if,
    0,
    OP.end, // loop over shingles
    OP.end, // block
    OP.end, // function
  ];
  const locals = [2, 4, 0x7f, 3, 0x7e]; // 4 × i32, 3 × i64
  const body = [...locals, ...code];
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ..._section(1, [1, 0x60, 5, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0]),
    ..._section(3, [1, 0]),
    ..._section(5, [1, 0, 1]), // one memory, min 1 page
    ..._section(7, [2, ..._name("sig"), 0, 0, ..._name("mem"), 2, 0]),
    ..._section(10, [1, ..._uleb(body.length), ...body]),
  ];
  return new Uint8Array(bytes);
}

type _SigFn = (sh: number, end: number, perms: number, k: number, out: number) => void;

/** MinHash signatures on the CPU through the WebAssembly inner loop. */
export class WasmMinhasher {
  readonly numPerm: number;
  #sig: _SigFn;
  #mem: WebAssembly.Memory;
  #outPtr: number;
  #shPtr: number;

  /** `perms` as made by `makePermutations` (a_hi, a_lo, b_hi, b_lo per permutation). */
  constructor(perms: Uint32Array) {
    const mod = new WebAssembly.Module(minhashWasmBytes() as BufferSource);
    const inst = new WebAssembly.Instance(mod, {});
    this.#sig = inst.exports.sig as _SigFn;
    this.#mem = inst.exports.mem as WebAssembly.Memory;
    this.numPerm = perms.length / 4;
    const p64 = new BigUint64Array(this.#mem.buffer, 0, 3 * this.numPerm);
    for (let k = 0; k < this.numPerm; k++) {
      p64[3 * k] = BigInt(perms[4 * k]);
      p64[3 * k + 1] = BigInt(perms[4 * k + 1]);
      p64[3 * k + 2] = (BigInt(perms[4 * k + 2]) << 32n) | BigInt(perms[4 * k + 3]);
    }
    this.#outPtr = 24 * this.numPerm;
    this.#shPtr = this.#outPtr + 4 * this.numPerm;
  }

  /** The signature of one shingle set (all 0xFFFFFFFF when empty). */
  signature(shingles: Uint32Array, out = new Uint32Array(this.numPerm)): Uint32Array {
    const need = this.#shPtr + 4 * shingles.length;
    if (need > this.#mem.buffer.byteLength) {
      this.#mem.grow(Math.ceil((need - this.#mem.buffer.byteLength) / 65536));
    }
    const u32 = new Uint32Array(this.#mem.buffer);
    u32.fill(0xffffffff, this.#outPtr / 4, this.#outPtr / 4 + this.numPerm);
    u32.set(shingles, this.#shPtr / 4);
    this.#sig(this.#shPtr, need, 0, this.numPerm, this.#outPtr);
    out.set(u32.subarray(this.#outPtr / 4, this.#outPtr / 4 + this.numPerm));
    return out;
  }
}
