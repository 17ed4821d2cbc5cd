#!/usr/bin/env bash
# Packs what `deno task bench gpu` needs on a GPU machine without network into .gpu/ (git-ignored):
# Deno (xz) and Debian's Vulkan loader from ../shared/gpu/pack.sh, and tasks/bench.ts bundled with
# every npm package it imports into one JavaScript file (xz), so no node_modules travels.
# `deno compile` would need its runtime binary (denort) from dl.deno.land, which this machine
# cannot reach; the bundle runs on the packed Deno instead.
# Run from the project root on the CPU machine; then lib/gpu/run_bench.sh on the GPU machine.
# The tracked tree plus .gpu/ must stay under 64 MiB (what a GPU run may carry); checked here.
set -euo pipefail
shared=${JIKJI_SHARED:-../shared}
[ -f "$shared/gpu/pack.sh" ] || { echo "pack.sh: $shared/gpu/pack.sh not found (set JIKJI_SHARED)"; exit 2; }
bash "$shared/gpu/pack.sh" .gpu >/dev/null
deno bundle --quiet --platform deno -o .gpu/bench.js tasks/bench.ts
xz -T0 -9 -f .gpu/bench.js
tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
gpu=$(du -cb .gpu/deno.xz .gpu/bench.js.xz .gpu/enter.sh .gpu/*.deb | tail -1 | cut -f1)
du -b .gpu/deno.xz .gpu/bench.js.xz .gpu/enter.sh .gpu/*.deb
total=$((tree + gpu))
echo "pack.sh: .gpu ${gpu} bytes + tracked tree ${tree} bytes = $((total / 1048576)) MiB (cap 64 MiB)"
[ "$total" -lt $((64 * 1048576)) ] || { echo "pack.sh: over the 64 MiB cap"; exit 1; }
