# shellcheck shell=bash
# Sourced by run.sh after setup.sh, on the GPU machine, with MOE_GROUPED_AB=1: patch 0007's kernel
# (MXFP4 MUL_MAT_ID grouped by expert, for a few tokens each; off unless GGML_CUDA_MOE_GROUPED_MAX is
# set) checked and measured against the paths it would replace, in the same build:
#   - test-backend-ops -o MUL_MAT_ID -p mxfp4, with the kernel on up to 64 tokens: every MXFP4 MoE case
#     against the CPU backend (the patch's own gpt-oss cases and setup.sh's);
#   - test-backend-ops perf: the MoE matmul alone at gpt-oss's shapes, off, on up to 64 tokens, the same
#     with 8 and with 16 tokens a pass, with 32 rows a warp (8 tokens by default, and 16), and on up to
#     128 tokens;
#   - llama-batched-bench, off and on, twice each (-npp 128: what the sweeps used), at MOE_GROUPED_NPL.
# The servers run the build's default (off) whatever this finds. Run 9 (docs/benchmarks.md): the
# kernel's first (dp4a) version was correct and slower than MMQ from 16 tokens up.
# Results: $RES/moe-grouped.md (from $WORK/moe-grouped, shared by the queue's lines: checked and timed
# once a machine, the decode limit once a model size).
# Expects what setup.sh sets (BIN, MODEL, MODEL_SIZE, RES, LOGS, WORK) and budget.sh's enough/log.

MG="$WORK/moe-grouped"
mkdir -p "$MG"
MG_NPL=${MOE_GROUPED_NPL:-16,32,64}
MG_ON=GGML_CUDA_MOE_GROUPED_MAX=64

if [[ ! -x "$BIN/test-backend-ops" ]]; then
  log "moe-grouped: no test-backend-ops in $BIN: nothing to check the kernel with"
elif ! grep -q "GGML_CUDA_MOE_GROUPED_MAX" "$BIN/libggml-cuda.so" 2>/dev/null; then
  log "moe-grouped: this build has no patch 0007"
else
  # Each stage writes a .tmp and renames it when whole; a call cut short leaves a .tmp, which the next
  # call starts again from nothing (never appends to).
  if [[ ! -f "$MG/ops.txt" ]] && enough 250 "moe-grouped op check"; then
    log "moe-grouped: test-backend-ops -o MUL_MAT_ID -p mxfp4 ($MG_ON)"
    env "$MG_ON" timeout 240 "$BIN/test-backend-ops" -b CUDA0 -o MUL_MAT_ID -p mxfp4 >"$MG/ops.log" 2>&1
    echo "exit $?" >>"$MG/ops.log"
    { grep -E "tests passed|Backend CUDA0|^exit" "$MG/ops.log"; grep -c "FAIL" "$MG/ops.log" | sed 's/^/FAIL lines: /'; } \
      >"$MG/ops.txt"
    cat "$MG/ops.txt"
    if ! grep -q "^exit 0" "$MG/ops.txt" || ! grep -q "^FAIL lines: 0" "$MG/ops.txt"; then
      log "moe-grouped: the op check FAILED"
      grep FAIL "$MG/ops.log" | head -20
    fi
  fi
  if [[ -f "$MG/ops.txt" && ! -f "$MG/perf.txt" ]] && enough 330 "moe-grouped kernel times"; then
    rm -f "$MG/perf.txt.tmp"
    for v in off on n8 n16 r32 r32n16 max128; do
      case $v in
        off) envs=(GGML_CUDA_MOE_GROUPED_MAX=0) ;;
        on) envs=("$MG_ON") ;;
        n8) envs=("$MG_ON" GGML_CUDA_MOE_GROUPED_NCOLS=8) ;;
        n16) envs=("$MG_ON" GGML_CUDA_MOE_GROUPED_NCOLS=16) ;;
        r32) envs=("$MG_ON" GGML_CUDA_MOE_GROUPED_ROWS=32) ;;
        r32n16) envs=("$MG_ON" GGML_CUDA_MOE_GROUPED_ROWS=32 GGML_CUDA_MOE_GROUPED_NCOLS=16) ;;
        max128) envs=(GGML_CUDA_MOE_GROUPED_MAX=128) ;;
      esac
      log "moe-grouped: test-backend-ops perf, $v"
      echo "== $v ${envs[*]}" >>"$MG/perf.txt.tmp"
      env "${envs[@]}" timeout 45 "$BIN/test-backend-ops" perf -b CUDA0 -o MUL_MAT_ID -p "type_a=mxfp4" 2>&1 |
        grep -E "MUL_MAT_ID.*us/run" >>"$MG/perf.txt.tmp"
    done
    mv "$MG/perf.txt.tmp" "$MG/perf.txt"
    cat "$MG/perf.txt"
  fi
  if [[ -f "$MG/ops.txt" && ! -f "$MG/bench-$MODEL_SIZE.txt" ]] && enough 250 "moe-grouped decode limit"; then
    rm -f "$MG/bench-$MODEL_SIZE.txt.tmp"
    for round in 1 2; do
      for v in off on; do
        max=64; [[ $v == off ]] && max=0
        log "moe-grouped: llama-batched-bench, $v, round $round"
        echo "== $v round $round (GGML_CUDA_MOE_GROUPED_MAX=$max)" >>"$MG/bench-$MODEL_SIZE.txt.tmp"
        GGML_CUDA_MOE_GROUPED_MAX=$max timeout 60 "$BIN/llama-batched-bench" -m "$MODEL" -ngl 99 -fa on \
          -c $((${MG_NPL##*,} * 256 + 256)) -b 2048 -ub 512 -npp 128 -ntg 128 -npl "$MG_NPL" \
          2>"$LOGS/moe-grouped-$v-$round.log" | grep '^|' >>"$MG/bench-$MODEL_SIZE.txt.tmp"
      done
    done
    # Decode tok/s (S_TG, the 8th column) summed over both rounds and every count.
    sums=$(awk -F'|' '/^== /{ v = $0 ~ /^== on/ ? "on" : "off"; next } NF > 9 && $4 + 0 > 0 { s[v] += $9 }
      END { printf "decode tok/s summed over rounds and counts: on %.0f, off %.0f (on/off %.3f)", s["on"], s["off"],
        (s["off"] > 0 ? s["on"] / s["off"] : 0) }' "$MG/bench-$MODEL_SIZE.txt.tmp")
    echo "$sums" >>"$MG/bench-$MODEL_SIZE.txt.tmp"
    mv "$MG/bench-$MODEL_SIZE.txt.tmp" "$MG/bench-$MODEL_SIZE.txt"
    cat "$MG/bench-$MODEL_SIZE.txt"
  fi
  {
    echo "## Patch 0007: MXFP4 MUL_MAT_ID grouped by expert (on = $MG_ON; the build's default is off)"
    echo '```'
    cat "$MG/ops.txt" "$MG/perf.txt" "$MG"/bench-*.txt 2>/dev/null
    echo '```'
  } >"$RES/moe-grouped.md"
fi
