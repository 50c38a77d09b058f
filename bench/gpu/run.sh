#!/usr/bin/env bash
# Runs ON the GPU machine, from the repo root, as the device tool's command (carry: [".carry"]):
#   bash bench/gpu/run.sh
# Unpacks what bench/gpu/prepare.sh put in .carry/, builds llama.cpp for Hopper while writing a
# random-weight gpt-oss-20b, starts llama-server and our server on the same GPU, drives both with
# `gpt-oss-server bench --compare` (interleaved, same prompts), then llama-batched-bench (the decode
# limit with no sampling and no HTTP), GPU memory at 64 x 8k context, and llama-bench. Results go to $OUT.
#
# Resumable: work lives in $WORK (/tmp/gpuwork) and every stage is skipped when its result exists.
# A call that runs out of its budget stops between stages and says so; a next call made within ~30 s
# lands on the same warm machine and continues. Env knobs: RUN_BUDGET_S (default 570), LEVELS
# ("1:8 8:16 32:32 64:64" = concurrency:requests), SKIP_EXTRAS=1 (benches only), OUR_EXTRA_ARGS
# (more `serve` flags for our server), PARALLEL / OUR_CTX (sequences, tokens each), MODEL, GPU_WORK,
# SKIP_LLAMA=1 (no llama-server: our server alone), OURS_B_ENV (environment assignments for server B
# only, e.g. GPTOSS_BLOCK_STATS=auto; with OURS_B_ARGS, which may then be a no-op flag such as
# "--core native"), OURS_B_ARGS (a second instance of our server with
# these `serve` flags instead of OUR_EXTRA_ARGS, benched as B against the first as A; implies SKIP_LLAMA=1),
# GATEWAY=1 (B is a gateway, `--engine upstream`, in front of our server A: the same GPU server measured
# directly and through the gateway; implies SKIP_LLAMA=1), GATEWAY=llama (A is llama-server, B a gateway in front
# of it speaking its /completion dialect: llama-server measured directly and through the gateway).
# Each GATEWAY mode keeps its results apart (results-gw1, results-gwllama), so both run on one warm machine.
# MMQ_SWEEP=1 / MMQ_VARIANT (bench/gpu/mmq-sweep.sh: launch configurations of the MoE kernel), LIMIT_NPL
# (the decode limit's sequence counts), RES_TAG (a results folder of its own, for a second set of levels),
# OUT_TOKENS (output tokens a request, default 128, or a uniform range such as 16-511: mixed lengths
# open holes between busy slots, the split steps stream compaction closes; give OUR_CTX room for the top).
# For a dry run without a GPU (fake llama-server etc.): ALLOW_CPU=1, LLAMA_READY (health pattern).
set -uo pipefail

ROOT=$(pwd)
[[ -f "$ROOT/bench/gpu/run.sh" ]] || { echo "run from the repo root" >&2; exit 2; }
T0=$(date +%s)
BUDGET=${RUN_BUDGET_S:-570}
WORK=${GPU_WORK:-/tmp/gpuwork}
OUT=${OUT:-$ROOT/bench/gpu/out}
MODEL_SIZE=${MODEL_SIZE:-20b}
# MODEL_DENSE_TYPE=q8_0 (setup.sh's make-model --dense-type) names a file of its own, so the F16 model of
# another line on a warm machine is neither reused nor overwritten.
MODEL_DENSE_SUFFIX=""
[[ "${MODEL_DENSE_TYPE:-f16}" != f16 ]] && MODEL_DENSE_SUFFIX="-$MODEL_DENSE_TYPE"
MODEL=${MODEL:-/tmp/m/gpt-oss-$MODEL_SIZE-random$MODEL_DENSE_SUFFIX.gguf}
# With BASE_CORE_SRC (a folder with another revision's native/ and scripts/build-native.mjs), server A
# runs that core and server B this one: the same run measures a change to the core before and after.
[[ -n "${BASE_CORE_SRC:-}" && -z "${OURS_B_ARGS:-}" ]] && OURS_B_ARGS="--core native"
LEVELS=${LEVELS:-"1:8 8:16 32:32 64:64"}
PARALLEL=${PARALLEL:-64}
OUR_CTX=${OUR_CTX:-1024}               # per sequence: 512-token prompt + template + 128 out
OUT_TOKENS=${OUT_TOKENS:-128}
OUT_MEAN=$(((${OUT_TOKENS%-*} + ${OUT_TOKENS#*-}) / 2)) # for the time estimates
LLAMA_CTX=$((PARALLEL * OUR_CTX))      # llama-server splits -c across -np slots: the same per slot
OUR_PORT=8080
LLAMA_PORT=8081
OURS_B_PORT=8083
GATEWAY=${GATEWAY:-0}
[[ "$GATEWAY" == 1 ]] && OURS_B_ARGS="${OURS_B_ARGS:-gateway}"
[[ -n "${OURS_B_ARGS:-}" ]] && SKIP_LLAMA=1
SKIP_LLAMA=${SKIP_LLAMA:-0}
RES="$WORK/results"
[[ "$GATEWAY" != 0 ]] && RES="$WORK/results-gw$GATEWAY"
[[ "$MODEL_SIZE" != 20b ]] && RES="$RES-$MODEL_SIZE"
[[ -n "${MMQ_VARIANT:-}" ]] && RES="$RES-mmq-$MMQ_VARIANT"
[[ -n "${RES_TAG:-}" ]] && RES="$RES-$RES_TAG" # e.g. an A/B of two servers of ours on a machine that ran the table
LOGS="$WORK/logs"
mkdir -p "$WORK" "$RES" "$LOGS" "$OUT" "$(dirname "$MODEL")"
# The tee ignores SIGTERM: bench/gpu/queue.sh's timeout sends it to the whole process group, and the
# log must outlive the cleanup below.
exec > >(trap '' TERM; exec tee -a "$LOGS/run.log") 2>&1

TAG=run
RUN_LOG=run.log
# shellcheck source=bench/gpu/budget.sh
source "$ROOT/bench/gpu/budget.sh"
PIDS=()
SERVERS_STARTED=0
# Our servers' logs go into the results folder, appended once a start (a line's levels may span calls,
# each call with its own start), so that a summary holds its own servers' step profiles and not those
# of whichever run started servers last.
save_server_logs() {
  ((SERVERS_STARTED)) || return 0
  SERVERS_STARTED=0
  local f
  for f in ours.log ours-b.log llama-server.log; do
    [[ -f "$LOGS/$f" ]] && { echo "== a start of $(date -u +%FT%TZ)'s call"; cat "$LOGS/$f"; } >>"$RES/$f"
  done
}
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  save_server_logs
  collect
}
trap cleanup EXIT
# A SIGTERM (queue.sh's timeout at the end of a call's budget) ends the run through the cleanup above,
# whole: a second SIGTERM to the process group must not cut it short.
trap 'trap "" TERM INT; exit 143' TERM INT

log "start: budget ${BUDGET}s, work $WORK, out $OUT, results in $RES"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.max.sm --format=csv | tee "$RES/gpu.csv"
nproc

# --- unpack, build llama.cpp, write the model (shared with the other GPU scripts) -----------------
# shellcheck source=bench/gpu/setup.sh
source "$ROOT/bench/gpu/setup.sh"

# --- MMQ_SWEEP=1: launch configurations of the MXFP4 MoE kernel, each built and measured -------------
# (setup.sh has put the series' own libggml-cuda.so back, if an earlier call installed a variant.)
# shellcheck source=bench/gpu/mmq-sweep.sh
[[ "${MMQ_SWEEP:-0}" == 1 ]] && source "$ROOT/bench/gpu/mmq-sweep.sh"

# MMQ_VARIANT=NAME (or best: the sweep's fastest whose test-backend-ops run passed, if it beats the
# base by 2%; bench/gpu/mmq-best.sh, once the sweep is complete; with an MMVQ pick too, the two objects
# linked into one library, folder NAME+MVNAME): that build of the sweep's goes in for every stage after
# this one (both servers, the decode limit, PATCH_AB's "patched").
if [[ -n "${MMQ_VARIANT:-}" ]]; then
  SW=$MMQ_SW
  v=$MMQ_VARIANT
  if [[ $v == best ]]; then
    if [[ ! -f "$SW/.complete" ]]; then
      rm -f "$RES/summary.md" # no stale summary comes back
      log "INCOMPLETE: MMQ_VARIANT=best needs the whole sweep (MMQ_SWEEP=1), which goes on in the next call"
      exit 0
    fi
    # An empty list picks nothing (mmq-best.sh given no names would look at every folder).
    v=base
    mqs=$(cat "$SW/.complete")
    # shellcheck disable=SC2086
    [[ -n ${mqs// /} ]] && v=$(bash "$ROOT/bench/gpu/mmq-best.sh" "$SW" $mqs)
    # The one-column kernel's pick (MMVQ) is another object of the same library: both go in.
    vm=base
    mvs=$(cat "$SW/.complete-mv" 2>/dev/null)
    # shellcheck disable=SC2086
    [[ -n ${mvs// /} ]] && vm=$(BEST_TAG=-mv bash "$ROOT/bench/gpu/mmq-best.sh" "$SW" $mvs)
    if [[ $vm != base && $v == base ]]; then
      v=$vm
    elif [[ $vm != base ]]; then
      both="$v+$vm"
      if [[ ! -f "$SW/$v/mxfp4.o" || ! -f "$SW/$vm/mmvq.o" ]]; then
        log "MMQ_VARIANT=best: no objects to link $both from: $v alone"; vm=base; both=$v
      elif [[ ! -f "$SW/$both/libggml-cuda.so" || "$SW/$v/mxfp4.o" -nt "$SW/$both/libggml-cuda.so" ||
        "$SW/$vm/mmvq.o" -nt "$SW/$both/libggml-cuda.so" ]]; then
        mkdir -p "$SW/$both"
        # shellcheck disable=SC1091 # written by mmq-sweep.sh: OBJ MVOBJ LIB LINK_CMD
        source "$SW/.link.env"
        # shellcheck source=bench/gpu/mmq-variant.sh
        source "$ROOT/bench/gpu/mmq-variant.sh"
        link_library "$SW/$both/libggml-cuda.so" "$SW/$v/mxfp4.o" "$SW/$vm/mmvq.o" >"$SW/$both/build.log" 2>&1 ||
          { log "MMQ_VARIANT=best: linking $both failed: $(tail -3 "$SW/$both/build.log")"; exit 1; }
        # Each object passed its own op check in the sweep; the two together were not timed there.
        log "MMQ_VARIANT=best: $both linked from the two picks (each checked and timed alone in the sweep)"
      fi
      v=$both
    fi
  fi
  if [[ $v != base && ! -f "$SW/$v/libggml-cuda.so" ]]; then
    log "MMQ_VARIANT=$v: the sweep built no such variant"; exit 1
  fi
  log "MMQ_VARIANT=$MMQ_VARIANT: $v"
  [[ $v != base ]] && cp "$SW/$v/libggml-cuda.so" "$BIN/libggml-cuda.so"
  echo "$v" >"$RES/mmq-variant.txt"
  cp "$BIN/libggml-cuda.so" "$NLC_CUDA_DIR/libggml-cuda.so"
fi

# --- MOE_GROUPED_AB=1: patch 0007's grouped MoE kernel (off by default) checked and timed -----------
# shellcheck source=bench/gpu/moe-grouped.sh
[[ "${MOE_GROUPED_AB:-0}" == 1 ]] && source "$ROOT/bench/gpu/moe-grouped.sh"

# --- the sampler alone (with BASE_CORE_SRC): this tree's against the base's, on this host's cores --
if [[ -n "${BASE_CORE_SRC:-}" && ! -f "$RES/sampler-bench.txt" ]]; then
  ROWS=256 THREADS="1 8 14" bash bench/sampler/run.sh "$BASE_CORE_SRC" >"$RES/sampler-bench.txt" 2>&1
  cat "$RES/sampler-bench.txt"
fi

# --- servers -------------------------------------------------------------------------------------
OUR_PID=""
LLAMA_PID=""
OURS_B_PID=""
start_servers() {
  local ours_args=("$@")
  rm -f "$LOGS/ours.log" "$LOGS/ours-b.log" "$LOGS/llama-server.log"
  SERVERS_STARTED=1
  if [[ "$SKIP_LLAMA" != 1 ]]; then
    # OpenAI semantics for the reference: full vocabulary (top_k 0), no top_p/min_p cut, temperature 1.
    "$BIN/llama-server" -m "$MODEL" -ngl 99 -fa on -np "$PARALLEL" -c "$LLAMA_CTX" --port "$LLAMA_PORT" \
      --host 127.0.0.1 --top-k 0 --top-p 1 --min-p 0 --temp 1 >"$LOGS/llama-server.log" 2>&1 &
    LLAMA_PID=$!
    PIDS+=("$LLAMA_PID")
  fi
  if [[ -n "${OURS_B_ARGS:-}" && "$GATEWAY" != 1 ]]; then
    # shellcheck disable=SC2086
    env ${OURS_B_ENV:-} node bin/gpt-oss-server.mjs serve --model "$MODEL" --parallel "$PARALLEL" --context-size "$OUR_CTX" \
      --max-batch-size "$PARALLEL" --port "$OURS_B_PORT" --host 127.0.0.1 --gpu-mode single $OURS_B_ARGS \
      >"$LOGS/ours-b.log" 2>&1 &
    OURS_B_PID=$!
    PIDS+=("$OURS_B_PID")
  fi
  # GATEWAY=llama: "ours" is the gateway in front of llama-server, started once llama-server serves.
  [[ "$GATEWAY" == llama ]] && return 0
  GPTOSS_NATIVE_CORE="${BASE_CORE:-$ROOT/native/build/gptoss_core.node}" \
    node bin/gpt-oss-server.mjs serve --model "$MODEL" --parallel "$PARALLEL" --context-size "$OUR_CTX" \
    --max-batch-size "$PARALLEL" --port "$OUR_PORT" --host 127.0.0.1 --gpu-mode single "${ours_args[@]}" \
    >"$LOGS/ours.log" 2>&1 &
  OUR_PID=$!
  PIDS+=("$OUR_PID")
}
wait_ready() { # NAME URL PATTERN PID
  local t=0
  while ((t < 240)); do
    if curl -sf "$2" 2>/dev/null | grep -q "$3"; then log "$1 ready after ${t}s"; return 0; fi
    kill -0 "$4" 2>/dev/null || { log "$1 died"; return 1; }
    sleep 2; t=$((t + 2))
  done
  log "$1 not ready after ${t}s"; return 1
}
stop() { [[ -n "${1:-}" ]] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; }

# concurrency:requests levels still to measure
todo=()
for lv in $LEVELS; do [[ -f "$RES/bench-c${lv%%:*}.json" ]] || todo+=("$lv"); done
if ((${#todo[@]} > 0)) && enough 60 "servers"; then
  log "starting llama-server (:$LLAMA_PORT) and our server (:$OUR_PORT)"
  # shellcheck disable=SC2086
  start_servers ${OUR_EXTRA_ARGS:-}
  A_OK=0; B_OK=0; OB_OK=0
  if [[ "$SKIP_LLAMA" != 1 ]]; then
    wait_ready llama-server "http://127.0.0.1:$LLAMA_PORT/health" "${LLAMA_READY:-\"ok\"}" "$LLAMA_PID" && A_OK=1
  fi
  if [[ "$GATEWAY" == llama ]]; then
    node bin/gpt-oss-server.mjs serve --engine upstream --upstream "http://127.0.0.1:$LLAMA_PORT#dialect=llama-server" \
      --upstream-parallel "$PARALLEL" --max-batch-size "$PARALLEL" --port "$OUR_PORT" --host 127.0.0.1 \
      >"$LOGS/ours.log" 2>&1 &
    OUR_PID=$!
    PIDS+=("$OUR_PID")
    ALLOW_CPU=1 # the gateway itself reports no GPU: llama-server behind it has one
  fi
  wait_ready "our server" "http://127.0.0.1:$OUR_PORT/health" '"status":"ready"' "$OUR_PID" && B_OK=1
  if [[ "$GATEWAY" == 1 ]]; then
    # The gateway reads its upstream's model at start: only once A serves it.
    node bin/gpt-oss-server.mjs serve --engine upstream --upstream "http://127.0.0.1:$OUR_PORT" \
      --upstream-parallel "$PARALLEL" --max-batch-size "$PARALLEL" --port "$OURS_B_PORT" --host 127.0.0.1 \
      >"$LOGS/ours-b.log" 2>&1 &
    OURS_B_PID=$!
    PIDS+=("$OURS_B_PID")
  fi
  if [[ -n "$OURS_B_PID" ]]; then
    wait_ready "our server B ($OURS_B_ARGS)" "http://127.0.0.1:$OURS_B_PORT/health" '"status":"ready"' "$OURS_B_PID" && OB_OK=1
    curl -s "http://127.0.0.1:$OURS_B_PORT/health" | head -c 400 >"$RES/ours-b-health.json"
  fi
  curl -s "http://127.0.0.1:$OUR_PORT/health" | head -c 400 >"$RES/ours-health.json"
  grep -o '"msg":"[^"]*engine ready[^"]*"' "$LOGS/ours.log" | tee "$RES/ours-engine.txt"
  if grep -q '"gpu_mode":"cpu"' "$RES/ours-health.json" && [[ "${ALLOW_CPU:-0}" != 1 ]]; then
    log "our server fell back to the CPU: not benchmarking it"; B_OK=0
  fi
  # llama-server on the CPU (its CUDA backend did not load) answers a 512-token prompt in ~10 s: its
  # levels would run into their timeouts for the rest of the call, measuring nothing (run 9's first calls).
  if grep -q "no usable GPU found" "$LOGS/llama-server.log" 2>/dev/null && [[ "${ALLOW_CPU:-0}" != 1 ]]; then
    log "llama-server found no GPU: not benchmarking it"; A_OK=0
  fi
  nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv | tee "$RES/gpu-mem-servers.csv"
  log "pids: llama-server $LLAMA_PID, ours $OUR_PID"

  # Sampling for the profile: GPU use every second; the servers' CPU time every second; our
  # server's busiest threads every 10 s.
  nvidia-smi dmon -s pucm -d 1 -o T >"$RES/dmon.txt" 2>&1 &
  DMON_PID=$!
  PIDS+=("$DMON_PID")
  (while sleep 1; do
    printf '%s %s %s\n' "$(date +%T)" "$(awk '{ print $14 + $15 }' "/proc/$LLAMA_PID/stat" 2>/dev/null || echo -)" \
      "$(awk '{ print $14 + $15 }' "/proc/$OUR_PID/stat" 2>/dev/null || echo -)"
  done >"$RES/cpu-ticks.txt") &
  PIDS+=($!)
  (while sleep 10; do
    echo "== $(date +%T)"
    # the second frame: top's first one averages over the threads' lifetime
    top -H -b -n 2 -d 1 -o %CPU -p "$OUR_PID,$LLAMA_PID" 2>/dev/null | awk '/^ *PID/ { n++ } n == 2' | head -12
  done >"$RES/threads.txt") &
  PIDS+=($!)

  A="--url http://127.0.0.1:$LLAMA_PORT"
  B="--compare http://127.0.0.1:$OUR_PORT"
  ((A_OK == 0)) && A="--url http://127.0.0.1:$OUR_PORT" && B=""
  ((B_OK == 0)) && B=""
  if [[ -n "$OURS_B_PID" ]]; then # ours (A) against ours with OURS_B_ARGS (B)
    A="--url http://127.0.0.1:$OUR_PORT"; B="--compare http://127.0.0.1:$OURS_B_PORT"
    ((B_OK == 0)) && A="--url http://127.0.0.1:$OURS_B_PORT" && B=""
    ((OB_OK == 0)) && B=""
    A_OK=$B_OK; B_OK=$OB_OK
  fi
  if ((A_OK + B_OK > 0)); then
    for lv in "${todo[@]}"; do
      c=${lv%%:*}; n=${lv##*:}
      # rough cost of a level: ours ~200 tok/s a stream up to ~1200 in all (output tokens over the
      # level's wall time, prompts included: 1,172-1,638 at 32-256 streams on an H100 in run 8; its
      # decode rate is higher, but a level's time is this one), llama-server ~250 in all, plus start-up
      # and warm-up slack
      ours_rate=$((200 * c < 1200 ? 200 * c : 1200))
      other_rate=250
      [[ -n "$OURS_B_PID" ]] && other_rate=$ours_rate
      need=$((n * OUT_MEAN / ours_rate + n * OUT_MEAN / other_rate + 15))
      enough "$need" "bench c=$c" || break
      log "bench c=$c, $n requests (A = llama-server, B = ours)"
      # --seed differs per level: one bench process per level would otherwise send every level the
      # same first prompts, and both servers' prefix caches would serve them (seen in the first run).
      if [[ "$GATEWAY" != 0 && -n "$B" ]]; then
        # Through a gateway B's upstream is A itself (or A's engine): the same prompts would come to B
        # from A's prefix cache (seen: 1.85x "faster" through the gateway at c=64). Each target gets
        # its own prompts (seeds c and c+1000), one after the other, B first.
        for target in "${B#--compare } $((c + 1000)) b" "${A#--url } $c a"; do
          read -r url seed tag <<<"$target"
          node --import tsx src/main.ts bench --url "$url" --concurrency "$c" --requests "$n" \
            --prompt-tokens 512 --max-tokens "$OUT_TOKENS" --temperature 1 --top-p 1 --warmup 1 --seed "$seed" \
            --timeout 300 --markdown "$RES/bench-c$c-$tag.md" | tee "$RES/bench-c$c-$tag.txt"
        done
        cat "$RES/bench-c$c-b.md" "$RES/bench-c$c-a.md" >"$RES/bench-c$c.md"
        echo '{}' >"$RES/bench-c$c.json"
        continue
      fi
      # shellcheck disable=SC2086
      node --import tsx src/main.ts bench $A $B --concurrency "$c" --requests "$n" --prompt-tokens 512 \
        --max-tokens "$OUT_TOKENS" --temperature 1 --top-p 1 --warmup 1 --seed "$c" --timeout 300 \
        --json "$RES/bench-c$c.json.tmp" --markdown "$RES/bench-c$c.md" 2> >(while IFS= read -r l; do
          printf '%s %s\n' "$(date +%T)" "$l"; done | tee -a "$RES/bench-progress.txt" >&2) |
        tee "$RES/bench-c$c.txt"
      [[ -f "$RES/bench-c$c.json.tmp" ]] && mv "$RES/bench-c$c.json.tmp" "$RES/bench-c$c.json"
    done
  fi
  nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv >"$RES/gpu-mem-after-bench.csv"
  stop "$DMON_PID"; stop "$OUR_PID"; stop "$LLAMA_PID"; stop "$OURS_B_PID"
  save_server_logs
fi

# --- agent replay (AGENT=1): issue 14's multi-turn scenario, ours against llama-server -------------
# Both with room for the whole transcript (AGENT_CTX tokens a session) and their prefix caches on:
# llama-server keeps each slot's prompt (cache_prompt, its default) and reuses shifted chunks
# (--cache-reuse 256). The random-weight GGUF carries no chat template, so llama-server renders ChatML
# (shorter prompts than harmony: it drops the tools). AGENT_LLAMA_TEMPLATE=1 gives it gpt-oss's own
# (bench/gpu/openai-gpt-oss.jinja, OpenAI's template as llama.cpp ships it) for the same harmony
# prompts, but llama-server's gpt-oss output parser then fails every turn on a random model's output
# (seen on the CPU run, docs/benchmarks.md): that needs real weights.
if [[ "${AGENT:-0}" == 1 && ! -f "$RES/agent.md" ]] && enough 150 "agent replay"; then
  AG_SESS=${AGENT_SESSIONS:-4}; AG_TURNS=${AGENT_TURNS:-15}; AG_CTX=${AGENT_CTX:-16384}
  AG_TEMPLATE=()
  [[ "${AGENT_LLAMA_TEMPLATE:-0}" == 1 ]] && AG_TEMPLATE=(--chat-template-file bench/gpu/openai-gpt-oss.jinja)
  "$BIN/llama-server" -m "$MODEL" -ngl 99 -fa on -np "$AG_SESS" -c $((AG_SESS * AG_CTX)) --port 8091 \
    --host 127.0.0.1 --jinja "${AG_TEMPLATE[@]}" --cache-reuse 256 \
    --top-k 0 --top-p 1 --min-p 0 --temp 1 >"$LOGS/llama-agent.log" 2>&1 &
  LA_PID=$!
  PIDS+=("$LA_PID")
  node bin/gpt-oss-server.mjs serve --model "$MODEL" --parallel "$AG_SESS" --context-size "$AG_CTX" \
    --port 8092 --host 127.0.0.1 --gpu-mode single >"$LOGS/ours-agent.log" 2>&1 &
  OA_PID=$!
  PIDS+=("$OA_PID")
  if wait_ready "llama-server (agent)" "http://127.0.0.1:8091/health" '"ok"' "$LA_PID" &&
    wait_ready "our server (agent)" "http://127.0.0.1:8092/health" '"status":"ready"' "$OA_PID"; then
    log "agent replay: $AG_SESS sessions x $AG_TURNS turns (A = llama-server, B = ours)"
    node --import tsx src/main.ts bench --scenario agent --url http://127.0.0.1:8091 \
      --compare http://127.0.0.1:8092 --turns "$AG_TURNS" --sessions "$AG_SESS" --timeout 300 \
      --json "$RES/agent.json" --markdown "$RES/agent.md.tmp" | tee "$RES/agent.txt" &&
      mv "$RES/agent.md.tmp" "$RES/agent.md"
  fi
  stop "$LA_PID"; stop "$OA_PID"
fi

# --- kernel profile (PROFILE=1): where a decode step's GPU time goes, by kernel -------------------
# Nsight Compute times every kernel of llama-batched-bench (CUDA graphs off, so that each kernel is
# its own launch; caches and clocks left alone) at 1 and 64 sequences. -npp 1: every graph is then a
# decode-shaped ubatch (one token per sequence), at a short context (attention is under-counted; the
# batched-bench runs above measure it at 512). bench/gpu/ncu-summary.py folds the kernels by name.
if [[ "${PROFILE:-0}" == 1 && ! -f "$RES/profile.md" ]] && enough 120 "kernel profile"; then
  NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  for npl in ${PROFILE_NPL:-64 1}; do
    enough 60 "kernel profile at $npl" || break
    log "ncu: llama-batched-bench -npp 1 -ntg 8 -npl $npl"
    GGML_CUDA_DISABLE_GRAPHS=1 timeout 150 "$NCU" --clock-control none --cache-control none \
      --metrics gpu__time_duration.sum --csv --print-units base \
      "$BIN/llama-batched-bench" -m "$MODEL" -ngl 99 -fa on -c 4096 -b 2048 -ub 512 \
      -npp 1 -ntg 8 -npl "$npl" >"$RES/ncu-$npl.csv" 2>"$LOGS/ncu-$npl.log"
    log "ncu exit $? ($(wc -l <"$RES/ncu-$npl.csv") lines)"
    python3 bench/gpu/ncu-summary.py "$RES/ncu-$npl.csv" "$npl" >>"$RES/profile.md.tmp" 2>>"$LOGS/ncu-$npl.log"
  done
  [[ -f "$RES/profile.md.tmp" ]] && mv "$RES/profile.md.tmp" "$RES/profile.md" && cat "$RES/profile.md"
fi

# --- patch series before/after (PATCH_AB=1): the decode limit with and without our patches ---------
[[ "${PATCH_AB:-0}" == 1 && -z "$BIN_BASE" ]] && log "SKIP PATCH_AB: LLAMA_PATCHES=0 builds no patched llama.cpp to compare"
if [[ "${PATCH_AB:-0}" == 1 && -n "$BIN_BASE" && ! -f "$RES/patches-ab.txt" ]] && enough 90 "patch before/after"; then
  for round in 1 2; do
    for tag in base patched; do
      bin=$BIN; [[ $tag == base ]] && bin=$BIN_BASE
      log "llama-batched-bench ($tag, round $round)"
      echo "== $tag round $round" >>"$RES/patches-ab.txt.tmp"
      npl=${PATCH_NPL:-1,8,64,256}
      "$bin/llama-batched-bench" -m "$MODEL" -ngl 99 -fa on -c $((${npl##*,} * 640 + 256)) -b 2048 -ub 512 \
        -npp 512 -ntg 128 -npl "$npl" 2>"$LOGS/batched-$tag-$round.log" | grep '^|' >>"$RES/patches-ab.txt.tmp"
    done
  done
  mv "$RES/patches-ab.txt.tmp" "$RES/patches-ab.txt" && cat "$RES/patches-ab.txt"
fi

# --- extras: decode limit, memory at 64 x 8k, llama-bench ----------------------------------------
if [[ "${SKIP_EXTRAS:-0}" != 1 ]]; then
  LIMIT_NPL=${LIMIT_NPL:-1,8,32,64}
  if [[ ! -f "$RES/batched-bench.txt" ]] && enough 60 "llama-batched-bench"; then
    log "llama-batched-bench: 512 in / 128 out, $LIMIT_NPL sequences, no sampling"
    "$BIN/llama-batched-bench" -m "$MODEL" -ngl 99 -fa on -c $((${LIMIT_NPL##*,} * 640 + 256)) -b 2048 -ub 512 \
      -npp 512 -ntg 128 -npl "$LIMIT_NPL" >"$RES/batched-bench.txt.tmp" 2>"$LOGS/batched-bench.log" &&
      mv "$RES/batched-bench.txt.tmp" "$RES/batched-bench.txt"
    cat "$RES/batched-bench.txt" 2>/dev/null || tail -20 "$LOGS/batched-bench.log"
  fi
  if [[ ! -f "$RES/gpu-mem-64x8k.csv" ]] && enough 60 "memory at 64 x 8k"; then
    log "our server at 64 sequences x 8192 tokens: GPU memory"
    node bin/gpt-oss-server.mjs serve --model "$MODEL" --parallel 64 --context-size 8192 --port 8082 ${OUR_EXTRA_ARGS:-} \
      --host 127.0.0.1 --gpu-mode single >"$LOGS/ours-8k.log" 2>&1 &
    P8=$!
    PIDS+=("$P8")
    if wait_ready "our server (64 x 8k)" "http://127.0.0.1:8082/health" '"status":"ready"' "$P8"; then
      nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv | tee "$RES/gpu-mem-64x8k.csv"
      grep -o '"msg":"[^"]*engine ready[^"]*"' "$LOGS/ours-8k.log" | tee -a "$RES/gpu-mem-64x8k.csv"
    fi
    stop "$P8"
  fi
  if [[ ! -f "$RES/llama-bench.txt" ]] && enough 45 "llama-bench"; then
    log "llama-bench pp512 / tg128"
    "$BIN/llama-bench" -m "$MODEL" -ngl 99 -fa 1 -p 512 -n 128 -r 3 >"$RES/llama-bench.txt.tmp" \
      2>"$LOGS/llama-bench.log" && mv "$RES/llama-bench.txt.tmp" "$RES/llama-bench.txt"
    cat "$RES/llama-bench.txt" 2>/dev/null || tail -20 "$LOGS/llama-bench.log"
  fi
fi

# --- summary --------------------------------------------------------------------------------------
{
  echo "# GPU run $(date -u +%FT%TZ)"
  echo
  echo '```'
  cat "$RES/gpu.csv"
  echo '```'
  for lv in $LEVELS; do
    c=${lv%%:*}
    [[ -f "$RES/bench-c$c.md" ]] && { echo; echo "## c=$c"; echo; cat "$RES/bench-c$c.md"; }
  done
  echo; echo "## our servers' step profiles (A: ours.log, B: ours-b.log)"; echo
  for f in ours.log ours-b.log; do
    [[ -f "$RES/$f" ]] && grep -o '"msg":"[^"]*sampling [^"]*"' "$RES/$f" | sed "s/^/$f /"
  done
  for f in mmq-variant.txt mmq-sweep.md moe-grouped.md sampler-bench.txt agent.md profile.md patches-ab.txt; do
    [[ -f "$RES/$f" ]] && { echo; echo "## $f"; echo; cat "$RES/$f"; }
  done
  for f in batched-bench.txt llama-bench.txt gpu-mem-servers.csv gpu-mem-after-bench.csv gpu-mem-64x8k.csv; do
    [[ -f "$RES/$f" ]] && { echo; echo "## $f"; echo; echo '```'; cat "$RES/$f"; echo '```'; }
  done
} >"$RES/summary.md"
if ((INCOMPLETE)); then log "INCOMPLETE: call again within ~30 s to continue"; else log "COMPLETE"; fi
# For bench/gpu/queue.sh: the log's last line goes through the tee, which may not have written it yet.
if [[ -n "${RUN_STATUS_FILE:-}" ]]; then
  if ((INCOMPLETE)); then echo INCOMPLETE; else echo COMPLETE; fi >"$RUN_STATUS_FILE"
fi
