#!/usr/bin/env bash
# Usage: bash bench/gpu/mmvq-config.sh MMVQ_CU > EDITED
# Rewrites llama.cpp's mmvq.cu so that the launch configuration of the MXFP4 matrix-vector kernel for one
# column (mul_mat_vec_q<MXFP4, 1>: a MoE's experts in one-sequence decoding, gate and up fused, then down)
# can be set from the compiler's command line, for bench/gpu/mmq-sweep.sh's MMVQ variants:
#   -DGPTOSS_MMVQ_NWARPS=warps -DGPTOSS_MMVQ_RPB=rows   (warps a block, rows a block)
# on the GENERIC parameter table (NVIDIA from Volta on, Hopper included, but for Turing and GB10).
# Why: llama.cpp gives that kernel 4 warps for one row, and gpt-oss's rows are short (2,880 values:
# 90 MXFP4 blocks, 1.5 KB), so a block reads 1.5 KB, reduces across its warps and ends; the experts'
# launches take ~26 us against a weight-read floor of ~5-10 us (docs/benchmarks.md, issue 14 run 1's
# profile). More rows a block keep more loads in flight a thread.
# Without the -D options the file preprocesses to what it was (every line added sits under #if; the two
# call sites go through a macro that expands to the original call): tested in test/mmvq-config.test.ts.
# Exits 1 when it does not find the lines it expects (another llama.cpp, whose kernel it must not guess).
set -euo pipefail
file=${1:?mmvq.cu}
out=$(awk '
  BEGIN { nw = 0; rpb = 0; calls = 0; fn_end = 0 }
  # calc_nwarps: the override first, before any table.
  /^static constexpr __host__ __device__ int calc_nwarps\(ggml_type type, int ncols_dst, mmvq_parameter_table_id table_id, bool small_k = false, bool halve_iters = false\) \{$/ {
    print
    print "#if defined(GPTOSS_MMVQ_NWARPS)"
    print "    // gpt-oss-server (bench/gpu/mmvq-config.sh): the MXFP4 one-column kernel'"'"'s warps, from -D."
    print "    if (type == GGML_TYPE_MXFP4 && ncols_dst == 1 && table_id == MMVQ_PARAMETERS_GENERIC) {"
    print "        return GPTOSS_MMVQ_NWARPS;"
    print "    }"
    print "#endif"
    nw++
    next
  }
  # calc_rows_per_block has no type: a function with one follows it, and the calls go through a macro.
  /^static constexpr __host__ __device__ int calc_rows_per_block\(int ncols_dst, int table_id, bool small_k = false, int nwarps = 1\) \{$/ {
    rpb++; in_rpb = 1
  }
  in_rpb && /^}$/ {
    print
    print ""
    print "#if defined(GPTOSS_MMVQ_RPB)"
    print "// gpt-oss-server (bench/gpu/mmvq-config.sh): the MXFP4 one-column kernel'"'"'s rows a block, from -D."
    print "static constexpr __host__ __device__ int gptoss_rows_per_block(ggml_type type, int ncols_dst, int table_id, bool small_k, int nwarps) {"
    print "    return type == GGML_TYPE_MXFP4 && ncols_dst == 1 && table_id == MMVQ_PARAMETERS_GENERIC ? GPTOSS_MMVQ_RPB"
    print "        : calc_rows_per_block(ncols_dst, table_id, small_k, nwarps);"
    print "}"
    print "#define GPTOSS_CALC_ROWS_PER_BLOCK(type, ...) gptoss_rows_per_block(type, __VA_ARGS__)"
    print "#else"
    print "#define GPTOSS_CALC_ROWS_PER_BLOCK(type, ...) calc_rows_per_block(__VA_ARGS__)"
    print "#endif"
    in_rpb = 0; fn_end++
    next
  }
  /calc_rows_per_block\(ncols_dst, table_id, small_k, nwarps\);$/ && !/static constexpr/ {
    sub(/calc_rows_per_block\(ncols_dst, table_id, small_k, nwarps\)/, "GPTOSS_CALC_ROWS_PER_BLOCK(type, ncols_dst, table_id, small_k, nwarps)")
    calls++
  }
  { print }
  END {
    if (nw != 1 || rpb != 1 || fn_end != 1 || calls != 2) {
      printf "mmvq-config: expected calc_nwarps, calc_rows_per_block and its 2 calls; found %d, %d (end %d), %d\n", nw, rpb, fn_end, calls > "/dev/stderr"
      exit 1
    }
  }
' "$file")
printf '%s\n' "$out"
