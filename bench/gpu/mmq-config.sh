#!/usr/bin/env bash
# Usage: bash bench/gpu/mmq-config.sh HEADER > EDITED
# Rewrites llama.cpp's mmq-config-ampere.cuh so that the launch configuration of each MXFP4 MMQ tile
# of up to 64 columns (J = 8 to 64: the tiles a MoE's experts get in batched decoding) can be set from
# the compiler's command line, for bench/gpu/mmq-sweep.sh to build one variant per nvcc run:
#   -DGPTOSS_MXV_NT=threads -DGPTOSS_MXV_OCC=occupancy -DGPTOSS_MXV_I=rows -DGPTOSS_MXV_JMAX=J
#       for the tiles with J <= GPTOSS_MXV_JMAX,
#   -DGPTOSS_MXV2_NT=... -DGPTOSS_MXV2_OCC=... -DGPTOSS_MXV2_I=...
#       for the tiles above it (optional).
# A tile that no macro covers keeps the line the header had, so without any -D the header means
# exactly what it meant (every other file of the build includes it too). Each line is matched
# whatever its numbers, so this works on the pristine header and on one our patch series changed.
# Exits 1 when it does not find the 11 lines it expects (4 with the fallback, 7 without): another
# llama.cpp, whose header a sweep must not guess at.
set -euo pipefail
header=${1:?header}
out=$(awk '
  match($0, /^[ \t]*CASE\(GGML_TYPE_MXFP4, *[0-9]+, *[0-9]+, *[0-9]+, *(8|16|24|32|40|48|64),/) {
    line = $0
    j = substr($0, RSTART, RLENGTH); sub(/,$/, "", j); sub(/.*, */, "", j)
    rest = substr($0, RSTART + RLENGTH)
    indent = $0; sub(/[^ \t].*$/, "", indent)
    print "#if defined(GPTOSS_MXV_NT) && " j " <= GPTOSS_MXV_JMAX"
    print indent "CASE(GGML_TYPE_MXFP4, GPTOSS_MXV_NT, GPTOSS_MXV_OCC, GPTOSS_MXV_I, " j "," rest
    print "#elif defined(GPTOSS_MXV2_NT)"
    print indent "CASE(GGML_TYPE_MXFP4, GPTOSS_MXV2_NT, GPTOSS_MXV2_OCC, GPTOSS_MXV2_I, " j "," rest
    print "#else"
    print line
    print "#endif"
    n++
    next
  }
  { print }
  END { if (n != 11) { print "mmq-config: " n + 0 " MXFP4 tiles of J <= 64 matched, not 11" > "/dev/stderr"; exit 1 } }
' "$header")
printf '%s\n' "$out"
