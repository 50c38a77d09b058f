#!/usr/bin/env bash
# Builds llama.cpp's CUDA backend (libggml-cuda.so) for this machine's GPU, ggml's base library
# (libggml-base.so: the graph scheduler, which patch 0005 changes) and libllama (patch 0006), from
# the llama.cpp source node-llama-cpp ships (llama/gitRelease.bundle: the release its binaries were
# built from; the backend interface is not stable across llama.cpp commits), with our patch series on
# top (native/patches/llama.cpp/*.patch, measured in docs/benchmarks.md), and puts them where
# node-llama-cpp loads them, under its file names (scripts/nlc-names.cmake). The prebuilt binary has
# no machine code for sm_90 (H100/H200): see docs/gpu.md. Needs the CUDA toolkit, CMake >= 3.24 and a
# C++17 compiler; no network.
#
#   npm run build:cuda                          # detect the GPU, build, install
#   bash scripts/build-ggml-cuda.sh --arch 90a  # for another machine's GPU (90a: H100/H200)
#   ... --no-patches                            # llama.cpp as released (to compare)
#   ... --source-only                           # prepare the (patched) source, print its folder, build nothing
#   ... --no-install                            # build, leave node_modules alone
#
# Folder: .cache/ggml-cuda (or $GGML_CUDA_DIR): src/, build/, and each installed file's original as
# NAME.prebuilt beside it in node_modules (`npm ci` restores them too; GGML_CUDA_INSTALL_DIR
# names another folder to install to). The cmake flags are those of bench/gpu/setup.sh, the build
# every GPU figure in docs/benchmarks.md ran on.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${GGML_CUDA_DIR:-$root/.cache/ggml-cuda}"
bundle="$root/node_modules/node-llama-cpp/llama/gitRelease.bundle"
patch_dir="$root/native/patches/llama.cpp"
# Where node-llama-cpp's CUDA binaries are (GGML_CUDA_INSTALL_DIR: elsewhere, e.g. a test's folder).
target_dir="${GGML_CUDA_INSTALL_DIR:-$root/node_modules/@node-llama-cpp/linux-x64-cuda/bins/linux-x64-cuda}"

arch="" patches=1 source_only=0 install=1
while (($# > 0)); do
  case "$1" in
    --arch) arch="${2:?--arch needs a value, e.g. 90a}"; shift 2 ;;
    --no-patches) patches=0; shift ;;
    --source-only) source_only=1; shift ;;
    --no-install) install=0; shift ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; exit 0 ;; # the header comment
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
if [[ ! -d "$dir/src/.git" || "$(cat "$dir/src.stamp" 2>/dev/null)" != "$stamp" ]]; then
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
  caps="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | tr -d ' .' | sort -u | paste -sd ';')" ||
    caps=""
  [[ -n "$caps" ]] || { echo "build-ggml-cuda: nvidia-smi gave no compute capability: pass --arch" >&2; exit 1; }
  # Every kind of GPU present (a machine may mix them); Hopper as 90a, the arch-specific target
  # llama.cpp's own CUDA builds use for it and every GPU figure here ran on.
  arch="${caps//90/90a}"
  echo "build-ggml-cuda: building for sm_$arch (nvidia-smi)"
fi
# The nvcc on PATH, else the toolkit's default place (PATH unchanged when one is found: another
# toolkit in front would switch compilers under an existing build folder).
if ! command -v nvcc >/dev/null; then
  [[ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]] ||
    { echo "build-ggml-cuda: no nvcc (install the CUDA toolkit, or put it on PATH)" >&2; exit 1; }
  export PATH="${CUDA_HOME:-/usr/local/cuda}/bin:$PATH"
fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# A build folder made with another generator (Ninja installed or removed since) is started again.
if [[ -f "$dir/build/CMakeCache.txt" ]] &&
  ! grep -q "^CMAKE_GENERATOR:INTERNAL=${generator[1]:-Unix Makefiles}\$" "$dir/build/CMakeCache.txt"; then
  rm -rf "$dir/build"
fi
# GGML_BACKEND_DL: ggml-cuda as a loadable backend, which is how node-llama-cpp's binaries load it
# (by file name, next to libggml-base.so). GGML_NATIVE must stay off with it (llama.cpp refuses both).
# GGML_OPENMP off: the libggml-base.so installed beside node-llama-cpp's must not need libgomp, which
# theirs does not (a machine without it could not load the CUDA binding at all).
# The names: node-llama-cpp's files carry its release (libllama.cuda.v0.5.0.so, libggml.cuda.v0.5.0.so)
# and no soname version; scripts/nlc-names.cmake gives this build's libraries the same names and
# sonames, so that the installed libllama asks for node-llama-cpp's libggml and this build's base.
# shellcheck source=scripts/nlc-name.sh
source "$root/scripts/nlc-name.sh"
llama_name="$(nlc_name "$target_dir" llama)"
ggml_name="$(nlc_name "$target_dir" ggml)"
if ((install)) && [[ -z "$llama_name" || -z "$ggml_name" ]]; then
  echo "build-ggml-cuda: no libllama.*.so and libggml.*.so of node-llama-cpp's in $target_dir (npm ci on linux-x64)" >&2
  exit 1
fi
cmake -S "$dir/src" -B "$dir/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" -DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DCMAKE_PROJECT_INCLUDE="$root/scripts/nlc-names.cmake" -DGPTOSS_LLAMA_NAME="$llama_name" \
  -DGPTOSS_GGML_NAME="$ggml_name" >"$dir/cmake.log" || { cat "$dir/cmake.log" >&2; exit 1; }
cmake --build "$dir/build" --target ggml-base ggml-cuda llama -j "${JOBS:-$(nproc)}"
built="$dir/build/bin/libggml-cuda.so"
built_base="$dir/build/bin/libggml-base.so"
built_llama="$dir/build/bin/lib${llama_name:-llama}.so"
for f in "$built" "$built_base" "$built_llama"; do
  [[ -f "$f" ]] || { echo "build-ggml-cuda: the build made no $f" >&2; exit 1; }
done
# A library ggml could not load would be installed and then passed over without a word.
# shellcheck source=scripts/cuda-module.sh
source "$root/scripts/cuda-module.sh"
cuda_module_loads "$built" || { echo "build-ggml-cuda: not installing it" >&2; exit 1; }

# install_file BUILT NAME: BUILT (links followed) as NAME in node-llama-cpp's folder, its original kept
# once as NAME.prebuilt.
install_file() {
  [[ -f "$target_dir/$2.prebuilt" ]] || cp "$target_dir/$2" "$target_dir/$2.prebuilt"
  cp -L "$1" "$target_dir/$2.tmp" && mv "$target_dir/$2.tmp" "$target_dir/$2"
}

if ((install)); then
  [[ -d "$target_dir" ]] || { echo "build-ggml-cuda: no $target_dir (node-llama-cpp's CUDA binaries: npm ci on linux-x64)" >&2; exit 1; }
  # All three from one build, under node-llama-cpp's names: its binding loads this libllama (patch
  # 0006) and this libggml-base (0005) by file name, and this libggml-cuda.so and libllama ask for
  # libggml-base.so, so the process holds one copy of ggml's base. (With the prebuilt base, a
  # libggml-cuda.so found its own base through the build folder's RPATH: a second copy, and none once
  # that folder was removed.)
  install_file "$built_base" libggml-base.so
  install_file "$built" libggml-cuda.so
  install_file "$built_llama" "lib$llama_name.so"
  echo "build-ggml-cuda: installed $target_dir/libggml-cuda.so, libggml-base.so and lib$llama_name.so (sm_$arch, llama.cpp ${commit:0:10}, ${#series[@]} patches)"
  echo "build-ggml-cuda: check that it loads: the server's start-up log names the GPU (\"on single (NVIDIA ...)\");"
  echo "  if ggml cannot load this file, node-llama-cpp falls back to its prebuilt one without a word"
else
  echo "build-ggml-cuda: built $built, $built_base and $built_llama (sm_$arch, llama.cpp ${commit:0:10}, ${#series[@]} patches)"
fi
