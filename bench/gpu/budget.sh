# Sourced by run.sh and multi.sh: the time budget of one device call, the log line and what comes back.
# Expects T0 (start, epoch s), BUDGET (s), TAG (the log's prefix), RUN_LOG (the log under $LOGS), WORK,
# RES, LOGS and OUT. A stage asks `enough SECONDS NAME`; one that does not fit is skipped and the run says
# INCOMPLETE, so that the same call made again within ~30 s (the machine still warm) goes on from there.
elapsed() { echo $(($(date +%s) - T0)); }
remaining() { echo $((T0 + BUDGET - $(date +%s))); }
log() { printf '[%s +%4ss %s] %s\n' "$TAG" "$(elapsed)" "$(date +%T)" "$*"; }
INCOMPLETE=0
# enough SECONDS NAME: true when the budget still has SECONDS for stage NAME.
enough() {
  if (($(remaining) < $1)); then
    log "SKIP $2: needs ~$1 s, $(remaining) s left (call again within 30 s to resume)"
    INCOMPLETE=1
    return 1
  fi
}

# Everything worth keeping goes back in at most 8 files (the tool's limit): the log, the summary and
# one tarball.
collect() {
  cp "$LOGS/$RUN_LOG" "$OUT/run.log" 2>/dev/null
  [[ -f "$RES/summary.md" ]] && cp "$RES/summary.md" "$OUT/summary.md"
  tar -C "$WORK" -czf "$OUT/results.tar.gz" "$(basename "$RES")" logs 2>/dev/null
}
