#!/usr/bin/env bash
# Dry run (no GPU) of bench/gpu/mmq-sweep.sh and run.sh's MMQ_VARIANT=best block, with test doubles, so
# that the sweep's shell logic fails here rather than on a lent GPU (test/gpu-sweep.test.ts runs it):
#   bash test/gpu-sweep/harness.sh            # every scenario
#   bash test/gpu-sweep/harness.sh full       # one: full | resume | interrupted | nomv | stalemv | other-model | renumber | failing | mvonly | npl-change
# Reads the repo (ROOT) only; everything it writes is under $SWEEP_DRY_OUT (default /tmp/sweepdry):
# runs/<scenario>, and src/ (the patched llama.cpp source, scripts/build-ggml-cuda.sh --source-only).
# Test doubles: fakebin/ (ninja nvcc fake-link cuobjdump nvidia-smi, on PATH), fakebin-bin/
# (test-backend-ops llama-batched-bench, copied into $BIN). SWEEP_DRY_GIT_CHECK=1 also checks that the
# repo's git status did not change (by hand: other test files may write ignored files meanwhile).
set -uo pipefail
FAKES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
H=${SWEEP_DRY_OUT:-/tmp/sweepdry}
ROOT=${ROOT:-$(cd "$FAKES/../.." && pwd)}
SRC=${SRC:-$H/src/src}
[[ -f $SRC/ggml/src/ggml-cuda/mmvq.cu ]] ||
  SRC=$(GGML_CUDA_DIR=$H/src bash "$ROOT/scripts/build-ggml-cuda.sh" --source-only | tail -1)
export PATH="$FAKES/fakebin:$PATH"
PASS=0 FAIL=0
ok() { echo "  PASS $*"; PASS=$((PASS + 1)); }
bad() { echo "  FAIL $*"; FAIL=$((FAIL + 1)); }
check() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }
MMQ_DEFAULT="o6j16:128:6:64:16 o5up:128:6:64:8:128:5:64"
MV_DEFAULT="mv4r2:4:2 mv2r4:2:4"
STAMP='2020-01-02 03:04:05.123456789'

# check_variant NAME OBJECT DEFS_RE MARKER ORIGINAL NPL: the variant's object and library, the -D options
# it was compiled with on the edited source, its library holding its object (MARKER) and not the
# original one, and its bench at NPL sequences on its own library.
check_variant() {
  local name=$1 obj=$2 defs=$3 marker=$4 orig=$5 npl=$6
  check "$name: $obj + library" test -f "$SW/$name/$obj" -a -f "$SW/$name/libggml-cuda.so"
  check "$name: compiled with $defs on the edited source" bash -c "grep -q 'edited=[1-9].*$defs' '$SW/$name/$obj'"
  check "$name: library has its object, not the original $orig" \
    bash -c "grep -q $marker '$SW/$name/libggml-cuda.so' && ! grep -q 'ORIGINAL OBJECT $orig' '$SW/$name/libggml-cuda.so'"
  check "$name: benched with -npl $npl" has "$FAKELOG/bb.log" "$SW/$name/bin/llama-batched-bench .* -npl $npl\$"
  check "$name: bench.txt has rows" test -s "$SW/$name/bench.txt"
  check "$name: benched its own library (fake speed factor != 1)" \
    bash -c "grep '$SW/$name/bin/llama-batched-bench ' '$FAKELOG/bb.log' | grep -qv ' f=1 '"
}

# new_tree DIR: a fake llama.cpp tree with a "built" library (fake link of fake objects).
new_tree() {
  D=$1
  rm -rf "$D" && mkdir -p "$D"
  export FAKELOG=$D/fakelog WORK=$D/gpuwork
  mkdir -p "$FAKELOG" "$WORK"
  LCPP=$WORK/llama.cpp
  BIN=$LCPP/build/bin
  mkdir -p "$LCPP/ggml/src/ggml-cuda/template-instances" "$BIN"
  cp "$SRC/ggml/src/ggml-cuda/mmq-config-ampere.cuh" "$SRC/ggml/src/ggml-cuda/mmvq.cu" "$LCPP/ggml/src/ggml-cuda/"
  cp "$SRC/ggml/src/ggml-cuda/template-instances/mmq-instance-mxfp4.cu" "$LCPP/ggml/src/ggml-cuda/template-instances/"
  touch -d "$STAMP" "$LCPP/ggml/src/ggml-cuda/mmq-config-ampere.cuh" "$LCPP/ggml/src/ggml-cuda/mmvq.cu"
  local o=$LCPP/build/ggml/src/ggml-cuda/CMakeFiles/ggml-cuda.dir
  mkdir -p "$o/template-instances"
  for f in template-instances/mmq-instance-q4_0 template-instances/mmq-instance-mxfp4 mmvf mmvq; do
    echo "ORIGINAL OBJECT $f" >"$o/$f.cu.o"
  done
  cp "$FAKES/fakebin-bin/"* "$BIN/"
  echo "libggml-base" >"$BIN/libggml-base.so"
  (cd "$LCPP/build" && eval "$(ninja -t commands -s bin/libggml-cuda.so)") || echo "HARNESS: base link failed"
  cp -p "$BIN/libggml-cuda.so" "$BIN/libggml-cuda.so.series"
  : >"$FAKELOG/ninja.log"; : >"$FAKELOG/link.log"
  mkdir -p "$D/nlc"
}

# env_for MODEL_SIZE: what run.sh's top and setup.sh set.
env_for() {
  MODEL_SIZE=${1:-20b}
  MODEL=$D/m/gpt-oss-$MODEL_SIZE-random.gguf
  mkdir -p "$(dirname "$MODEL")"; : >"$MODEL"
  RES="$WORK/results"
  [[ "$MODEL_SIZE" != 20b ]] && RES="$RES-$MODEL_SIZE"
  LOGS="$WORK/logs"
  mkdir -p "$RES" "$LOGS"
  log() { :; }
  # shellcheck source=bench/gpu/sweep-paths.sh
  source "$ROOT/bench/gpu/sweep-paths.sh"
  NLC_CUDA_DIR=$D/nlc
  OUT=$D/out; mkdir -p "$OUT"
}

# sweep LOGNAME [env...]: sources mmq-sweep.sh in a subshell, as run.sh does (budget.sh's log/enough).
# FAIL_AT=REGEX makes `enough` refuse the stages whose name matches (an interrupted call).
sweep() {
  local name=$1; shift
  (
    for a in "$@"; do export "${a?}"; done
    T0=$(date +%s) BUDGET=${RUN_BUDGET_S:-100000} TAG=run RUN_LOG=run.log
    # shellcheck source=/dev/null
    source "$ROOT/bench/gpu/budget.sh"
    if [[ -n ${FAIL_AT:-} ]]; then
      eval "real_$(declare -f enough)"
      enough() { if [[ $2 =~ $FAIL_AT ]]; then log "SKIP $2 (harness FAIL_AT)"; INCOMPLETE=1; return 1; fi; real_enough "$@"; }
    fi
    # setup.sh's restore of a killed sweep's edits (its own file)
    # shellcheck source=bench/gpu/sweep-paths.sh
    source "$ROOT/bench/gpu/sweep-paths.sh"
    # setup.sh: the series' own library back in $BIN (an earlier call's MMQ_VARIANT installed another)
    cp -p "$BIN/libggml-cuda.so.series" "$BIN/libggml-cuda.so"
    cd "$ROOT" || exit 1
    # shellcheck source=/dev/null
    source "$ROOT/bench/gpu/mmq-sweep.sh"
    echo "HARNESS: sweep end, INCOMPLETE=$INCOMPLETE"
  ) >"$D/$name.log" 2>&1
}

# best LOGNAME: run.sh's MMQ_VARIANT block (cut from run.sh as it is now), MMQ_VARIANT=best.
best() {
  local name=$1
  awk '/^if \[\[ -n "\$\{MMQ_VARIANT:-\}" \]\]; then$/ { on = 1 } on { print } on && /^fi$/ { exit }' \
    "$ROOT/bench/gpu/run.sh" >"$D/best-block.sh"
  (
    T0=$(date +%s) BUDGET=100000 TAG=run RUN_LOG=run.log
    # shellcheck source=/dev/null
    source "$ROOT/bench/gpu/budget.sh"
    MMQ_VARIANT=best
    cd "$ROOT" || exit 1
    # shellcheck source=/dev/null
    source "$D/best-block.sh"
    echo "HARNESS: best end"
  ) >"$D/$name.log" 2>&1
  echo "  (best block rc $?; picked: $(cat "$RES/mmq-variant.txt" 2>/dev/null))"
}

mtime() { stat -c '%y' "$1"; }
has() { grep -q -- "$2" "$1" 2>/dev/null; }
hasnt() { ! grep -q -- "$2" "$1" 2>/dev/null; }
nvcc_calls() { wc -l <"$FAKELOG/nvcc.log" 2>/dev/null || echo 0; }

checks_tree_restored() {
  check "mmq-config-ampere.cuh back: content" cmp -s "$CFG" "$SRC/ggml/src/ggml-cuda/mmq-config-ampere.cuh"
  check "mmvq.cu back: content" cmp -s "$MMVQ_CU" "$SRC/ggml/src/ggml-cuda/mmvq.cu"
  check "mmq-config-ampere.cuh back: mtime ($(mtime "$CFG"))" [ "$(date -d "$(mtime "$CFG")" +%s.%N)" == "$(date -d "$STAMP" +%s.%N)" ]
  check "mmvq.cu back: mtime ($(mtime "$MMVQ_CU"))" [ "$(date -d "$(mtime "$MMVQ_CU")" +%s.%N)" == "$(date -d "$STAMP" +%s.%N)" ]
  check "build tree's objects untouched" bash -c "! grep -L ORIGINAL '$LCPP'/build/ggml/src/ggml-cuda/CMakeFiles/ggml-cuda.dir/{template-instances/*,mmvf*,mmvq*}.o | grep -q ."
}

checks_full() { # MMQ list, MMVQ list
  local mmq=$1 mv=$2 SW=$MMQ_SW v name
  check "sweep log has no bash errors" hasnt "$D/sweep1.log" -e 'line [0-9]*:\|command not found\|unbound variable\|syntax error'
  check "\$RES/mmq-sweep.md written" test -s "$RES/mmq-sweep.md"
  check "report: MMQ section + picked" bash -c "grep -q '### MXFP4 kernel launch configurations' '$RES/mmq-sweep.md' && grep -q '^picked (bench/gpu/mmq-best.sh): ' '$RES/mmq-sweep.md'"
  if [[ -n ${mv// /} ]]; then
    check "report: MMVQ section + picked" bash -c "grep -q 'one-column kernel (MMVQ)' '$RES/mmq-sweep.md' && grep -q '^picked (bench/gpu/mmq-best.sh, BEST_TAG=-mv): ' '$RES/mmq-sweep.md'"
  else
    check "report: no MMVQ section" hasnt "$RES/mmq-sweep.md" 'The one-column kernel (MMVQ)'
  fi
  check ".complete exists ($(cat "$SW/.complete" 2>/dev/null))" test -f "$SW/.complete"
  if [[ -n ${mv// /} ]]; then
    check ".complete-mv exists ($(cat "$SW/.complete-mv" 2>/dev/null))" test -s "$SW/.complete-mv"
  else
    check ".complete-mv empty or absent (size $(stat -c %s "$SW/.complete-mv" 2>/dev/null))" bash -c "[[ ! -s '$SW/.complete-mv' ]]"
  fi
  for v in $mmq; do
    check_variant "${v%%:*}" mxfp4.o '-DGPTOSS_MXV_NT=' GPTOSS_MXV template-instances/mmq-instance-mxfp4 \
      "${MMQ_SWEEP_NPL:-8,32,64,128,256}"
  done
  for v in $mv; do
    check_variant "${v%%:*}" mmvq.o '-DGPTOSS_MMVQ_NWARPS=[0-9] -DGPTOSS_MMVQ_RPB=[0-9]' GPTOSS_MMVQ mmvq 1
  done
  check "op check: -o MUL_MAT_ID,MUL_MAT_VEC_FUSION -p mxfp4 on every folder" \
    bash -c "! grep -v -- '-b CUDA0 -o MUL_MAT_ID,MUL_MAT_VEC_FUSION -p mxfp4\$' '$FAKELOG/tbo.log' | grep -q . && [[ \$(wc -l <'$FAKELOG/tbo.log') -ge 1 ]]"
  check "base: bench.txt, bench-again.txt" test -s "$SW/base/bench.txt" -a -s "$SW/base/bench-again.txt"
  if [[ -n ${mv// /} ]]; then
    check "base: bench-mv.txt, bench-mv-again.txt" test -s "$SW/base/bench-mv.txt" -a -s "$SW/base/bench-mv-again.txt"
  else
    check "base: no -mv tables" bash -c "! ls '$SW/base/' | grep -q -- bench-mv"
  fi
  checks_tree_restored
}

checks_best() { # expected pick, MMQ pick, MMVQ pick
  local want=$1 v=$2 vm=$3 SW=$MMQ_SW
  check "best block log has no bash errors" hasnt "$D/best1.log" -e 'line [0-9]*:\|command not found\|unbound variable\|syntax error'
  check "picked $want ($(cat "$RES/mmq-variant.txt" 2>/dev/null))" [ "$(cat "$RES/mmq-variant.txt" 2>/dev/null)" == "$want" ]
  check "\$BIN/libggml-cuda.so is the pick's" cmp -s "$BIN/libggml-cuda.so" "$SW/$want/libggml-cuda.so"
  check "node-llama-cpp's copy is the pick's" cmp -s "$D/nlc/libggml-cuda.so" "$SW/$want/libggml-cuda.so"
  if [[ $want == *+* ]]; then
    local lib=$SW/$want/libggml-cuda.so
    check "combined: link used both variants' objects (link.log)" has "$FAKELOG/link.log" "out=$lib\\(\\.tmp\\)\\? ins=.*$SW/$v/mxfp4.o.*$SW/$vm/mmvq.o"
    check "combined: no original mxfp4/mmvq object in it" bash -c "! grep -q -e 'ORIGINAL OBJECT template-instances/mmq-instance-mxfp4' -e 'ORIGINAL OBJECT mmvq' '$lib'"
    check "combined: both objects' contents in it" bash -c "grep -qxF \"\$(cat '$SW/$v/mxfp4.o')\" '$lib' && grep -qxF \"\$(cat '$SW/$vm/mmvq.o')\" '$lib'"
    check "combined: the other objects kept" bash -c "grep -q 'ORIGINAL OBJECT mmvf' '$lib' && grep -q 'ORIGINAL OBJECT template-instances/mmq-instance-q4_0' '$lib'"
  fi
}

run_full() {
  echo "== full: MMQ_VARIANTS=\"$MMQ_DEFAULT\" MMVQ_VARIANTS=\"$MV_DEFAULT\""
  new_tree "$H/runs/full"; env_for 20b
  sweep sweep1 MMQ_VARIANTS="$MMQ_DEFAULT" MMVQ_VARIANTS="$MV_DEFAULT"
  check "nvcc ran once a variant ($(nvcc_calls))" [ "$(nvcc_calls)" -eq 4 ]
  checks_full "$MMQ_DEFAULT" "$MV_DEFAULT"
  best best1
  checks_best "o6j16+mv2r4" o6j16 mv2r4
}

run_resume() {
  echo "== resume: the full run, then the same call again; then again with the report and .complete* removed"
  new_tree "$H/runs/resume"; env_for 20b
  sweep sweep1 MMQ_VARIANTS="$MMQ_DEFAULT" MMVQ_VARIANTS="$MV_DEFAULT"
  best best1
  local n0 b0 t0 l0
  n0=$(nvcc_calls); b0=$(wc -l <"$FAKELOG/bb.log"); t0=$(wc -l <"$FAKELOG/tbo.log"); l0=$(wc -l <"$FAKELOG/link.log")
  cp "$RES/mmq-sweep.md" "$D/report1.md"
  sweep sweep2 MMQ_VARIANTS="$MMQ_DEFAULT" MMVQ_VARIANTS="$MV_DEFAULT"
  best best2
  check "2nd call: no nvcc" [ "$(nvcc_calls)" -eq "$n0" ]
  check "2nd call: no bench, no op check" [ "$(wc -l <"$FAKELOG/bb.log")" -eq "$b0" -a "$(wc -l <"$FAKELOG/tbo.log")" -eq "$t0" ]
  check "2nd call: combined library not relinked" [ "$(wc -l <"$FAKELOG/link.log")" -eq "$l0" ]
  check "2nd call: same pick" [ "$(cat "$RES/mmq-variant.txt")" == "o6j16+mv2r4" ]
  rm -f "$RES/mmq-sweep.md" "$MMQ_SW/.complete" "$MMQ_SW/.complete-mv"
  sweep sweep3 MMQ_VARIANTS="$MMQ_DEFAULT" MMVQ_VARIANTS="$MV_DEFAULT"
  check "3rd call (report removed): no nvcc" [ "$(nvcc_calls)" -eq "$n0" ]
  check "3rd call: no bench, no op check" [ "$(wc -l <"$FAKELOG/bb.log")" -eq "$b0" -a "$(wc -l <"$FAKELOG/tbo.log")" -eq "$t0" ]
  check "3rd call: same report" cmp -s "$RES/mmq-sweep.md" "$D/report1.md"
  checks_tree_restored
}

run_interrupted() {
  echo "== interrupted: 1st call refused at 'mmq sweep mv2r4' (INCOMPLETE), best block waits; 2nd call finishes"
  new_tree "$H/runs/interrupted"; env_for 20b
  sweep sweep0 MMQ_VARIANTS="$MMQ_DEFAULT" MMVQ_VARIANTS="$MV_DEFAULT" FAIL_AT='^mmq sweep mv2r4$'
  check "1st call: INCOMPLETE, no report, no .complete" bash -c "grep -q 'INCOMPLETE=1' '$D/sweep0.log' && [[ ! -f '$RES/mmq-sweep.md' && ! -f '$MMQ_SW/.complete' ]]"
  best best0
  check "1st call: best block waits (INCOMPLETE)" has "$D/best0.log" 'INCOMPLETE: MMQ_VARIANT=best needs the whole sweep'
  local n0; n0=$(nvcc_calls)
  sweep sweep1 MMQ_VARIANTS="$MMQ_DEFAULT" MMVQ_VARIANTS="$MV_DEFAULT"
  check "2nd call: nothing rebuilt" [ "$(nvcc_calls)" -eq "$n0" ]
  check "2nd call: mv2r4 benched once, o6j16 once" bash -c "[[ \$(grep -c 'mv2r4/bin/llama' '$FAKELOG/bb.log') == 1 && \$(grep -c 'o6j16/bin/llama' '$FAKELOG/bb.log') == 1 ]]"
  checks_full "$MMQ_DEFAULT" "$MV_DEFAULT"
  best best1
  checks_best "o6j16+mv2r4" o6j16 mv2r4
}

run_nomv() {
  echo "== nomv: MMVQ_VARIANTS=\"\" (fresh work folder)"
  new_tree "$H/runs/nomv"; env_for 20b
  sweep sweep1 MMQ_VARIANTS="$MMQ_DEFAULT" MMVQ_VARIANTS=""
  check "nvcc: MMQ variants only ($(nvcc_calls))" [ "$(nvcc_calls)" -eq 2 ]
  check "no MMVQ compile" hasnt "$FAKELOG/nvcc.log" 'src=mmvq.cu'
  check "no -npl 1 bench" hasnt "$FAKELOG/bb.log" '-npl 1$'
  checks_full "$MMQ_DEFAULT" ""
  best best1
  checks_best o6j16 o6j16 base
}

run_stalemv() {
  echo "== stalemv: a full sweep, then the report and .complete* removed and the sweep redone with MMVQ_VARIANTS=\"\""
  new_tree "$H/runs/stalemv"; env_for 20b
  sweep sweep0 MMQ_VARIANTS="$MMQ_DEFAULT" MMVQ_VARIANTS="$MV_DEFAULT"
  rm -f "$RES/mmq-sweep.md" "$MMQ_SW/.complete" "$MMQ_SW/.complete-mv"
  sweep sweep1 MMQ_VARIANTS="$MMQ_DEFAULT" MMVQ_VARIANTS=""
  check ".complete-mv empty or absent (size $(stat -c %s "$MMQ_SW/.complete-mv" 2>/dev/null))" bash -c "[[ ! -s '$MMQ_SW/.complete-mv' ]]"
  check "report: no MMVQ section" hasnt "$RES/mmq-sweep.md" 'The one-column kernel (MMVQ)'
  best best1
  checks_best o6j16 o6j16 base
}

run_other_model() {
  echo "== other-model: the 20b sweep, then MODEL_SIZE=120b (libraries and objects reused, benches its own)"
  new_tree "$H/runs/other-model"; env_for 20b
  sweep sweep0 MMQ_VARIANTS="$MMQ_DEFAULT" MMVQ_VARIANTS="$MV_DEFAULT"
  local n0; n0=$(nvcc_calls)
  env_for 120b
  sweep sweep1 MMQ_VARIANTS="$MMQ_DEFAULT" MMVQ_VARIANTS="$MV_DEFAULT"
  check "120b: nothing compiled" [ "$(nvcc_calls)" -eq "$n0" ]
  check "120b: its own sweep folder benched" has "$FAKELOG/bb.log" "mmq-sweep-120b/o6j16/bin/llama-batched-bench"
  checks_full "$MMQ_DEFAULT" "$MV_DEFAULT"
  best best1
  checks_best "o6j16+mv2r4" o6j16 mv2r4
}

run_renumber() {
  echo "== renumber: full run + best; then o6j16 given new numbers (report and .complete* removed), sweep + best again"
  new_tree "$H/runs/renumber"; env_for 20b
  sweep sweep0 MMQ_VARIANTS="$MMQ_DEFAULT" MMVQ_VARIANTS="$MV_DEFAULT"
  best best0
  rm -f "$RES/mmq-sweep.md" "$MMQ_SW/.complete" "$MMQ_SW/.complete-mv"
  local new="o6j16:128:6:64:32 o5up:128:6:64:8:128:5:64"
  sleep 1
  sweep sweep1 MMQ_VARIANTS="$new" MMVQ_VARIANTS="$MV_DEFAULT"
  check "o6j16 rebuilt with JMAX=32" has "$MMQ_SW/o6j16/mxfp4.o" 'GPTOSS_MXV_JMAX=32'
  best best1
  check "installed library has the new o6j16 object (JMAX=32), not the old (JMAX=16)" \
    bash -c "grep -q 'GPTOSS_MXV_JMAX=32' '$BIN/libggml-cuda.so' && ! grep -q 'GPTOSS_MXV_JMAX=16' '$BIN/libggml-cuda.so'"
}

run_failing() {
  echo "== failing: o5up's nvcc fails, mv4r2's link fails"
  new_tree "$H/runs/failing"; env_for 20b
  sweep sweep1 MMQ_VARIANTS="$MMQ_DEFAULT" MMVQ_VARIANTS="$MV_DEFAULT" FAKE_NVCC_FAIL=o5up FAKE_LINK_FAIL=mv4r2
  check "sweep log has no bash errors" hasnt "$D/sweep1.log" -e 'line [0-9]*:\|command not found\|unbound variable\|syntax error'
  check "o5up, mv4r2: build-failed" test -f "$MMQ_SW/o5up/build-failed" -a -f "$MMQ_SW/mv4r2/build-failed"
  check "o5up, mv4r2: logged as failed" bash -c "grep -q 'mmq sweep o5up: build failed' '$D/sweep1.log' && grep -q 'mmq sweep mv4r2: build failed' '$D/sweep1.log'"
  check "o5up, mv4r2: not benched" hasnt "$FAKELOG/bb.log" -e 'o5up/bin' -e 'mv4r2/bin'
  check "report complete, without them" bash -c "test -f '$MMQ_SW/.complete' && ! grep -q -e '#### o5up' -e '#### mv4r2' '$RES/mmq-sweep.md'"
  checks_tree_restored
  best best1
  checks_best "o6j16+mv2r4" o6j16 mv2r4
}

run_mvonly() {
  echo "== mvonly: no MMQ variant 2% faster: the MMVQ pick alone"
  new_tree "$H/runs/mvonly"; env_for 20b
  sweep sweep1 MMQ_VARIANTS="$MMQ_DEFAULT" MMVQ_VARIANTS="$MV_DEFAULT" FAKE_MMQ_SLOW=1
  check "report: MMQ picked base" has "$RES/mmq-sweep.md" '^picked (bench/gpu/mmq-best.sh): base$'
  best best1
  checks_best mv2r4 base mv2r4
}

run_npl_change() {
  echo "== npl-change: full run; then report and .complete* removed and MMQ_SWEEP_NPL=8,32"
  new_tree "$H/runs/npl-change"; env_for 20b
  sweep sweep0 MMQ_VARIANTS="$MMQ_DEFAULT" MMVQ_VARIANTS="$MV_DEFAULT"
  rm -f "$RES/mmq-sweep.md" "$MMQ_SW/.complete" "$MMQ_SW/.complete-mv"
  local n0; n0=$(nvcc_calls)
  sweep sweep1 MMQ_VARIANTS="$MMQ_DEFAULT" MMVQ_VARIANTS="$MV_DEFAULT" MMQ_SWEEP_NPL=8,32
  check "no recompile for a new sequence count list ($(( $(nvcc_calls) - n0 )) nvcc runs)" [ "$(nvcc_calls)" -eq "$n0" ]
  check "base re-benched at -npl 8,32" has "$FAKELOG/bb.log" "$BIN/llama-batched-bench .* -npl 8,32\$"
  check "o6j16 re-benched at -npl 8,32" has "$FAKELOG/bb.log" "$MMQ_SW/o6j16/bin/llama-batched-bench .* -npl 8,32\$"
  check "o6j16's table has the 2 new rows only" [ "$(grep -cE '^\| +128 ' "$MMQ_SW/o6j16/bench.txt")" -eq 2 ]
  check "mv4r2 not re-benched (its counts did not change)" [ "$(grep -c "$MMQ_SW/mv4r2/bin/llama-batched-bench" "$FAKELOG/bb.log")" -eq 1 ]
}

mkdir -p "$H"
before=$(cd "$ROOT" && git status --porcelain | sha256sum)
for s in "${@:-full resume interrupted nomv stalemv other-model renumber failing mvonly npl-change}"; do
  for t in $s; do "run_${t//-/_}"; done
done
after=$(cd "$ROOT" && git status --porcelain | sha256sum)
if [[ ${SWEEP_DRY_GIT_CHECK:-0} == 1 ]]; then
  [[ $before == "$after" ]] && ok "nothing written under $ROOT (git status unchanged)" || bad "git status of $ROOT changed"
fi
echo "== $PASS passed, $FAIL failed (logs: $H/runs/*/{sweep*,best*}.log, fakelog/)"
((FAIL == 0))
