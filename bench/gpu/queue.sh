#!/usr/bin/env bash
# Runs ON the GPU machine, from the repo root: a list of run.sh invocations, one after another, within
# one device call's budget, so that a whole GPU session is one command made again (within ~30 s, the
# machine still warm) until it says COMPLETE.
#   bash bench/gpu/queue.sh FILE      # FILE: one run.sh invocation a line, as environment assignments
#                                     # (VAR=value, quoted where a value has spaces); '#' starts a comment
# Every run.sh stage skips what its results folder already holds, so a call made again passes quickly
# over the finished lines and goes on where the last call stopped. Each line writes its own results
# folder (RES_TAG), where run.sh also keeps its servers' logs. What comes back ($OUT, at most 8
# files): queue.log, summary.md (every line's summary, in order) and results.tar.gz (every results
# folder and the shared logs).
set -uo pipefail
ROOT=$(pwd)
[[ -f "$ROOT/bench/gpu/run.sh" && -f "${1:-}" ]] || { echo "usage: bash bench/gpu/queue.sh FILE (from the repo root)" >&2; exit 2; }
T0=$(date +%s)
BUDGET=${QUEUE_BUDGET_S:-570}
WORK=${GPU_WORK:-/tmp/gpuwork}
FINAL_OUT=${OUT:-$ROOT/bench/gpu/out}
mkdir -p "$WORK/queue" "$FINAL_OUT"
QLOG="$WORK/queue/queue.log"
qlog() { printf '[queue +%4ss %s] %s\n' "$(($(date +%s) - T0))" "$(date +%T)" "$*" | tee -a "$QLOG"; }

# What comes back: every line's summary so far, the queue's log, every results folder and the logs.
collect_out() {
  {
    for s in "$WORK"/queue/out-*/summary.md; do
      [[ -f $s ]] || continue
      n_=${s#"$WORK"/queue/out-}
      echo "# queue line ${n_%/summary.md}"
      cat "$s"
      echo
    done
  } >"$FINAL_OUT/summary.md"
  cp "$QLOG" "$FINAL_OUT/queue.log"
  (cd "$WORK" && tar -czf "$FINAL_OUT/results.tar.gz" results* logs queue/run-*.log 2>/dev/null)
}

n=0
complete=1
while IFS= read -r line || [[ -n $line ]]; do
  line=${line%%#*}
  [[ -z ${line// /} ]] && continue
  n=$((n + 1))
  left=$((T0 + BUDGET - $(date +%s)))
  if ((left < 40)); then
    qlog "line $n: ${left}s left, stops here (INCOMPLETE: call again within ~30 s)"
    complete=0
    break
  fi
  qlog "line $n ($left s left): $line"
  # Each line's own OUT, so that its summary survives the next line; the run's log goes to queue.log.
  # eval: a line's values may be quoted (LEVELS="1:8 64:64"); the file is the project's own.
  # A bench level, once started, runs to its end whatever the budget says (run 8 lost a whole call's
  # results that way: the device tool's timeout struck before anything was copied to $OUT). So a line
  # is stopped with SIGTERM when the call's budget is spent (run.sh's trap then stops its servers and
  # collects), and what came back so far is copied out after every line.
  # run.sh's own budget ends 15 s before the hard stop, so that it usually stops between stages itself.
  # Its servers' logs go into its results folder (run.sh's save_server_logs); RUN_STATUS_FILE says
  # whether it finished (its log's last line may still be in its tee).
  status="$WORK/queue/status-$n"
  rm -f "$status"
  eval "timeout -k 10 $left env $line RUN_BUDGET_S=$((left - 15)) OUT=$WORK/queue/out-$n RUN_STATUS_FILE=$status bash bench/gpu/run.sh" \
    >>"$WORK/queue/run-$n.log" 2>&1
  rc=$?
  ((rc == 124)) && echo "[queue] line $n stopped at the call's budget (INCOMPLETE)" >>"$WORK/queue/run-$n.log"
  qlog "line $n: $(cat "$status" 2>/dev/null || echo "no status (exit $rc)")"
  collect_out
  if [[ "$(cat "$status" 2>/dev/null)" != COMPLETE ]]; then
    qlog "line $n did not complete: stops here (call again within ~30 s to go on)"
    complete=0
    break
  fi
done <"$1"

collect_out
if ((complete)); then qlog COMPLETE; else qlog INCOMPLETE; fi
