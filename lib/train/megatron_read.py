#!/usr/bin/env python3
"""Reads a Megatron-LM indexed dataset (PREFIX.idx + PREFIX.bin, MMIDIDX version 1) with numpy
only, from the format as Megatron-LM documents it in megatron/core/datasets/indexed_dataset.py
(its _IndexWriter / _IndexReader): a 9-byte magic, u64 version, u8 dtype code, u64 sequence
count, u64 document-index count, then int32 sequence lengths, int64 sequence byte offsets into
.bin and int64 document indices (sequence numbers, first 0, last the sequence count).

Prints one JSON object: {"dtype", "sequences", "documents": [[token ids of each document]]}.
The test of `deno task train export --format megatron` compares it with Jikji's token shards.

Usage: /usr/bin/python3 lib/train/megatron_read.py PREFIX
"""

import json
import os
import struct
import sys

import numpy

MAGIC = b"MMIDIDX\x00\x00"
# Megatron's DType enum: code -> numpy dtype
DTYPES = {1: numpy.uint8, 2: numpy.int8, 3: numpy.int16, 4: numpy.int32, 5: numpy.int64,
          6: numpy.float64, 7: numpy.float32, 8: numpy.uint16}


def read(prefix):
    with open(prefix + ".idx", "rb") as f:
        idx = f.read()
    if idx[:9] != MAGIC:
        sys.exit(f"{prefix}.idx: not an MMIDIDX index")
    (version,) = struct.unpack_from("<Q", idx, 9)
    if version != 1:
        sys.exit(f"{prefix}.idx: version {version}, expected 1")
    (code,) = struct.unpack_from("<B", idx, 17)
    dtype = numpy.dtype(DTYPES[code])
    seqs, docs = struct.unpack_from("<QQ", idx, 18)
    want = 34 + 4 * seqs + 8 * seqs + 8 * docs
    if len(idx) != want:
        sys.exit(f"{prefix}.idx: {len(idx)} bytes, the header implies {want}")
    lengths = numpy.frombuffer(idx, dtype=numpy.int32, count=seqs, offset=34)
    pointers = numpy.frombuffer(idx, dtype=numpy.int64, count=seqs, offset=34 + 4 * seqs)
    doc_idx = numpy.frombuffer(idx, dtype=numpy.int64, count=docs, offset=34 + 12 * seqs)
    if docs < 1 or doc_idx[0] != 0 or doc_idx[-1] != seqs or numpy.any(numpy.diff(doc_idx) < 0):
        sys.exit(f"{prefix}.idx: document indices do not span the sequences")
    expect = numpy.concatenate([[0], numpy.cumsum(lengths.astype(numpy.int64))[:-1]]) * dtype.itemsize
    if seqs and not numpy.array_equal(pointers, expect):
        sys.exit(f"{prefix}.idx: sequence offsets are not the running sum of the lengths")
    total = int(lengths.astype(numpy.int64).sum())
    if os.path.getsize(prefix + ".bin") != total * dtype.itemsize:
        sys.exit(f"{prefix}.bin: size is not {total} tokens of {dtype.name}")
    tokens = numpy.memmap(prefix + ".bin", dtype=dtype, mode="r")
    sequences = [tokens[p // dtype.itemsize: p // dtype.itemsize + n] for p, n in zip(pointers, lengths)]
    documents = []
    for d in range(docs - 1):
        parts = sequences[doc_idx[d]:doc_idx[d + 1]]
        documents.append([int(t) for s in parts for t in s])
    return {"dtype": dtype.name, "sequences": int(seqs), "documents": documents}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(json.dumps(read(sys.argv[1])))
