#!/usr/bin/env bash
# Issue 15: several GPUs. Runs ON a machine with N GPUs (nvidia-h200-x4 / -x2 or their H100 kinds),
# from the repo root, as the device tool's command (carry: [".carry"]):
#   bash bench/gpu/multi.sh
# Sources bench/gpu/setup.sh (unpack, build llama.cpp for sm_90a, write the 20b model), then runs its
# stages one after another, each skipped once its results exist, within RUN_BUDGET_S (default 570 s).
# A call that runs out stops between levels or stages and ends with INCOMPLETE: make the same call
# again within ~30 s (the machine stays warm and keeps /tmp/gpuwork) and it goes on.
#
# Stages (STAGES, in this order by default; the issue's items 1 and 2 first):
#   20b-pipeline   our server --gpu-mode pipeline beside llama-server -sm layer, over all GPUs
#   120b-tensor    our server --gpu-mode tensor   beside llama-server -sm tensor
#   120b-pipeline  our server --gpu-mode pipeline beside llama-server -sm layer
#   replicas-20b   our server --gpus 0,..,N-1 (one worker a GPU) against one GPU (--gpu-mode single)
#   20b-tensor     our server --gpu-mode tensor   beside llama-server -sm tensor
#   replicas-120b  as replicas-20b with the 120b (one after the other: two 120b do not fit one GPU)
# Each mode stage: both servers' /health, the seed's test suite (gate --mode seed; suite 1 for 20b,
# 2 for 120b) against both, GPU memory per GPU and server (nvidia-smi), then `bench --compare` at
# LEVELS (A = llama-server, B = ours). The two servers run side by side when two copies fit the GPUs'
# memory, else one after the other (SIDE_BY_SIDE=0|1 forces it). Each replicas stage: both servers'
# /health and memory, `bench --url <one GPU> --compare <replicas>` at REPLICA_LEVELS (B/A = the
# speed-up), /stats (the router's affinity hits and spill-overs), and for 20b an agent replay against
# the replicas (cached_tokens turn by turn: prefix affinity kept). Last, summary.md (the tables of
# docs/gpu.md, "Several GPUs") from bench/gpu/multi-summary.mjs.
#
# Knobs: STAGES, LEVELS ("1:8 8:16 32:32 64:64" = concurrency:requests), REPLICA_LEVELS (default
# "1:8 64:64 256:256" plus N*64 streams; 120b: "1:8 64:64" plus N*64), PARALLEL / OUR_CTX (sequences,
# tokens each; 64 / 1024), PROMPT_TOKENS / MAX_TOKENS (512 / 128), SIDE_BY_SIDE, MODEL (20b GGUF,
# shared with run.sh), MODEL_120B (default /dev/shm/m/...; /tmp/m when /dev/shm has no room),
# NGPUS (default: nvidia-smi's count), RUN_BUDGET_S, GPU_WORK, PORT_BASE (8180), AGENT_CHECK=0 (no
# agent replay). NVLink multicast stays off: NCCL_NVLS_ENABLE=0, TORCH_SYMM_MEM_DISABLE_MULTICAST=1 and
# NVSHMEM_DISABLE_NVLS=1 are exported to every process started here. NCCL=0: build llama.cpp without
# PyTorch's NCCL (used by default when the image has it, for the tensor split's all-reduce).
#
# DRY_RUN=1: the same stages on this CPU machine, to catch mistakes before a GPU lease: no setup.sh;
# the tiny model stands in for both sizes, LLAMA_SERVER_BIN (default .cache/llama-server/bin/llama-server,
# `bash scripts/build-llama-server.sh`) is a CPU llama-server, nvidia-smi is faked for NGPUS (default
# 2) GPUs, levels and lengths are small, and the seed expects gpu_mode "cpu". Every server, gate and
# bench command is the real one.
set -uo pipefail

ROOT=$(pwd)
[[ -f "$ROOT/bench/gpu/multi.sh" ]] || { echo "run from the repo root" >&2; exit 2; }
T0=$(date +%s)
DRY_RUN=${DRY_RUN:-0}
BUDGET=${RUN_BUDGET_S:-570}
((DRY_RUN)) && BUDGET=${RUN_BUDGET_S:-900}
WORK=${GPU_WORK:-/tmp/gpuwork}
((DRY_RUN)) && WORK=${GPU_WORK:-/tmp/gpuwork-dry}
OUT=${OUT:-$ROOT/bench/gpu/out}
LOGS="$WORK/logs"
RES="$WORK/results-multi"
MODELS_DIR="$WORK/models" # the official file names, linked to the random models: `--model 20b` works
mkdir -p "$WORK" "$RES" "$LOGS" "$OUT" "$MODELS_DIR"
exec > >(tee -a "$LOGS/multi.log") 2>&1

# NVLink multicast off, for us and every child (KINDS.md: it can take the host's GPUs out of service).
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1

TAG=multi
RUN_LOG=multi.log
# shellcheck source=bench/gpu/budget.sh
source "$ROOT/bench/gpu/budget.sh"
PIDS=()
# Only this script's own children: a pid that ended long ago may belong to someone else by now.
mine() { [[ "$(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ')" == "$$" ]]; }
cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do mine "$p" && kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if ((rc != 0)); then
    log "FAILED (exit $rc): see the lines above"
  elif ((INCOMPLETE)); then
    log "INCOMPLETE: call again within ~30 s to continue"
  else
    log "COMPLETE"
  fi
  collect
}
trap cleanup EXIT

ALL_STAGES="20b-pipeline 120b-tensor 120b-pipeline replicas-20b 20b-tensor replicas-120b"
STAGES=${STAGES:-$ALL_STAGES}
PORT_BASE=${PORT_BASE:-8180}
((DRY_RUN)) && PORT_BASE=${PORT_BASE:-18180}
OUR_PORT=$PORT_BASE
LLAMA_PORT=$((PORT_BASE + 1))
SINGLE_PORT=$((PORT_BASE + 2))
REPLICAS_PORT=$((PORT_BASE + 3))
if ((DRY_RUN)); then
  LEVELS=${LEVELS:-"1:2 4:4"}
  PARALLEL=${PARALLEL:-4}
  OUR_CTX=${OUR_CTX:-1024}
  PROMPT_TOKENS=${PROMPT_TOKENS:-64}
  MAX_TOKENS=${MAX_TOKENS:-8}
  NGPUS=${NGPUS:-2}
else
  LEVELS=${LEVELS:-"1:8 8:16 32:32 64:64"}
  PARALLEL=${PARALLEL:-64}
  OUR_CTX=${OUR_CTX:-1024} # per sequence: 512-token prompt + template + 128 out
  PROMPT_TOKENS=${PROMPT_TOKENS:-512}
  MAX_TOKENS=${MAX_TOKENS:-128}
  NGPUS=${NGPUS:-$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')}
fi
((NGPUS >= 1)) || { log "no GPU found (nvidia-smi -L); DRY_RUN=1 runs without one"; exit 1; }
GPU_LIST=$(seq -s, 0 $((NGPUS - 1)))
LLAMA_THREADS=()
((DRY_RUN)) && LLAMA_THREADS=(-t 1)

log "start: budget ${BUDGET}s, work $WORK, out $OUT, $NGPUS GPU(s) ($GPU_LIST)$( ((DRY_RUN)) && echo ', DRY RUN on the CPU')"
log "stages: $STAGES (all: $ALL_STAGES; STAGES selects)"
log "knobs: LEVELS='$LEVELS' REPLICA_LEVELS='${REPLICA_LEVELS:-default}' PARALLEL=$PARALLEL OUR_CTX=$OUR_CTX" \
  "PROMPT_TOKENS=$PROMPT_TOKENS MAX_TOKENS=$MAX_TOKENS SIDE_BY_SIDE=${SIDE_BY_SIDE:-auto} AGENT_CHECK=${AGENT_CHECK:-1}"
log "NVLink multicast off: NCCL_NVLS_ENABLE=$NCCL_NVLS_ENABLE TORCH_SYMM_MEM_DISABLE_MULTICAST=$TORCH_SYMM_MEM_DISABLE_MULTICAST NVSHMEM_DISABLE_NVLS=$NVSHMEM_DISABLE_NVLS"

# --- GPU queries (faked in a dry run) -------------------------------------------------------------
# gpu_used: "index,MiB used" per GPU. gpu_apps: "index,process name,MiB" per process and GPU.
if ((DRY_RUN)); then
  gpu_info() {
    echo "index, name, memory.total [MiB], driver_version"
    for ((i = 0; i < NGPUS; i++)); do echo "$i, FAKE GPU (dry run), 81559 MiB, none"; done
  }
  gpu_used() { for ((i = 0; i < NGPUS; i++)); do echo "$i,$((1000 + i))"; done; }
  gpu_apps() { for ((i = 0; i < NGPUS; i++)); do echo "$i,llama-server,$((400 + i))"; echo "$i,node,$((500 + i))"; done; }
  gpu_total_mib() { echo 81559; }
else
  gpu_info() { nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv; }
  gpu_used() { nvidia-smi --query-gpu=index,memory.used --format=csv,noheader,nounits | tr -d ' '; }
  gpu_apps() {
    # compute-apps name GPUs by UUID: map them to indices. Process names survive PID namespaces.
    local map
    map=$(nvidia-smi --query-gpu=index,uuid --format=csv,noheader | tr -d ' ' | tr '\n' ';')
    nvidia-smi --query-compute-apps=gpu_uuid,process_name,used_memory --format=csv,noheader,nounits |
      awk -F', *' -v map="$map" 'BEGIN { n = split(map, rows, ";"); for (i = 1; i <= n; i++) { split(rows[i], f, ","); idx[f[2]] = f[1] } }
        { name = $2; sub(".*/", "", name); print idx[$1] "," name "," $3 }'
  }
  gpu_total_mib() { nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | sort -n | head -1 | tr -d ' '; }
fi
gpu_info | tee "$RES/gpu.csv"
{
  echo "date $(date -u +%FT%TZ)"
  echo "gpus $NGPUS"
  echo "cores $(nproc)"
  echo "git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "dry_run $DRY_RUN"
  echo "levels $LEVELS"
  echo "prompt_tokens $PROMPT_TOKENS"
  echo "max_tokens $MAX_TOKENS"
  echo "parallel $PARALLEL"
  echo "context $OUR_CTX"
  env | grep -E '^(NCCL_NVLS_ENABLE|TORCH_SYMM_MEM_DISABLE_MULTICAST|NVSHMEM_DISABLE_NVLS)='
} >"$RES/env.txt"

# --- set-up: unpack, build llama.cpp, the 20b model (setup.sh, shared with run.sh) ----------------
MODEL_SIZE=20b
MODEL=${MODEL:-/tmp/m/gpt-oss-20b-random.gguf}
if ((DRY_RUN)); then
  LLAMA_SERVER_BIN=${LLAMA_SERVER_BIN:-$ROOT/.cache/llama-server/bin/llama-server}
  BIN=$(dirname "$LLAMA_SERVER_BIN")
  MODEL="$WORK/m/tiny.gguf"
  MODEL_120B="$WORK/m/tiny.gguf"
  if [[ ! -f "$MODEL" ]]; then
    mkdir -p "$WORK/m"
    node --import tsx src/main.ts make-model --size tiny --out "$MODEL" >"$LOGS/make-model.log" 2>&1 ||
      { log "make-model tiny failed"; cat "$LOGS/make-model.log"; exit 1; }
  fi
  [[ -x "$BIN/llama-server" ]] || log "no llama-server at $LLAMA_SERVER_BIN: our server alone"
else
  mkdir -p "$(dirname "$MODEL")"
  # NCCL for llama.cpp's tensor split (its all-reduce between the GPUs): without it llama.cpp uses its
  # own all-reduce on 2 GPUs and a generic fallback ("butterfly") on more. The image's PyTorch carries
  # NCCL as a pip wheel (libnccl.so.2 and nccl.h, no libnccl.so): linked into $WORK/nccl, where
  # llama.cpp's FindNCCL looks (NCCL_ROOT). Only a fresh build picks it up. NCCL=0: none.
  if [[ "${NCCL:-auto}" != 0 && ! -e "$WORK/nccl/lib/libnccl.so.2" && ! -x "$WORK/llama.cpp/build/bin/llama-server" ]]; then
    nccl_so=$(python3 -c 'import glob, os, site
hits = [f for d in site.getsitepackages() for f in glob.glob(os.path.join(d, "nvidia", "**", "libnccl.so.2"), recursive=True)]
print(hits[0] if hits else "")' 2>/dev/null)
    nccl_h=""
    [[ -n "$nccl_so" ]] && nccl_h=$(find "$(dirname "$(dirname "$nccl_so")")" -name nccl.h 2>/dev/null | head -1)
    if [[ -n "$nccl_so" && -n "$nccl_h" ]]; then
      mkdir -p "$WORK/nccl/lib" "$WORK/nccl/include"
      ln -sfn "$nccl_so" "$WORK/nccl/lib/libnccl.so.2"
      ln -sfn "$nccl_so" "$WORK/nccl/lib/libnccl.so"
      for h in "$(dirname "$nccl_h")"/*.h; do ln -sfn "$h" "$WORK/nccl/include/$(basename "$h")"; done
      log "NCCL for llama.cpp's build: $nccl_so"
    else
      log "no NCCL found (PyTorch's wheel): llama.cpp's tensor split uses its own all-reduce"
    fi
  fi
  # NCCL=0 after a build that found it (one that failed, say): configured again from scratch.
  if [[ "${NCCL:-auto}" == 0 ]] && grep -qs "$WORK/nccl" "$WORK/llama.cpp/build/CMakeCache.txt"; then
    log "NCCL=0: llama.cpp is configured and built again without it"
    rm -rf "$WORK/llama.cpp/build"
  fi
  if [[ "${NCCL:-auto}" != 0 && -e "$WORK/nccl/lib/libnccl.so.2" ]]; then
    export NCCL_ROOT="$WORK/nccl"
    export LD_LIBRARY_PATH="$WORK/nccl/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  # shellcheck source=bench/gpu/setup.sh
  source "$ROOT/bench/gpu/setup.sh"
  {
    grep -i "nccl" "$LOGS/build.log" 2>/dev/null | head -5
    echo "libggml-cuda.so links: $(ldd "$BIN/libggml-cuda.so" 2>/dev/null | grep -o 'libnccl[^ ]* => [^ ]*' || echo 'no NCCL')"
  } | tee "$RES/nccl.txt"
  if [[ -z "${MODEL_120B:-}" ]]; then
    # 61 GiB: /dev/shm when it has room (RAM, read back at memory speed), else the disk.
    shm_free=$(df -B1G --output=avail /dev/shm 2>/dev/null | tail -1 | tr -d ' ')
    if ((${shm_free:-0} >= 66)); then MODEL_120B=/dev/shm/m/gpt-oss-120b-random.gguf; else
      MODEL_120B=/tmp/m/gpt-oss-120b-random.gguf
      log "/dev/shm has ${shm_free:-?} GiB free: the 120b goes to $MODEL_120B"
    fi
  fi
fi

model_of() { if [[ $1 == 120b ]]; then echo "$MODEL_120B"; else echo "$MODEL"; fi; }

# The random 120b, written once (~32 s) when a stage needs it; to a temporary name first, so that a
# call cut short leaves no half-written model behind.
ensure_120b() {
  [[ -f "$MODEL_120B" ]] && return 0
  enough 90 "writing the 120b model" || return 1
  mkdir -p "$(dirname "$MODEL_120B")"
  log "writing the random-weight 120b model to $MODEL_120B (log: logs/make-model-120b.log)"
  if node --import tsx src/main.ts make-model --size 120b --out "$MODEL_120B.tmp" >"$LOGS/make-model-120b.log" 2>&1; then
    mv "$MODEL_120B.tmp" "$MODEL_120B"
    log "120b written: $(du -h "$MODEL_120B" | cut -f1)"
  else
    log "make-model 120b FAILED:"; tail -5 "$LOGS/make-model-120b.log"; rm -f "$MODEL_120B.tmp"; return 1
  fi
}

# `--model 20b|120b` finds the official file names in MODELS_DIR (so /health says current_model 20b
# or 120b, as in the seed's procedure): links to the random models. The random 120b is one file; the
# three split names all point at it (llama.cpp reads the split count from the file, which has none).
link_models() {
  ln -sfn "$MODEL" "$MODELS_DIR/gpt-oss-20b-mxfp4.gguf"
  for n in 1 2 3; do ln -sfn "$MODEL_120B" "$MODELS_DIR/gpt-oss-120b-mxfp4-0000$n-of-00003.gguf"; done
}

# --- servers ---------------------------------------------------------------------------------------
# start_llama LOG SPLIT SIZE: llama-server over every GPU with split mode SPLIT; pid in LLAMA_PID.
# OpenAI sampling semantics (top_k 0, no top_p/min_p cut, temperature 1); -c is split across -np
# slots, so each slot has OUR_CTX tokens like ours.
start_llama() {
  LLAMA_PID=""
  [[ -x "$BIN/llama-server" ]] || return 1
  "$BIN/llama-server" -m "$(model_of "$3")" -ngl 99 -fa on -sm "$2" -np "$PARALLEL" -c $((PARALLEL * OUR_CTX)) \
    --port "$LLAMA_PORT" --host 127.0.0.1 --top-k 0 --top-p 1 --min-p 0 --temp 1 "${LLAMA_THREADS[@]}" \
    >"$LOGS/$1.log" 2>&1 &
  LLAMA_PID=$!
  PIDS+=("$LLAMA_PID")
}
# start_ours LOG PORT ARGS...: our server; pid in OURS_PID.
start_ours() {
  local logname=$1 port=$2
  shift 2
  node bin/gpt-oss-server.mjs serve --port "$port" --host 127.0.0.1 --models-dir "$MODELS_DIR" --no-download \
    --context-size "$OUR_CTX" "$@" >"$LOGS/$logname.log" 2>&1 &
  OURS_PID=$!
  PIDS+=("$OURS_PID")
}
# wait_ready NAME URL PATTERN PID [TIMEOUT]: 0 ready, 1 died or never ready, 2 the call's budget ran
# out first (INCOMPLETE: the next call starts it again).
wait_ready() {
  local t=0 limit=${5:-300}
  while ((t < limit)); do
    if curl -sf "$2" 2>/dev/null | grep -q "$3"; then log "$1 ready after ${t}s"; return 0; fi
    kill -0 "$4" 2>/dev/null || { log "$1 died"; return 1; }
    if (($(remaining) < 20)); then
      log "$1 still loading after ${t}s, and the call's budget is spent"
      INCOMPLETE=1
      return 2
    fi
    sleep 2; t=$((t + 2))
  done
  log "$1 not ready after ${t}s"; return 1
}
stop() {
  [[ -n "${1:-}" ]] || return 0
  mine "$1" && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p != "$1" ]] && keep+=("$p"); done
  PIDS=("${keep[@]}")
  return 0
}

# mem_snapshot FILE: every GPU's used memory now.
mem_snapshot() { gpu_used >"$1"; }
# mem_delta BEFORE AFTER OUTFILE: what a server added on each GPU (a server started alone).
mem_delta() {
  awk -F, 'NR == FNR { before[$1] = $2; next } { printf "%s,%d\n", $1, $2 - before[$1] }' "$1" "$2" >"$3"
}
# mem_by_process NAME OUTFILE: per GPU, the memory of the processes called NAME (side-by-side runs).
mem_by_process() {
  gpu_apps | awk -F, -v name="$1" '$2 ~ name { m[$1] += $3 } END { for (g in m) printf "%s,%d\n", g, m[g] }' |
    sort -n >"$2"
}

# seed DIR NAME URL SUITE MODE: the seed's test suite (gate --mode seed) against one server.
seed() {
  local dir=$1 name=$2 url=$3 suite=$4 mode=$5
  [[ -f "$dir/seed-$name.json" ]] && return 0
  local expect=(--expect-gpu-mode "$mode")
  ((DRY_RUN)) && expect=(--expect-gpu-mode cpu)
  log "seed suite $suite against $name ($url)"
  node --import tsx src/main.ts gate --mode seed --suite "$suite" --url "$url" "${expect[@]}" --timeout 120 \
    --json "$dir/seed-$name.json" --markdown "$dir/seed-$name.md" >"$dir/seed-$name.txt" 2>&1
  log "  $(tail -1 "$dir/seed-$name.txt")"
}

# secs N C RATE/CAP: a rough time for N requests at C streams on a server that gives each stream
# RATE tok/s and CAP tok/s in all (prefill and warm-up slack included).
secs() {
  local rate=${3%/*} cap=${3#*/}
  local tps=$((rate * $2 < cap ? rate * $2 : cap))
  echo $(($1 * (MAX_TOKENS + PROMPT_TOKENS / 20) / tps + 5))
}
# Rough speeds (tok/s a stream / in all) for the time checks: one H100's figures (docs/benchmarks.md)
# for ours and llama-server with 20b; the 120b at half; replicas N times the one GPU's total.
OURS_20B=250/1000 LLAMA_20B=130/250 OURS_120B=120/500 LLAMA_120B=60/120

# bench_levels DIR TAG LEVELS SPEED_A SPEED_B ARGS...: one `bench` per level, ARGS = --url A [--compare
# B]; results bench-c<C><TAG>.json. SPEED_*: RATE/CAP as for secs (SPEED_B "0": no B).
bench_levels() {
  local dir=$1 tag=$2 levels=$3 speed_a=$4 speed_b=$5
  shift 5
  local lv c n need
  for lv in $levels; do
    c=${lv%%:*}; n=${lv##*:}
    [[ -f "$dir/bench-c$c$tag.json" ]] && continue
    need=$(($(secs "$n" "$c" "$speed_a") + 15))
    [[ $speed_b != 0 ]] && need=$((need + $(secs "$n" "$c" "$speed_b")))
    ((DRY_RUN)) && need=30
    enough "$need" "bench c=$c$tag in $(basename "$dir")" || return 1
    log "bench c=$c, $n requests$tag: $*"
    # --seed differs per level: a level would otherwise send the previous level's first prompts,
    # which both servers' prefix caches hold.
    node --import tsx src/main.ts bench "$@" --concurrency "$c" --requests "$n" --prompt-tokens "$PROMPT_TOKENS" \
      --max-tokens "$MAX_TOKENS" --temperature 1 --top-p 1 --warmup 1 --seed "$c" --timeout 300 \
      --json "$dir/bench-c$c$tag.json.tmp" --markdown "$dir/bench-c$c$tag.md" >"$dir/bench-c$c$tag.txt" 2>"$dir/bench-c$c$tag.err"
    tail -n +3 "$dir/bench-c$c$tag.txt"
    [[ -f "$dir/bench-c$c$tag.json.tmp" ]] && mv "$dir/bench-c$c$tag.json.tmp" "$dir/bench-c$c$tag.json"
  done
}

# side_by_side SIZE SERVERS: whether SERVERS copies of the model split over every GPU fit at once.
side_by_side() {
  [[ -n "${SIDE_BY_SIDE:-}" ]] && { [[ $SIDE_BY_SIDE == 1 ]]; return; }
  ((DRY_RUN)) && return 0
  local model_mib kv_mib need total
  model_mib=$(($(stat -L -c %s "$(model_of "$1")") / 1048576))
  # KV: 48 KiB a token for 20b (24 layers), 72 KiB for 120b (36), full sliding-window cache.
  kv_mib=$((PARALLEL * OUR_CTX * ($1 == 120b ? 72 : 48) / 1024))
  need=$(($2 * ((model_mib + kv_mib) / NGPUS + 4096)))
  total=$(gpu_total_mib)
  log "memory: $2 x (model $model_mib + KV $kv_mib MiB) / $NGPUS GPUs + 4 GiB each = $need MiB a GPU of $total"
  ((need * 10 < total * 9))
}

# --- a mode stage: our server and llama-server with the same split, over all GPUs -----------------
mode_stage() {
  local stage=$1 size=$2 mode=$3
  local dir="$RES/$stage"
  [[ -f "$dir/done" ]] && { log "$stage: done earlier"; return 0; }
  local load=60 speed=$OURS_20B llama_speed=$LLAMA_20B
  [[ $size == 120b ]] && load=150 && speed=$OURS_120B && llama_speed=$LLAMA_120B
  ((DRY_RUN)) && load=5
  enough $((load + 60)) "stage $stage" || return 1
  mkdir -p "$dir"
  [[ $size == 120b ]] && { ensure_120b || return 1; }
  link_models
  local split=layer suite=1 profile=latency_first
  [[ $mode == tensor ]] && split=tensor
  [[ $size == 120b ]] && suite=2 && profile=quality_first
  # The seed's server commands: --engine custom --profile latency_first|quality_first --model 20b|120b.
  local ours=(--engine custom --profile "$profile" --model "$size" --gpu-mode "$mode" --parallel "$PARALLEL"
    --max-batch-size "$PARALLEL")
  ((DRY_RUN)) && ours+=(--threads 1)
  {
    echo "llama-server http://127.0.0.1:$LLAMA_PORT llama-server -sm $split"
    echo "ours http://127.0.0.1:$OUR_PORT gpt-oss-server --gpu-mode $mode"
  } >"$dir/servers.txt"
  echo "$BIN/llama-server -m $(model_of "$size") -ngl 99 -fa on -sm $split -np $PARALLEL -c $((PARALLEL * OUR_CTX)) --top-k 0 --top-p 1 --min-p 0 --temp 1" >"$dir/commands.txt"
  echo "gpt-oss-server serve --models-dir DIR --no-download --context-size $OUR_CTX ${ours[*]}" >>"$dir/commands.txt"
  local with_llama=1
  [[ -f "$dir/llama-failed" || ! -x "$BIN/llama-server" ]] && with_llama=0
  local together=1
  side_by_side "$size" 2 || together=0
  # One after the other, llama-server's part finished in an earlier call: not loaded again.
  ((!together)) && [[ -f "$dir/llama-done" ]] && with_llama=0
  log "stage $stage: ours --gpu-mode $mode and llama-server -sm $split on $NGPUS GPU(s), $([[ $together == 1 ]] && echo side by side || echo one after the other)"
  mem_snapshot "$dir/mem-before.csv"
  LLAMA_PID=""; OURS_PID=""
  local llama_ok=0 ours_ok=0
  if ((with_llama)); then
    start_llama "$stage-llama-server" "$split" "$size"
    wait_ready llama-server "http://127.0.0.1:$LLAMA_PORT/health" '"ok"' "$LLAMA_PID" $((load * 3))
    local rc=$?
    if ((rc == 2)); then
      stop "$LLAMA_PID"; LLAMA_PID=""
      return 1
    elif ((rc == 0)); then
      llama_ok=1
    else
      log "llama-server -sm $split did not start: our server alone (logs/$stage-llama-server.log)"
      tail -15 "$LOGS/$stage-llama-server.log" | tee "$dir/llama-failed"
      stop "$LLAMA_PID"; LLAMA_PID=""
    fi
  fi
  if ((llama_ok)); then
    : >"$dir/llama-started"
    curl -s "http://127.0.0.1:$LLAMA_PORT/health" >"$dir/health-llama-server.json"
    curl -s "http://127.0.0.1:$LLAMA_PORT/props" | head -c 4000 >"$dir/props-llama-server.json"
    mem_snapshot "$dir/mem-llama.csv"
    mem_delta "$dir/mem-before.csv" "$dir/mem-llama.csv" "$dir/gpu-mem-llama-server.csv"
    seed "$dir" llama-server "http://127.0.0.1:$LLAMA_PORT" "$suite" "$mode"
    if ((!together)); then
      bench_levels "$dir" -llama-server "$LEVELS" "$llama_speed" 0 --url "http://127.0.0.1:$LLAMA_PORT" &&
        : >"$dir/llama-done"
      stop "$LLAMA_PID"; LLAMA_PID=""
      ((INCOMPLETE)) && return 1
      mem_snapshot "$dir/mem-before.csv"
    fi
  fi
  start_ours "$stage-ours" "$OUR_PORT" "${ours[@]}"
  wait_ready "our server" "http://127.0.0.1:$OUR_PORT/health" '"status":"ready"' "$OURS_PID" $((load * 3))
  case $? in
    0) ours_ok=1 ;;
    2) stop "$OURS_PID"; stop "$LLAMA_PID"; OURS_PID=""; LLAMA_PID=""; return 1 ;;
  esac
  if ((ours_ok)); then
    curl -s "http://127.0.0.1:$OUR_PORT/health" >"$dir/health-ours.json"
    grep -o '"msg":"[^"]*engine ready[^"]*"' "$LOGS/$stage-ours.log" | tee "$dir/ours-engine.txt"
    mem_snapshot "$dir/mem-ours.csv"
    if ((together && llama_ok)); then
      # Both loaded: llama-server's share is known from before ours started.
      mem_delta "$dir/mem-llama.csv" "$dir/mem-ours.csv" "$dir/gpu-mem-ours.csv"
      mem_by_process node "$dir/gpu-mem-ours-by-process.csv"
    else
      mem_delta "$dir/mem-before.csv" "$dir/mem-ours.csv" "$dir/gpu-mem-ours.csv"
    fi
    gpu_apps >"$dir/gpu-apps.csv"
    seed "$dir" ours "http://127.0.0.1:$OUR_PORT" "$suite" "$mode"
    if ((together && llama_ok)); then
      bench_levels "$dir" "" "$LEVELS" "$llama_speed" "$speed" --url "http://127.0.0.1:$LLAMA_PORT" --compare "http://127.0.0.1:$OUR_PORT"
    else
      bench_levels "$dir" -ours "$LEVELS" "$speed" 0 --url "http://127.0.0.1:$OUR_PORT"
    fi
    grep -o '"msg":"[^"]*sampling [^"]*"' "$LOGS/$stage-ours.log" | tail -5 >"$dir/ours-step-profile.txt"
    # Which all-reduce the tensor split got (NCCL, llama.cpp's own, or the generic fallback).
    grep -ih "allreduce\|nccl\|butterfly\|split_mode\|meta device" "$LOGS/$stage-ours.log" "$LOGS/$stage-llama-server.log" \
      2>/dev/null | head -20 >"$dir/allreduce.txt"
  else
    # A result too (tensor mode refused, say): recorded, and the stage is not tried again.
    log "our server did not start: logs/$stage-ours.log"
    tail -20 "$LOGS/$stage-ours.log" | tee "$dir/ours-failed"
  fi
  stop "$OURS_PID"; stop "$LLAMA_PID"
  OURS_PID=""; LLAMA_PID=""
  if ((!INCOMPLETE)); then touch "$dir/done"; log "stage $stage done"; fi
}

# --- a replicas stage: one worker a GPU against one GPU --------------------------------------------
replicas_stage() {
  local stage=$1 size=$2
  local dir="$RES/$stage"
  [[ -f "$dir/done" ]] && { log "$stage: done earlier"; return 0; }
  local load=40 speed=$OURS_20B
  [[ $size == 120b ]] && load=150 && speed=$OURS_120B
  ((DRY_RUN)) && load=5
  # The replicas: N times one GPU's total.
  local rep_speed="${speed%/*}/$((${speed#*/} * NGPUS))"
  enough $((load * 2 + 60)) "stage $stage" || return 1
  mkdir -p "$dir"
  [[ $size == 120b ]] && { ensure_120b || return 1; }
  link_models
  local levels
  if [[ -n "${REPLICA_LEVELS:-}" ]]; then levels=$REPLICA_LEVELS; elif ((DRY_RUN)); then levels="1:2 4:4 $((NGPUS * 4)):$((NGPUS * 4))"; else
    levels="1:8 64:64"
    # The same load a GPU as the one GPU at 64 streams (the scaling target's ratio).
    ((NGPUS * 64 != 64)) && levels="$levels $((NGPUS * 64)):$((NGPUS * 64))"
    [[ $size == 20b && $NGPUS -ne 4 ]] && levels="$levels 256:256"
  fi
  local maxc=0 lv c
  for lv in $levels; do c=${lv%%:*}; ((c > maxc)) && maxc=$c; done
  # One GPU: room for every level's streams at once (20b: 256 x 1024 tokens = 12 GiB of KV); the
  # 120b's 61 GiB leave room for 64 on an 80 GB card. Replicas: the largest level spread over them.
  local single_par=$maxc rep_par=$(((maxc + NGPUS - 1) / NGPUS))
  [[ $size == 120b ]] && ((single_par > PARALLEL)) && single_par=$PARALLEL
  ((single_par > 256)) && single_par=256 # --parallel's limit
  ((rep_par < PARALLEL)) && rep_par=$PARALLEL
  local profile=latency_first
  [[ $size == 120b ]] && profile=quality_first
  local common=(--engine custom --profile "$profile" --model "$size")
  ((DRY_RUN)) && common+=(--threads 1)
  local single=("${common[@]}" --gpu-mode single --parallel "$single_par" --max-batch-size "$single_par")
  local replicas=("${common[@]}" --gpus "$GPU_LIST" --parallel "$rep_par" --max-batch-size $((rep_par * NGPUS)))
  {
    echo "single http://127.0.0.1:$SINGLE_PORT gpt-oss-server --gpu-mode single (one GPU)"
    echo "replicas http://127.0.0.1:$REPLICAS_PORT gpt-oss-server --gpus $GPU_LIST (one worker a GPU)"
  } >"$dir/servers.txt"
  {
    echo "gpt-oss-server serve --models-dir DIR --no-download --context-size $OUR_CTX ${single[*]}"
    echo "gpt-oss-server serve --models-dir DIR --no-download --context-size $OUR_CTX ${replicas[*]}"
    echo "levels $levels"
  } >"$dir/commands.txt"
  local together=1
  [[ $size == 120b ]] && together=0
  [[ -n "${SIDE_BY_SIDE:-}" ]] && together=$SIDE_BY_SIDE
  log "stage $stage: $NGPUS replicas (--parallel $rep_par each) against one GPU (--parallel $single_par), levels $levels, $([[ $together == 1 ]] && echo side by side || echo one after the other)"
  local single_pid="" replicas_pid="" single_ok=0 replicas_ok=0
  mem_snapshot "$dir/mem-before.csv"
  if ((!together)); then
    # One after the other: the one GPU's levels first (all but the largest, which needs N GPUs' worth).
    if [[ ! -f "$dir/single-done" ]]; then
      start_ours "$stage-single" "$SINGLE_PORT" "${single[@]}"
      single_pid=$OURS_PID
      wait_ready "one GPU" "http://127.0.0.1:$SINGLE_PORT/health" '"status":"ready"' "$single_pid" $((load * 3))
      local rc=$?
      ((rc == 2)) && { stop "$single_pid"; return 1; }
      if ((rc == 0)); then
        curl -s "http://127.0.0.1:$SINGLE_PORT/health" >"$dir/health-single.json"
        mem_snapshot "$dir/mem-single.csv"
        mem_delta "$dir/mem-before.csv" "$dir/mem-single.csv" "$dir/gpu-mem-single.csv"
        local small=""
        for lv in $levels; do c=${lv%%:*}; ((c <= single_par)) && small="$small $lv"; done
        bench_levels "$dir" -single "$small" "$speed" 0 --url "http://127.0.0.1:$SINGLE_PORT" && touch "$dir/single-done"
      else
        log "one GPU did not start: logs/$stage-single.log (the replicas alone)"
        tail -20 "$LOGS/$stage-single.log" >"$dir/single-failed"
        touch "$dir/single-done"
      fi
      stop "$single_pid"; single_pid=""
      [[ -f "$dir/single-done" ]] || return 1
      mem_snapshot "$dir/mem-before.csv"
    fi
  else
    start_ours "$stage-single" "$SINGLE_PORT" "${single[@]}"
    single_pid=$OURS_PID
    wait_ready "one GPU" "http://127.0.0.1:$SINGLE_PORT/health" '"status":"ready"' "$single_pid" $((load * 3))
    case $? in
      0) single_ok=1 ;;
      2) stop "$single_pid"; return 1 ;;
    esac
    if ((single_ok)); then
      curl -s "http://127.0.0.1:$SINGLE_PORT/health" >"$dir/health-single.json"
      mem_snapshot "$dir/mem-single.csv"
      mem_delta "$dir/mem-before.csv" "$dir/mem-single.csv" "$dir/gpu-mem-single.csv"
      cp "$dir/mem-single.csv" "$dir/mem-before.csv"
    fi
  fi
  start_ours "$stage-replicas" "$REPLICAS_PORT" "${replicas[@]}"
  replicas_pid=$OURS_PID
  wait_ready "replicas" "http://127.0.0.1:$REPLICAS_PORT/health" '"status":"ready"' "$replicas_pid" $((load * 3))
  case $? in
    0) replicas_ok=1 ;;
    2) stop "$replicas_pid"; stop "$single_pid"; return 1 ;;
  esac
  if ((replicas_ok)); then
    curl -s "http://127.0.0.1:$REPLICAS_PORT/health" >"$dir/health-replicas.json"
    grep -o '"msg":"[^"]*replicas of [^"]*"' "$LOGS/$stage-replicas.log" | tee "$dir/replicas-engine.txt"
    mem_snapshot "$dir/mem-replicas.csv"
    mem_delta "$dir/mem-before.csv" "$dir/mem-replicas.csv" "$dir/gpu-mem-replicas.csv"
    gpu_apps >"$dir/gpu-apps.csv"
    if ((together && single_ok)); then
      # A = one GPU, B = the replicas: B/A is the speed-up. Never at once: bench runs A's level, then B's.
      bench_levels "$dir" "" "$levels" "$speed" "$rep_speed" --url "http://127.0.0.1:$SINGLE_PORT" --compare "http://127.0.0.1:$REPLICAS_PORT"
    else
      bench_levels "$dir" -replicas "$levels" "$rep_speed" 0 --url "http://127.0.0.1:$REPLICAS_PORT"
    fi
    # Prefix affinity kept: an agent replay's growing transcripts should find their replica's cache.
    if [[ $size == 20b && "${AGENT_CHECK:-1}" == 1 && ! -f "$dir/agent.json" ]] && ! ((INCOMPLETE)) && enough 60 "agent replay on the replicas"; then
      # Four turns of 64-token tool results: the last prompt (~900 tokens) still fits OUR_CTX 1024.
      local sessions=$((NGPUS * 4)) turns=4
      ((DRY_RUN)) && sessions=$NGPUS
      log "agent replay against the replicas: $sessions sessions x $turns turns"
      node --import tsx src/main.ts bench --scenario agent --url "http://127.0.0.1:$REPLICAS_PORT" --sessions "$sessions" \
        --turns "$turns" --tool-result-tokens 64 --max-tokens 32 --seed 15 --timeout 300 \
        --json "$dir/agent.json.tmp" --markdown "$dir/agent.md" >"$dir/agent.txt" 2>&1 &&
        mv "$dir/agent.json.tmp" "$dir/agent.json"
      tail -n 12 "$dir/agent.txt"
    fi
    curl -s "http://127.0.0.1:$REPLICAS_PORT/stats" >"$dir/stats-replicas.json"
  else
    log "the replicas did not start: logs/$stage-replicas.log"
    tail -20 "$LOGS/$stage-replicas.log" | tee "$dir/replicas-failed"
  fi
  stop "$replicas_pid"; stop "$single_pid"
  if ((!INCOMPLETE)); then touch "$dir/done"; log "stage $stage done"; fi
}

for stage in $STAGES; do
  ((INCOMPLETE)) && break
  case $stage in
    20b-pipeline) mode_stage "$stage" 20b pipeline ;;
    20b-tensor) mode_stage "$stage" 20b tensor ;;
    120b-tensor) mode_stage "$stage" 120b tensor ;;
    120b-pipeline) mode_stage "$stage" 120b pipeline ;;
    replicas-20b) replicas_stage "$stage" 20b ;;
    replicas-120b) replicas_stage "$stage" 120b ;;
    *) log "unknown stage '$stage' (stages: $ALL_STAGES)" ;;
  esac
done

# --- summary ---------------------------------------------------------------------------------------
node bench/gpu/multi-summary.mjs "$RES" >"$RES/summary.md" 2>"$LOGS/summary.err" || {
  log "summary FAILED:"; cat "$LOGS/summary.err"
}
[[ -s "$RES/summary.md" ]] && sed -n '1,60p' "$RES/summary.md"
