# Sourced by the GPU scripts (run.sh, and those that reuse its set-up), on the GPU machine, from the
# repo root: unpacks what bench/gpu/prepare.sh carried (Node, node_modules, llama.cpp's source), builds
# the native decode core and llama.cpp for Hopper (with our llama.cpp patch series on top, which
# LLAMA_PATCHES=0 leaves out), writes the random-weight model, and drops the built libggml-cuda.so into
# node-llama-cpp. Every stage is skipped when its result exists (/tmp/gpuwork survives while the
# machine stays warm).
# Expects from the caller: ROOT WORK LOGS MODEL, the functions log / enough / remaining, the array
# PIDS and the flag INCOMPLETE. Sets: BIN (llama.cpp's binaries), LCPP, LD_LIBRARY_PATH, PATH.
# Knobs: MODEL_SIZE (20b, the default, or 120b), BASE_CORE_SRC (a folder holding another revision's
# native/ and scripts/build-native.mjs: built to $WORK/base-core, for before/after runs of the core).

# --- unpack --------------------------------------------------------------------------------------
export PATH="$WORK/node/bin:$PATH"
if [[ ! -x "$WORK/node/bin/node" ]]; then
  mkdir -p "$WORK/node/bin"
  xz -dc .carry/node.xz >"$WORK/node/bin/node" && chmod +x "$WORK/node/bin/node"
fi
log "node $(node --version)"
stamp_now=$(sha256sum .carry/node_modules.tar.xz | cut -c1-16)
if [[ "$(cat node_modules/.gpu-stamp 2>/dev/null)" != "$stamp_now" ]]; then
  rm -rf node_modules
  tar -xJf .carry/node_modules.tar.xz && echo "$stamp_now" >node_modules/.gpu-stamp
fi
if [[ ! -d "$WORK/llama.cpp" ]]; then
  tar -C "$WORK" -xJf .carry/llama.cpp.tar.xz
fi
log "unpacked (llama.cpp $(cat "$WORK/llama.cpp/NLC_SOURCE_COMMIT"))"
# The native decode core (what `npm ci` builds on a user's machine), compiled here: native/build
# is not carried.
if [[ ! -f native/build/gptoss_core.node ]]; then
  if GPTOSS_NATIVE_REQUIRED=1 node scripts/build-native.mjs >"$LOGS/native-build.log" 2>&1; then
    log "native core built: $(tail -1 "$LOGS/native-build.log")"
  else
    log "native core build FAILED (our server falls back to node-llama-cpp):"; tail -20 "$LOGS/native-build.log"
  fi
fi

# BASE_CORE_SRC: another revision's core, for before/after runs (run.sh's server A loads it through
# GPTOSS_NATIVE_CORE). Its build script finds Node-API's headers through node_modules, linked here.
BASE_CORE=""
if [[ -n "${BASE_CORE_SRC:-}" ]]; then
  BASE_CORE="$WORK/base-core/native/build/gptoss_core.node"
  if [[ ! -f "$BASE_CORE" ]]; then
    rm -rf "$WORK/base-core" && mkdir -p "$WORK/base-core" && cp -r "$BASE_CORE_SRC"/. "$WORK/base-core/"
    ln -sfn "$ROOT/node_modules" "$WORK/base-core/node_modules"
    if GPTOSS_NATIVE_REQUIRED=1 node "$WORK/base-core/scripts/build-native.mjs" >"$LOGS/base-core-build.log" 2>&1; then
      log "base core built from $BASE_CORE_SRC ($(cat "$WORK/base-core/REVISION" 2>/dev/null))"
    else
      log "base core build FAILED"; tail -20 "$LOGS/base-core-build.log"; BASE_CORE=""
    fi
  fi
fi

# --- CUDA environment -------------------------------------------------------------------------
CUDA_HOME=${CUDA_HOME:-$(ls -d /usr/local/cuda-13.0 /usr/local/cuda 2>/dev/null | head -1)}
CUDA_LIB="$CUDA_HOME/targets/x86_64-linux/lib"
# node-llama-cpp only picks CUDA when it finds the driver's libnvidia-ml next to the runtime libs.
NVML_DIR=$(dirname "$(ldconfig -p | awk '/libnvidia-ml.so.1/ { print $NF; exit }')" 2>/dev/null)
export LD_LIBRARY_PATH="$CUDA_LIB${NVML_DIR:+:$NVML_DIR}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PATH="$CUDA_HOME/bin:$PATH"
log "CUDA $CUDA_HOME ($(nvcc --version | tail -1)); cmake $(cmake --version | head -1 | cut -d' ' -f3); LD_LIBRARY_PATH=$LD_LIBRARY_PATH"

# --- build llama.cpp (background) and write the model (background) ------------------------------
LCPP="$WORK/llama.cpp"
BIN="$LCPP/build/bin"
# node-llama-cpp's CUDA binaries, where our server loads llama.cpp from; the build names its libraries
# as those are named (scripts/nlc-names.cmake, as npm run build:cuda does), so that the libllama built
# here (patch 0006) can go in beside them.
NLC_CUDA_DIR="node_modules/@node-llama-cpp/linux-x64-cuda/bins/linux-x64-cuda"
# shellcheck source=scripts/nlc-name.sh
source "$ROOT/scripts/nlc-name.sh"
NLC_LLAMA=$(nlc_name "$NLC_CUDA_DIR" llama)
NLC_GGML=$(nlc_name "$NLC_CUDA_DIR" ggml)
[[ -n "$NLC_LLAMA" && -n "$NLC_GGML" ]] || { log "no libllama.*.so / libggml.*.so in $NLC_CUDA_DIR"; exit 1; }
build_llama() {
  cd "$LCPP" || return 1
  # One generic (AVX2-level) CPU backend instead of GGML_CPU_ALL_VARIANTS (GGML_NATIVE cannot be
  # combined with GGML_BACKEND_DL): the CPU code only matters for
  # llama-server's host side here, and 13 variants would cost build minutes. ggml-cuda is built as
  # a loadable backend (GGML_BACKEND_DL) so that the same file can go into node-llama-cpp.
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a \
    -DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS="$LLAMA_TESTS" \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF \
    -DCMAKE_PROJECT_INCLUDE="$ROOT/scripts/nlc-names.cmake" -DGPTOSS_LLAMA_NAME="$NLC_LLAMA" \
    -DGPTOSS_GGML_NAME="$NLC_GGML" &&
    cmake --build build -j16 --target "${LLAMA_TARGETS[@]}"
}
# test-backend-ops (llama.cpp's check of each backend's ops against the CPU's) checks our CUDA patches;
# it compiles beside the CUDA files, in the build's shadow. Only when the carried source has tests/
# (prepare.sh recipe 3 on).
LLAMA_TARGETS=(ggml-cuda llama-server llama-batched-bench llama-bench)
LLAMA_TESTS=OFF
if [[ -f "$LCPP/tests/test-backend-ops.cpp" ]]; then LLAMA_TESTS=ON; LLAMA_TARGETS+=(test-backend-ops); fi
# BUILD_MIN=1: ggml-cuda alone, for our server (~60 s less on a fresh machine: llama-server's C++ tail),
# when a call's device time is short; no llama-server, decode limit, op check or pristine copy then.
if [[ "${BUILD_MIN:-0}" == 1 ]]; then LLAMA_TARGETS=(ggml-cuda llama); LLAMA_TESTS=OFF; SKIP_LLAMA=1; fi
# The kernel sweep's folders and the tree files it edits (put back here if a killed call left them edited).
# shellcheck source=bench/gpu/sweep-paths.sh
source "$ROOT/bench/gpu/sweep-paths.sh"
# test-backend-ops gets gpt-oss's own MoE shapes, to check our patches and the sweep's kernels on
# (llama.cpp's cases miss them): 2880 rows (45 x 64: since patch 0003 the unchecked kernels), 1-256 tokens
# over 32 experts, 4 each (one token: the MMVQ kernel, also with gate and up fused as gpt-oss runs them;
# 8-256: the MMQ column tiles J = 8 to 64 of batched decoding), 128 experts for the 120b; rows that are
# not a multiple of 64 (2848), which still take the bounds-checked ("fallback") kernels; and rows a
# multiple of 128, whose kernels of J = 48 and 64 no other case reaches.
TBO="$LCPP/tests/test-backend-ops.cpp"
if [[ -f "$TBO" ]] && ! grep -q "gpt-oss-server: gpt-oss shapes" "$TBO"; then
  anchor='test_cases.emplace_back(new test_mul_mat_id(GGML_TYPE_MXFP4, GGML_TYPE_F32, 32, 2, false, 2880, 32, 2880));'
  if grep -qF "$anchor" "$TBO"; then
    awk -v anchor="$anchor" '{ print } index($0, anchor) {
      print "    // gpt-oss-server: gpt-oss shapes (bench/gpu/setup.sh)"
      print "    for (int n : {1, 2, 4, 8, 16, 32, 64, 128, 256}) {"
      print "        test_cases.emplace_back(new test_mul_mat_id(GGML_TYPE_MXFP4, GGML_TYPE_F32, 32, 4, false, 2880, n, 2880));"
      print "    }"
      print "    for (int n : {1, 32, 64}) {"
      print "        test_cases.emplace_back(new test_mul_mat_id(GGML_TYPE_MXFP4, GGML_TYPE_F32, 128, 4, false, 2880, n, 2880));"
      print "    }"
      print "    // one token: gate and up fused with their biases and swiglu_oai, as gpt-oss runs them (MMVQ)"
      print "    for (int n_mats : {32, 128}) {"
      print "        test_cases.emplace_back(new test_mul_mat_vec_fusion(GGML_TYPE_MXFP4, GGML_GLU_OP_SWIGLU_OAI, 1, 2880, 2880,"
      print "            true, n_mats, 4, false, true, true));"
      print "    }"
      print "    // rows not a multiple of 64: the bounds-checked kernels (J = 8, 16, 64)"
      print "    for (int n : {8, 64, 256}) {"
      print "        test_cases.emplace_back(new test_mul_mat_id(GGML_TYPE_MXFP4, GGML_TYPE_F32, 32, 4, false, 2848, n, 2880));"
      print "    }"
      print "    // rows a multiple of 128 (no fallback), K long enough for stream-k to join partial tiles: J = 24-64"
      print "    for (int n : {48, 80, 96, 128}) {"
      print "        test_cases.emplace_back(new test_mul_mat_id(GGML_TYPE_MXFP4, GGML_TYPE_F32, 4, 1, false, 512, n, 2880));"
      print "    }"
    }' "$TBO" >"$TBO.tmp" && mv "$TBO.tmp" "$TBO"
  else
    log "test-backend-ops: the MXFP4 anchor case is gone (another llama.cpp?): no gpt-oss shapes added"
  fi
fi
# shellcheck source=scripts/cuda-module.sh
source "$ROOT/scripts/cuda-module.sh"
BUILD_PID=""
if [[ -f "$BIN/libggml-cuda.so" && ( "${BUILD_MIN:-0}" == 1 || ( -x "$BIN/llama-server" && -x "$BIN/llama-bench" ) ) ]]; then
  log "llama.cpp already built"
else
  log "building llama.cpp for sm_90a (log: logs/build.log)"
  (build_llama >"$LOGS/build.log" 2>&1; echo "build exit $?" >>"$LOGS/build.log") &
  BUILD_PID=$!
  PIDS+=("$BUILD_PID")
fi
MODEL_PID=""
if [[ -f "$MODEL" ]]; then
  log "model already written: $MODEL"
else
  log "writing the random-weight ${MODEL_SIZE:-20b} model (log: logs/make-model.log)"
  # MODEL_DENSE_TYPE=q8_0: the attention projections and the output matrix in 8 bits (run.sh's default
  # MODEL then has a name of its own).
  node --import tsx src/main.ts make-model --size "${MODEL_SIZE:-20b}" --out "$MODEL" \
    --dense-type "${MODEL_DENSE_TYPE:-f16}" >"$LOGS/make-model.log" 2>&1 &
  MODEL_PID=$!
  PIDS+=("$MODEL_PID")
fi
while [[ -n "$BUILD_PID$MODEL_PID" ]]; do
  sleep 15
  if [[ -n "$MODEL_PID" ]] && ! kill -0 "$MODEL_PID" 2>/dev/null; then
    wait "$MODEL_PID"; rc=$?
    log "make-model finished (exit $rc): $(tail -c 300 "$LOGS/make-model.log" | tr '\r' '\n' | tail -1)"
    MODEL_PID=""
  fi
  if [[ -n "$BUILD_PID" ]] && ! kill -0 "$BUILD_PID" 2>/dev/null; then
    log "build finished: $(tail -1 "$LOGS/build.log")"
    BUILD_PID=""
  fi
  [[ -n "$BUILD_PID" ]] && log "  build: $(grep -o '^\[[0-9]*/[0-9]*\]' "$LOGS/build.log" | tail -1)"
  if (($(remaining) < 30)); then log "out of time while building"; INCOMPLETE=1; exit 0; fi
done
if [[ ! -f "$BIN/libggml-cuda.so" || ! -f "$MODEL" ]]; then
  log "FAILED: build or model missing"; tail -30 "$LOGS/build.log"; exit 1
fi
ls -la "$MODEL" "$BIN/libggml-cuda.so"
# The pristine library, while $BIN holds it (once the patched build is made, $BIN holds that one,
# checked below when it is built).
if [[ ! -f "$LCPP/.gptoss-built" ]]; then
  cuda_module_loads "$BIN/libggml-cuda.so" || { log "FAILED: the pristine CUDA backend cannot load"; exit 1; }
fi

# Our llama.cpp patch series (native/patches/llama.cpp/*.patch, in name order) on top of the pristine
# build: the build users make (npm run build:cuda), so on by default; LLAMA_PATCHES=0 leaves it out.
# The pristine binaries are kept in $WORK/bin-base (BIN_BASE) first, so that run.sh's PATCH_AB=1 can
# measure before and after in one call; ninja then recompiles only the files the patches touch. (A
# copied binary finds libllama, libggml and libggml-base through the build's RPATH, the patched build's;
# ggml loads ggml-cuda from the binary's own folder: bin-base's is the pristine one. The series' one
# change to ggml-base, patch 0005, only touches graphs computed with an eval callback, and its one change
# to libllama, 0006, only memory updates that copy between streams; llama-batched-bench does neither, so
# PATCH_AB's limits stay before and after the CUDA patches.)
BIN_BASE=""
# The series' fingerprint: .gptoss-patched holds the one applied, .gptoss-built the one built, so a
# warm machine notices a patch edited or added between calls instead of keeping the old one.
SERIES_SUM=$(cat "$ROOT"/native/patches/llama.cpp/*.patch 2>/dev/null | sha256sum | cut -c1-16)
if [[ "${LLAMA_PATCHES:-1}" == 0 && -f "$LCPP/.gptoss-patched" ]]; then
  log "LLAMA_PATCHES=0, but this warm machine's llama.cpp is already patched: rm -rf $WORK to start clean"; exit 1
fi
if [[ "${LLAMA_PATCHES:-1}" == 1 ]]; then
  BIN_BASE="$WORK/bin-base"
  # Copied whole before it is used, so that a call killed mid-copy leaves no half a pristine build.
  if [[ "${BUILD_MIN:-0}" == 1 ]]; then
    BIN_BASE=""
  elif [[ ! -d "$BIN_BASE" ]]; then
    cp -a "$BIN" "$BIN_BASE.tmp" && mv "$BIN_BASE.tmp" "$BIN_BASE"
  fi
  if [[ -f "$LCPP/.gptoss-patched" && "$(cat "$LCPP/.gptoss-patched")" != "$SERIES_SUM" ]]; then
    log "the patch series changed since this warm machine applied it: rm -rf $WORK to start clean"; exit 1
  fi
  if [[ ! -f "$LCPP/.gptoss-patched" ]]; then
    for patch in "$ROOT"/native/patches/llama.cpp/*.patch; do
      [[ -f "$patch" ]] || continue
      log "applying $(basename "$patch")"
      # git apply works outside a repository too; patch(1) where the image has no git
      if command -v git >/dev/null; then (cd "$LCPP" && git apply "$patch"); else patch -d "$LCPP" -p1 --forward --quiet <"$patch"; fi ||
        { log "FAILED to apply $patch"; exit 1; }
    done
    echo "$SERIES_SUM" >"$LCPP/.gptoss-patched"
  fi
  if [[ "$(cat "$LCPP/.gptoss-built" 2>/dev/null)" == "$SERIES_SUM" ]]; then
    log "patched llama.cpp already built"
  elif enough 240 "patched llama.cpp build"; then
    log "building the patched llama.cpp (log: logs/build-patched.log)"
    # CMake first: ggml-cuda's sources are a glob read when CMake configures, so a file a patch adds
    # (0007's mmid-grouped.cu) is built only after it runs again; ninja alone would link the library
    # without it (run 9: an undefined symbol, the CUDA backend not loaded, both servers on the CPU).
    (cd "$LCPP" && cmake -S . -B build && cmake --build build -j16 --target "${LLAMA_TARGETS[@]}") \
      >"$LOGS/build-patched.log" 2>&1 || { log "patched build FAILED"; tail -30 "$LOGS/build-patched.log"; exit 1; }
    cuda_module_loads "$BIN/libggml-cuda.so" || { log "FAILED: the patched CUDA backend cannot load"; exit 1; }
    echo "$SERIES_SUM" >"$LCPP/.gptoss-built"
    log "patched build done: $(grep -c '^\[' "$LOGS/build-patched.log") steps"
  else
    exit 0
  fi
fi

# A variant of the MoE kernel that an earlier call installed (run.sh's MMQ_VARIANT) goes out: the
# series' own build is kept as libggml-cuda.so.series, and every call starts from it.
if [[ -f "$BIN/libggml-cuda.so.series" ]]; then
  cp -p "$BIN/libggml-cuda.so.series" "$BIN/libggml-cuda.so"
else
  cp -p "$BIN/libggml-cuda.so" "$BIN/libggml-cuda.so.series"
fi

# Our server loads llama.cpp through node-llama-cpp's prebuilt CUDA package, whose own
# libggml-cuda.so carries no sm_90 code (prepare.sh leaves it out): the one just built goes in, with
# the same build's libggml-base.so (patch 0005; and one copy of ggml's base in the process) and
# libllama (patch 0006), as scripts/build-ggml-cuda.sh installs them.
# Each through a new file and a rename: a server still running from a killed call keeps the file it
# mapped, and prepare.sh hard-links node-llama-cpp's identical CPU and CUDA files (libggml-base.so).
for lib in libggml-cuda.so libggml-base.so "lib$NLC_LLAMA.so"; do
  cp -L "$BIN/$lib" "$NLC_CUDA_DIR/$lib.tmp" && mv "$NLC_CUDA_DIR/$lib.tmp" "$NLC_CUDA_DIR/$lib" ||
    { log "could not install $BIN/$lib into $NLC_CUDA_DIR (the build made none?)"; exit 1; }
done

