#!/usr/bin/env bash
# The native sampler's speed, this tree against another revision (default: the commit before the
# one-pass sampler), on this machine: bench/sampler/sampler-bench.cpp built against each revision's
# native/src/sampler.cpp with scripts/build-native.mjs's flags, run at each THREADS count over ROWS rows.
# Usage: bash bench/sampler/run.sh [BASE_REV]    (ROWS=256 THREADS="1 2" by default)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BASE_REV=${1:-f268d6b}
ROWS=${ROWS:-256}
THREADS=${THREADS:-"1 $(nproc)"}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# The flags of scripts/build-native.mjs (no -ffast-math: the sampler relies on IEEE infinities).
FLAGS=(-O3 -std=c++17 -fno-math-errno -fno-trapping-math -pthread)
mkdir -p "$OUT/base"
if [[ -d "$BASE_REV" ]]; then cp "$BASE_REV"/native/src/{sampler,thread_pool}.{h,cpp} "$OUT/base/"
else for f in sampler.h sampler.cpp thread_pool.h thread_pool.cpp; do git -C "$ROOT" show "$BASE_REV:native/src/$f" >"$OUT/base/$f"; done
fi
g++ "${FLAGS[@]}" -I"$OUT/base" "$ROOT/bench/sampler/sampler-bench.cpp" "$OUT/base/sampler.cpp" "$OUT/base/thread_pool.cpp" -o "$OUT/base-bench"
g++ "${FLAGS[@]}" -I"$ROOT/native/src" "$ROOT/bench/sampler/sampler-bench.cpp" "$ROOT/native/src/sampler.cpp" "$ROOT/native/src/thread_pool.cpp" -o "$OUT/this-bench"
# This tree's host part of a draw from the GPU's block statistics (when its sampler has it).
BLOCKS_BIN=""
if grep -q draw_from_block_masses "$ROOT/native/src/sampler.h"; then
  g++ "${FLAGS[@]}" -DBLOCK_MASSES -I"$ROOT/native/src" "$ROOT/bench/sampler/sampler-bench.cpp" "$ROOT/native/src/sampler.cpp" \
    "$ROOT/native/src/thread_pool.cpp" -o "$OUT/blocks-bench" && BLOCKS_BIN="$OUT/blocks-bench"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for t in $THREADS; do
  printf '%-8s %s\n' "base" "$("$OUT/base-bench" "$ROWS" "$t")"
  printf '%-8s %s\n' "this" "$("$OUT/this-bench" "$ROWS" "$t")"
  [[ -n "$BLOCKS_BIN" ]] && printf '%-8s %s\n' "blocks" "$("$BLOCKS_BIN" "$ROWS" "$t")"
done
