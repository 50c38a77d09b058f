# Sourced by run.sh (MMQ_SWEEP=1) after setup.sh, on the GPU machine: launch configurations of
# llama.cpp's MXFP4 MMQ kernel for the small column tiles (J <= 64) that a MoE's experts get in batched
# decoding (patch 0001 picks J for the tokens an expert sees), each built as its own libggml-cuda.so and
# measured against the build of the series (base) in the same call:
#   - test-backend-ops -o MUL_MAT_ID -p mxfp4: every MXFP4 MoE case against the CPU backend;
#   - llama-batched-bench: decode tok/s at MMQ_SWEEP_NPL sequences;
#   - cuobjdump: registers and spills of each kernel (what the occupancy bound costs).
# Why: Nsight Compute (run 3) put mul_mat_q<MXFP4,16> at ~5x its weight-read floor with one 8-warp block
# an SM (occupancy 1): nothing overlaps one block's loads of the weights with its MMA work. More, smaller
# blocks an SM give the SM more loads in flight.
# Only the MXFP4 template instance is recompiled (in parallel, one nvcc each, with -D for the variant),
# then linked with the build's own command into $WORK/mmq-sweep/NAME/; the build tree is left as it was.
# Results: $RES/mmq-sweep.md. Expects what setup.sh sets (LCPP, BIN, MODEL, RES, LOGS, WORK).
# Knobs: MMQ_VARIANTS ("name:threads:occupancy:I ..."; I = 16 rows a warp x warps), MMQ_SWEEP_NPL.

SW="$WORK/mmq-sweep"
MMQ_VARIANTS=${MMQ_VARIANTS:-"w8o2:256:2:128 w4o4:128:4:64 w4o6:128:6:64 w2o8:64:8:32"}
SWEEP_NPL=${MMQ_SWEEP_NPL:-8,32,64,128,256}
CFG="$LCPP/ggml/src/ggml-cuda/mmq-config-ampere.cuh"
mkdir -p "$SW"

# sweep_bench NAME BINDIR: correctness, then speed, into $SW/NAME/.
sweep_bench() {
  local name=$1 bindir=$2
  if [[ ! -f "$SW/$name/ops.txt" ]]; then
    "$bindir/test-backend-ops" -b CUDA0 -o MUL_MAT_ID -p mxfp4 >"$SW/$name/ops.log" 2>&1
    { grep -E "tests passed|Backend CUDA0" "$SW/$name/ops.log"; grep -c "FAIL" "$SW/$name/ops.log" | sed 's/^/FAIL lines: /'; } >"$SW/$name/ops.txt"
  fi
  if [[ ! -f "$SW/$name/bench.txt" ]]; then
    local max=${SWEEP_NPL##*,}
    "$bindir/llama-batched-bench" -m "$MODEL" -ngl 99 -fa on -c $((max * 256 + 256)) -b 2048 -ub 512 \
      -npp 128 -ntg 128 -npl "$SWEEP_NPL" 2>"$SW/$name/bench.log" | grep '^|' >"$SW/$name/bench.txt.tmp" &&
      mv "$SW/$name/bench.txt.tmp" "$SW/$name/bench.txt"
  fi
  log "mmq sweep $name: $(tr '\n' ' ' <"$SW/$name/ops.txt")"
  cat "$SW/$name/bench.txt" 2>/dev/null
}

# Registers, stack and spills of the MXFP4 MMQ kernels (mangled: mul_mat_q<(ggml_type)39, J, fallback>).
sweep_regs() {
  cuobjdump -res-usage "$1" 2>/dev/null | awk '
    /Function _Z9mul_mat_qIL9ggml_type39ELi/ { match($0, /ELi[0-9]+ELb[01]/); k = substr($0, RSTART + 3, RLENGTH - 3); next }
    k != "" && /REG:/ { sub(/^[ \t]+/, ""); print "  J" k ": " $0; k = "" }' | sort -t: -k1,1V | cut -c1-90
}

if [[ ! -f "$RES/mmq-sweep.md" ]] && enough 200 "mmq sweep"; then
  if [[ ! -x "$BIN/test-backend-ops" ]]; then
    log "mmq sweep: no test-backend-ops in $BIN (a machine built before it was a target): skipped"
  else
    cd "$LCPP/build" || exit 1
    OBJ=$(ninja -t targets all | grep -o '^[^:]*mmq-instance-mxfp4\.cu\.o' | head -1)
    LIB=$(ninja -t targets all | grep -o '^[^:]*libggml-cuda\.so' | head -1)
    CC_CMD=$(ninja -t commands "$OBJ" | tail -1)
    LINK_CMD=$(ninja -t commands "$LIB" | tail -1)
    cd "$ROOT" || exit 1
    log "mmq sweep: $OBJ -> $LIB; variants $MMQ_VARIANTS"
    if [[ -z "$OBJ" || "$LINK_CMD" != *" -o $LIB "* || "$LINK_CMD" != *"$OBJ"* ]]; then
      log "mmq sweep: the link command does not name $LIB and $OBJ as expected: skipped"; LINK_CMD=""
    fi
    # The MXFP4 lines for J <= 64 read the launch configuration from macros; without -D they are the
    # values they replace, so the header means what it meant for every other file of the build.
    if [[ ! -f "$SW/.cfg-orig" ]]; then
      cp -p "$CFG" "$SW/.cfg-orig"
    fi
    {
      printf '#ifndef GPTOSS_MXV_NT\n#define GPTOSS_MXV_NT 256\n#define GPTOSS_MXV_OCC 1\n#define GPTOSS_MXV_I 128\n#endif\n'
      sed -E 's/CASE\(GGML_TYPE_MXFP4, 256, 1, 128, +(8|16|24|32|40|48|64),/CASE(GGML_TYPE_MXFP4, GPTOSS_MXV_NT, GPTOSS_MXV_OCC, GPTOSS_MXV_I, \1,/' "$SW/.cfg-orig"
    } >"$CFG"
    log "mmq sweep: $(grep -c GPTOSS_MXV_I, "$CFG") MXFP4 configurations made variable"
    cpids=()
    for v in $MMQ_VARIANTS; do
      IFS=: read -r name nt occ I <<<"$v"
      mkdir -p "$SW/$name"
      [[ -z "$LINK_CMD" || -f "$SW/$name/libggml-cuda.so" ]] && continue
      # The build's own compile and link commands with this variant's object and library in its folder
      # (the object's name is also in the command's -MT/-MF dependency options: all are replaced).
      link=${LINK_CMD//$OBJ/$SW/$name/mxfp4.o}
      link=${link// -o $LIB / -o $SW/$name/libggml-cuda.so.tmp }
      (cd "$LCPP/build" && eval "${CC_CMD//$OBJ/$SW/$name/mxfp4.o} -DGPTOSS_MXV_NT=$nt -DGPTOSS_MXV_OCC=$occ -DGPTOSS_MXV_I=$I" &&
        eval "$link" && mv "$SW/$name/libggml-cuda.so.tmp" "$SW/$name/libggml-cuda.so") >"$SW/$name/build.log" 2>&1 &
      cpids+=($!)
    done
    # The base's numbers while the variants compile (the GPU is idle meanwhile; nvcc uses the CPUs).
    mkdir -p "$SW/base"
    sweep_bench base "$BIN"
    for p in "${cpids[@]}"; do wait "$p"; done
    cp -p "$SW/.cfg-orig" "$CFG" # the build tree as it was (same mtime: ninja sees nothing to do)
    {
      echo "### MXFP4 MMQ launch configurations (J <= 64), $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
      echo
      echo "llama-batched-bench -npp 128 -ntg 128 -npl $SWEEP_NPL; test-backend-ops -o MUL_MAT_ID -p mxfp4"
      echo
      echo "#### base (the series as built: 256 threads, occupancy 1, I 128)"
      echo '```'
      cat "$SW/base/ops.txt" "$SW/base/bench.txt" 2>/dev/null
      sweep_regs "$BIN/libggml-cuda.so"
      echo '```'
    } >"$RES/mmq-sweep.md.tmp"
    for v in $MMQ_VARIANTS; do
      IFS=: read -r name nt occ I <<<"$v"
      enough 45 "mmq sweep $name" || break
      if [[ ! -f "$SW/$name/libggml-cuda.so" ]]; then
        log "mmq sweep $name: build failed: $(tail -3 "$SW/$name/build.log")"
        continue
      fi
      rm -rf "$SW/$name/bin" && cp -a "$BIN" "$SW/$name/bin" && cp "$SW/$name/libggml-cuda.so" "$SW/$name/bin/libggml-cuda.so"
      sweep_bench "$name" "$SW/$name/bin"
      {
        echo "#### $name: $nt threads, occupancy $occ, I $I"
        echo '```'
        cat "$SW/$name/ops.txt" "$SW/$name/bench.txt" 2>/dev/null
        sweep_regs "$SW/$name/libggml-cuda.so"
        echo '```'
      } >>"$RES/mmq-sweep.md.tmp"
    done
    [[ $INCOMPLETE == 0 ]] && mv "$RES/mmq-sweep.md.tmp" "$RES/mmq-sweep.md"
    cat "$RES/mmq-sweep.md"* 2>/dev/null | head -150
  fi
fi
