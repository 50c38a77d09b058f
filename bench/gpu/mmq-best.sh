#!/usr/bin/env bash
# Usage: bash bench/gpu/mmq-best.sh SWEEP_DIR (run.sh's $WORK/mmq-sweep). Prints the name of the
# sweep's fastest variant: the geometric mean over the sequence counts of its decode tok/s (S_TG of
# llama-batched-bench) against the base's, among the variants whose test-backend-ops run passed with no
# FAIL line; "base" when none is 2% faster than the base.
set -uo pipefail
sw=${1:?sweep folder}
s_tg() { awk -F'|' 'NF > 9 && $4 + 0 > 0 { gsub(/ /, "", $4); gsub(/ /, "", $9); print $4, $9 }' "$1"; }
[[ -f "$sw/base/bench.txt" ]] || { echo base; exit 0; }
best=base
best_score=1.02
for dir in "$sw"/*/; do
  name=$(basename "$dir")
  [[ $name == base || ! -f "$dir/bench.txt" || ! -f "$dir/ops.txt" ]] && continue
  grep -q "tests passed" "$dir/ops.txt" && grep -q "^FAIL lines: 0$" "$dir/ops.txt" || continue
  score=$(join <(s_tg "$sw/base/bench.txt" | sort -k1,1) <(s_tg "$dir/bench.txt" | sort -k1,1) |
    awk '$2 > 0 { l += log($3 / $2); n++ } END { if (n) printf "%.4f", exp(l / n); else print 0 }')
  if awk -v a="$score" -v b="$best_score" 'BEGIN { exit !(a > b) }'; then best=$name; best_score=$score; fi
done
echo "$best"
