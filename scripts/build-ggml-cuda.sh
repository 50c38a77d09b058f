#!/usr/bin/env bash
# Builds llama.cpp's CUDA backend (libggml-cuda.so) for this machine's GPU, from the llama.cpp source
# node-llama-cpp ships (llama/gitRelease.bundle: the release its binaries were built from; the
# backend interface is not stable across llama.cpp commits), with our patch series on top
# (native/patches/llama.cpp/*.patch, measured in docs/benchmarks.md), and puts it where
# node-llama-cpp loads it. The prebuilt binary has no machine code for sm_90 (H100/H200): see
# docs/gpu.md. Needs the CUDA toolkit, CMake >= 3.24 and a C++17 compiler; no network.
#
#   npm run build:cuda                          # detect the GPU, build, install
#   bash scripts/build-ggml-cuda.sh --arch 90a  # for another machine's GPU (90a: H100/H200)
#   ... --no-patches                            # llama.cpp as released (to compare)
#   ... --source-only                           # prepare the (patched) source, print its folder, build nothing
#   ... --no-install                            # build, leave node_modules alone
#
# Folder: .cache/ggml-cuda (or $GGML_CUDA_DIR): src/, build/, and the installed file's original as
# libggml-cuda.so.prebuilt beside it in node_modules (`npm ci` restores it too). The cmake flags are
# those of bench/gpu/setup.sh, the build every GPU figure in docs/benchmarks.md ran on.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${GGML_CUDA_DIR:-$root/.cache/ggml-cuda}"
bundle="$root/node_modules/node-llama-cpp/llama/gitRelease.bundle"
patch_dir="$root/native/patches/llama.cpp"
target_dir="$root/node_modules/@node-llama-cpp/linux-x64-cuda/bins/linux-x64-cuda"

arch="" patches=1 source_only=0 install=1
while (($# > 0)); do
  case "$1" in
    --arch) arch="${2:?--arch needs a value, e.g. 90a}"; shift 2 ;;
    --no-patches) patches=0; shift ;;
    --source-only) source_only=1; shift ;;
    --no-install) install=0; shift ;;
    -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "build-ggml-cuda: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

[[ -f "$bundle" ]] || { echo "build-ggml-cuda: no $bundle (run npm ci first)" >&2; exit 1; }
commit="$(git bundle list-heads "$bundle" | awk '$2 == "HEAD" { print $1 }')"
[[ -n "$commit" ]] || { echo "build-ggml-cuda: the bundle names no HEAD commit" >&2; exit 1; }

# The source: a clean checkout of the bundle's commit, then the series in name order. git apply
# takes no fuzz, so a series that no longer fits fails here rather than building something else.
series=()
if ((patches)); then
  for p in "$patch_dir"/*.patch; do [[ -f "$p" ]] && series+=("$p"); done
fi
stamp="$commit no-patches"
((${#series[@]} == 0)) || stamp="$commit $(cat "${series[@]}" | sha256sum | cut -c1-16)"
if [[ "$(cat "$dir/src.stamp" 2>/dev/null)" != "$stamp" ]]; then
  rm -rf "$dir/src" "$dir/build" "$dir/src.stamp"
  mkdir -p "$dir"
  git -c advice.detachedHead=false clone --quiet "$bundle" "$dir/src"
  git -C "$dir/src" -c advice.detachedHead=false checkout --quiet "$commit"
  for p in "${series[@]}"; do
    git -C "$dir/src" apply "$p" || { echo "build-ggml-cuda: $(basename "$p") does not apply to llama.cpp ${commit:0:10}" >&2; exit 1; }
    echo "build-ggml-cuda: applied $(basename "$p")"
  done
  echo "$stamp" >"$dir/src.stamp"
fi
if ((source_only)); then
  echo "$dir/src"
  exit 0
fi

if [[ -z "$arch" ]]; then
  command -v nvidia-smi >/dev/null || { echo "build-ggml-cuda: no nvidia-smi: pass --arch (e.g. 90a for H100/H200)" >&2; exit 1; }
  cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')"
  # Hopper's wgmma and the MXFP4 paths need the arch-specific target (90a), not plain 90.
  arch="$cap"; [[ "$cap" == 90 ]] && arch=90a
fi
command -v nvcc >/dev/null || [[ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]] ||
  { echo "build-ggml-cuda: no nvcc (install the CUDA toolkit, or put it on PATH)" >&2; exit 1; }
export PATH="${CUDA_HOME:-/usr/local/cuda}/bin:$PATH"

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# GGML_BACKEND_DL: ggml-cuda as a loadable backend, which is how node-llama-cpp's binaries load it
# (by file name, next to libggml-base.so). GGML_NATIVE must stay off with it (llama.cpp refuses both).
cmake -S "$dir/src" -B "$dir/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" -DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  >"$dir/cmake.log" || { cat "$dir/cmake.log" >&2; exit 1; }
cmake --build "$dir/build" --target ggml-cuda -j "${JOBS:-$(nproc)}"
built="$dir/build/bin/libggml-cuda.so"
[[ -f "$built" ]] || { echo "build-ggml-cuda: the build made no $built" >&2; exit 1; }

if ((install)); then
  [[ -d "$target_dir" ]] || { echo "build-ggml-cuda: no $target_dir (node-llama-cpp's CUDA binaries: npm ci on linux-x64)" >&2; exit 1; }
  [[ -f "$target_dir/libggml-cuda.so.prebuilt" ]] || cp "$target_dir/libggml-cuda.so" "$target_dir/libggml-cuda.so.prebuilt"
  cp "$built" "$target_dir/libggml-cuda.so.tmp" && mv "$target_dir/libggml-cuda.so.tmp" "$target_dir/libggml-cuda.so"
  echo "build-ggml-cuda: installed $target_dir/libggml-cuda.so (sm_$arch, llama.cpp ${commit:0:10}, ${#series[@]} patches)"
else
  echo "build-ggml-cuda: built $built (sm_$arch, llama.cpp ${commit:0:10}, ${#series[@]} patches)"
fi
