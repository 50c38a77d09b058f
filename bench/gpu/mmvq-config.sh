#!/usr/bin/env bash
# Usage: bash bench/gpu/mmvq-config.sh MMVQ_CU > EDITED
# Rewrites llama.cpp's mmvq.cu so that the launch configuration of the MXFP4 matrix-vector kernel for one
# column (mul_mat_vec_q<MXFP4, 1>: a MoE's experts in one-sequence decoding, gate and up fused, then down)
# can be set from the compiler's command line, for bench/gpu/mmq-sweep.sh's MMVQ variants:
#   -DGPTOSS_MMVQ_NWARPS=warps -DGPTOSS_MMVQ_RPB=rows   (warps a block, rows a block)
# on the GENERIC parameter table (NVIDIA from Volta on, Hopper included, but for Turing and GB10).
# Why: llama.cpp gives that kernel 4 warps for one row, and gpt-oss's rows are short (2,880 values:
# 90 MXFP4 blocks, 1.5 KB); the experts' launches took ~26 us against a weight-read floor of ~5-10 us
# (docs/benchmarks.md, issue 14 run 1's profile). Run 7's sweep found 2 warps and 2 rows a block +9% at
# one sequence, now patch 0004; the sweep goes on from there.
# Without the -D options the file preprocesses to what it was (every line added sits under #if): tested in
# test/mmvq-config.test.ts. Patch 0004 gives both functions the type, so each override is an early return.
# Exits 1 when it does not find the lines it expects (another llama.cpp, whose kernel it must not guess).
set -euo pipefail
file=${1:?mmvq.cu}
out=$(awk '
  BEGIN { nw = 0; rpb = 0 }
  # override WHAT MACRO: the early return for MXFP4 with one column on the generic table, under #if.
  function override(what, macro) {
    print "#if defined(" macro ")"
    print "    // gpt-oss-server (bench/gpu/mmvq-config.sh): the MXFP4 one-column kernel'"'"'s " what ", from -D."
    print "    if (type == GGML_TYPE_MXFP4 && ncols_dst == 1 && table_id == MMVQ_PARAMETERS_GENERIC) {"
    print "        return " macro ";"
    print "    }"
    print "#endif"
  }
  /^static constexpr __host__ __device__ int calc_nwarps\(ggml_type type, int ncols_dst, mmvq_parameter_table_id table_id, bool small_k = false, bool halve_iters = false\) \{$/ {
    print; override("warps", "GPTOSS_MMVQ_NWARPS"); nw++; next
  }
  /^static constexpr __host__ __device__ int calc_rows_per_block\(ggml_type type, int ncols_dst, int table_id, bool small_k = false, int nwarps = 1\) \{$/ {
    print; override("rows a block", "GPTOSS_MMVQ_RPB"); rpb++; next
  }
  { print }
  END {
    if (nw != 1 || rpb != 1) {
      printf "mmvq-config: expected calc_nwarps and calc_rows_per_block (with its type: patch 0004) once each; found %d and %d\n", nw, rpb > "/dev/stderr"
      exit 1
    }
  }
' "$file")
printf '%s\n' "$out"
