#!/usr/bin/env bash
# Usage: bash bench/gpu/mmq-best.sh SWEEP_DIR [NAME ...] (run.sh's $WORK/mmq-sweep; a NAME may be a
# whole MMQ_VARIANTS entry, name:threads:occupancy:I; the names default to every variant folder in it). Prints the name of the sweep's fastest variant: the geometric mean over
# the sequence counts of its decode tok/s (S_TG of llama-batched-bench) against the base's (the mean of
# the base's runs), among the variants whose test-backend-ops run exited 0 with every test passed (N/N,
# N > 0) and no FAIL line; "base" when none is 2% faster than the base. BEST_TAG=-mv compares with the
# base's runs at the MMVQ variants' sequence counts (bench-mv.txt, bench-mv-again.txt) instead.
set -uo pipefail
sw=${1:?sweep folder}
shift
names=("$@")
if ((${#names[@]} == 0)); then
  for dir in "$sw"/*/; do names+=("$(basename "$dir")"); done
fi
# B and S_TG of each row of llama-batched-bench's table(s), the S_TG averaged over the files given.
s_tg() {
  cat "$@" | awk -F'|' 'NF > 9 && $4 + 0 > 0 { gsub(/ /, "", $4); gsub(/ /, "", $9); s[$4] += $9; n[$4]++ }
    END { for (b in s) print b, s[b] / n[b] }' | sort -k1,1
}
passed() {
  local ops=$1/ops.txt
  [[ -f $ops ]] && grep -q "^exit 0$" "$ops" && grep -q "^FAIL lines: 0$" "$ops" &&
    grep -E "^ *[0-9]+/[0-9]+ tests passed" "$ops" | awk '{ split($1, a, "/"); if (a[1] != a[2] || a[1] == 0) bad = 1 } END { exit bad }'
}
tag=${BEST_TAG:-}
[[ -s "$sw/base/bench$tag.txt" ]] || { echo base; exit 0; }
base_files=("$sw/base/bench$tag.txt")
[[ -s "$sw/base/bench$tag-again.txt" ]] && base_files+=("$sw/base/bench$tag-again.txt")
best=base
best_score=1.02
for name in "${names[@]}"; do
  name=${name%%:*}
  dir=$sw/$name
  [[ $name == base || ! -s "$dir/bench.txt" ]] && continue
  passed "$dir" || continue
  score=$(join <(s_tg "${base_files[@]}") <(s_tg "$dir/bench.txt") |
    awk '$2 > 0 && $3 > 0 { l += log($3 / $2); n++ } END { if (n) printf "%.4f", exp(l / n); else print 0 }')
  if awk -v a="$score" -v b="$best_score" 'BEGIN { exit !(a > b) }'; then best=$name; best_score=$score; fi
done
echo "$best"
