#!/usr/bin/env bash
# Builds llama.cpp's `llama-server` (CPU only) from the llama.cpp source node-llama-cpp ships (its
# llama/gitRelease.bundle, a git bundle of the release its binaries were built from: the same
# llama.cpp our native core's vendored headers come from), for the llama-server upstream dialect
# and its process test (test/upstream-llama-server.test.ts). No network: the source is the bundle,
# and the web UI is left out (LLAMA_USE_PREBUILT_UI would download it from Hugging Face).
#
# Output: .cache/llama-server/bin/llama-server (or $LLAMA_SERVER_DIR/bin). Idempotent: skips the
# build when that binary was built from the bundle's commit. Jobs: $JOBS, else every core.
#
#   bash scripts/build-llama-server.sh          # build once
#   bash scripts/build-llama-server.sh --force  # rebuild
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${LLAMA_SERVER_DIR:-$root/.cache/llama-server}"
bundle="$root/node_modules/node-llama-cpp/llama/gitRelease.bundle"
bin="$dir/bin/llama-server"

[[ -f "$bundle" ]] || { echo "build-llama-server: no $bundle (run npm ci first)" >&2; exit 1; }
commit="$(git bundle list-heads "$bundle" | awk '$2 == "HEAD" { print $1 }')"
[[ -n "$commit" ]] || { echo "build-llama-server: the bundle names no HEAD commit" >&2; exit 1; }

if [[ "${1:-}" == "--force" ]]; then
  rm -rf "$dir/build"
elif [[ -x "$bin" && "$(cat "$dir/commit" 2>/dev/null)" == "$commit" ]]; then
  echo "build-llama-server: $bin is up to date (llama.cpp ${commit:0:10})"
  exit 0
fi

# A checkout of another commit (node-llama-cpp was upgraded) is replaced, not built over.
if [[ "$(git -C "$dir/src" rev-parse HEAD 2>/dev/null)" != "$commit" ]]; then
  rm -rf "$dir/src" "$dir/build"
  mkdir -p "$dir"
  git -c advice.detachedHead=false clone --quiet "$bundle" "$dir/src"
  git -C "$dir/src" -c advice.detachedHead=false checkout --quiet "$commit"
fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# GGML_NATIVE=OFF: baseline code (as node-llama-cpp's prebuilt CPU binaries), so a cached binary runs
# on whatever machine restores the cache; GGML_NATIVE=ON in the environment builds for this CPU.
# Static libraries: one self-contained executable. OpenSSL off: the server is reached over plain
# HTTP; no UI assets (none without network).
cmake -S "$dir/src" -B "$dir/build" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE="${GGML_NATIVE:-OFF}" \
  -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_APP=OFF \
  -DLLAMA_BUILD_SERVER=ON \
  -DLLAMA_BUILD_UI=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_OPENSSL=OFF >"$dir/cmake.log" || { cat "$dir/cmake.log" >&2; exit 1; }
cmake --build "$dir/build" --target llama-server -j "${JOBS:-$(nproc)}"

mkdir -p "$dir/bin"
cp "$dir/build/bin/llama-server" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "$commit" >"$dir/commit"
echo "build-llama-server: built $bin (llama.cpp ${commit:0:10})"
