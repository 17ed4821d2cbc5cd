#!/usr/bin/env bash
# The one prepared GPU check: on the GPU machine, from the project root, with .gpu/ from
# lib/gpu/pack.sh beside the tracked tree:
#   bash lib/gpu/run_bench.sh
# installs the packed Vulkan loader and Deno (.gpu/enter.sh), unpacks the bundled bench, and runs
# `bench gpu --size full --json` under a hard timeout (JIKJI_GPU_TIMEOUT, default 470 s, inside
# the 8 minutes a check may take) with the permissions of deno.json's bench task. Everything goes
# to $OUT (default runs/gpu-out): gpu_bench.jsonl (one result a line, written as they come, so a
# timeout keeps what finished), gpu_bench.stderr (progress), results.md, the environment.
# JIKJI_GPU_SIZE=small runs the small size (a check of this script on a machine without a GPU);
# JIKJI_GPU_ENTER=0 skips .gpu/enter.sh and uses the deno on PATH.
set -uo pipefail
out=${OUT:-runs/gpu-out}
mkdir -p "$out"
limit=${JIKJI_GPU_TIMEOUT:-470}
size=${JIKJI_GPU_SIZE:-full}
t0=$(date +%s)
if [ "${JIKJI_GPU_ENTER:-1}" != 0 ]; then
  # shellcheck disable=SC1091
  source .gpu/enter.sh > "$out/enter.log" 2>&1 || { cat "$out/enter.log"; echo "run_bench.sh: .gpu/enter.sh failed"; exit 2; }
  cat "$out/enter.log"
fi
# the bundle sits two folders below the root, as lib/gpu/runtime.ts does, so that the kernels'
# ../../kernels/ and the peer's ../../lib/bench/ resolve to the project's
mkdir -p .gpu/bundle && xz -dc .gpu/bench.js.xz > .gpu/bundle/bench.js || { echo "run_bench.sh: no .gpu/bench.js.xz (run lib/gpu/pack.sh)"; exit 2; }
{ nvidia-smi || true; python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "transformers", transformers.__version__)' || true; deno --version; } > "$out/env.txt" 2>&1
cat "$out/env.txt"
flags=$(deno eval 'const t = JSON.parse(Deno.readTextFileSync("deno.json")).tasks.bench;
console.log(t.replace(/^deno run /, "").replace(/ tasks\/bench\.ts$/, ""))')
echo "run_bench.sh: deno run $flags .gpu/bundle/bench.js gpu --size $size --json (timeout ${limit}s)"
# shellcheck disable=SC2086
timeout -k 10 "$limit" deno run $flags .gpu/bundle/bench.js gpu --size "$size" --json \
  > "$out/gpu_bench.jsonl" 2> >(tee "$out/gpu_bench.stderr" >&2)
rc=$?
latest=$(ls -td runs/bench-* 2>/dev/null | head -1)
[ -n "$latest" ] && cp "$latest"/results.md "$latest"/summary.json "$out/" 2>/dev/null
echo "run_bench.sh: exit $rc after $(( $(date +%s) - t0 )) s; $(wc -l < "$out/gpu_bench.jsonl") results in $out/gpu_bench.jsonl"
exit $rc
