#!/usr/bin/env bash
# Usage: bash bench/gpu/mmq-rows.sh HEADER > EDITED
# Rewrites llama.cpp's mmq.cuh so that, compiled with -DGPTOSS_MXV_EXACT_ROWS, the MXFP4 MoE matmul
# runs the unchecked MMQ kernels (fallback = false) wherever every block's rows are in the matrix, for
# bench/gpu/mmq-sweep.sh's "exact rows" variants (an MMQ_VARIANTS entry ending in :r64).
# Why: mul_mat_q_case<type> takes the bounds-checked ("fallback") kernels whenever the rows are not a
# multiple of 128, so gpt-oss's expert matrices (2,880 rows) always run them. Patch 0002 gives the MXFP4
# tiles of J <= 64 blocks of I = 64 rows, and 2,880 = 45 x 64: no block of those tiles runs past the
# last row, and the checks (the row clamp of load_tiles, the row test of write_back and of the stream-k
# fixup: the only places the kernel reads the flag) are dead weight; the unchecked kernels use fewer
# registers (64 bytes of spills against 272 at J = 64).
# With the define, mul_mat_q_case also takes the fallback = false branch when all of these hold:
#   - the type is MXFP4;
#   - the call is the MoE (ids) path: mmq_args.ids_dst set (the kernel's own test; mmq.cu passes
#     nullptr for both ids_dst and expert_bounds without ids). Only there, because mmq.cu pads the
#     quantized src1 with ggml_cuda_mmq_get_J_max(type, fallback, cc, ne11) blocks, fallback being
#     ne01 % 128 != 0, the flag this edit overrides: without ids, ne11 is the column count and the
#     padding follows the fallback table's tile sizes (Ampere's lacks J = 24, 40, 48, 80, 96, 112 for
#     MXFP4), which the unchecked kernel would no longer match. With ids, ne11 is 1 (gate/up: the
#     activations broadcast over the experts) or n_expert_used (down), so the padding is
#     J_max(ne11 <= 7) = 0 blocks whichever the flag, for gpt-oss's 4 experts a token. (With 8 or more
#     the two may differ, e.g. 16 against 24 columns at 24 experts a token; but there the padding does
#     not bound a tile anyway: both kernels load J columns of src1 unchecked, J picked from ncols_opt,
#     not ne11, so the last expert's last tile reads up to J - 1 columns past the quantized data alike
#     with either flag.)
#   - the tile that mul_mat_q_switch_J<type, false> picks for these arguments has an I that divides
#     args.nrows_x: an inserted host function repeats switch_J's choice of J (the same configuration
#     lookup, the same shared-memory check, the same fewest-tiles rule) for fallback = false.
# Those calls then also choose J among the unchecked kernels' tiles, which include J = 24, 40 and 48
# (mmq-config-ampere.cuh's checked set has 8, 16, 32, 64 and 128 for MXFP4): a variant measures both.
# Every other call takes the branch it took before. Without the define the header preprocesses to what
# it was (everything added sits under #if defined(GPTOSS_MXV_EXACT_ROWS)); every file of the build
# includes it, and only the MXFP4 instance (mmq-instance-mxfp4.cu, which instantiates mul_mat_q_case
# for MXFP4) gets the define.
# Exits 1 when it does not find, in order, the lines it expects (switch_J's loop, which the inserted
# function copies, and mul_mat_q_case's test): another llama.cpp, whose kernel choice it must not guess.
set -euo pipefail
header=${1:?header}
out=$(awk '
  { L[NR] = $0 }
  END {
    # The lines the edit relies on, in this order (exactly, indentation included).
    n = split("struct mmq_args {\n" \
      "void mul_mat_q_switch_J(ggml_backend_cuda_context & ctx, const mmq_args & args, cudaStream_t stream) {\n" \
      "    for (int J = 8; J <= 128 && ntiles_J_best > 1; J += 8) {\n" \
      "        const ggml_cuda_mmq_config config = ggml_cuda_mmq_get_config(type, J, fallback, cc);\n" \
      "        if (config.type == GGML_TYPE_COUNT) {\n" \
      "        if (mmq_get_nbytes_shared(config, cc) > smpbo) {\n" \
      "        const int ntiles_x = (args.ncols_opt + config.J - 1) / config.J;\n" \
      "        if (ntiles_x < ntiles_J_best) {\n" \
      "            J_best = J;\n" \
      "    switch (J_best) {\n" \
      "template <ggml_type type>\n" \
      "void mul_mat_q_case(ggml_backend_cuda_context & ctx, const mmq_args & args, cudaStream_t stream) {\n" \
      "    if (args.nrows_x % 128 == 0) {\n" \
      "        constexpr bool fallback = false;", want, "\n")
    k = 1
    for (i = 1; i <= NR && k <= n; i++) {
      if (L[i] == want[k]) { at[k] = i; k++ }
    }
    if (k <= n) {
      printf "mmq-rows: line not found (in this order): %s\n", want[k] > "/dev/stderr"; exit 1
    }
    # The template line and the signature of mul_mat_q_case must be adjacent, and its test next.
    if (at[12] != at[11] + 1 || at[13] != at[12] + 1 || at[14] != at[13] + 1) {
      print "mmq-rows: mul_mat_q_case does not start as expected" > "/dev/stderr"; exit 1
    }
    # mmq_args has the fields the inserted code reads.
    for (i = at[1]; i <= NR && L[i] != "};"; i++) fields = fields " " L[i]
    if (fields !~ /const int32_t \* ids_dst;/ || fields !~ /int64_t nrows_x;/ || fields !~ /int64_t ncols_opt;/) {
      print "mmq-rows: mmq_args lacks ids_dst, nrows_x or ncols_opt" > "/dev/stderr"; exit 1
    }
    for (i = 1; i <= NR; i++) {
      if (i == at[11]) {
        print "#if defined(GPTOSS_MXV_EXACT_ROWS)"
        print "// gpt-oss-server (bench/gpu/mmq-rows.sh): whether the tile that mul_mat_q_switch_J<type, false> picks"
        print "// for args (the same loop) has an I that divides args.nrows_x, so that no block runs past the last row"
        print "// and the unchecked kernels compute what the fallback ones do."
        print "static inline bool gptoss_mmq_exact_rows(const ggml_type type, const mmq_args & args) {"
        print "    const int    id    = ggml_cuda_get_device();"
        print "    const int    cc    = ggml_cuda_info().devices[id].cc;"
        print "    const size_t smpbo = ggml_cuda_info().devices[id].smpbo;"
        print ""
        print "    int I_best        = 0;"
        print "    int ntiles_J_best = INT_MAX;"
        print ""
        print "    for (int J = 8; J <= 128 && ntiles_J_best > 1; J += 8) {"
        print "        const ggml_cuda_mmq_config config = ggml_cuda_mmq_get_config(type, J, false, cc);"
        print "        if (config.type == GGML_TYPE_COUNT) {"
        print "            continue;"
        print "        }"
        print ""
        print "        if (mmq_get_nbytes_shared(config, cc) > smpbo) {"
        print "            continue;"
        print "        }"
        print ""
        print "        const int ntiles_x = (args.ncols_opt + config.J - 1) / config.J;"
        print ""
        print "        if (ntiles_x < ntiles_J_best) {"
        print "            I_best        = config.I;"
        print "            ntiles_J_best = ntiles_x;"
        print "        }"
        print "    }"
        print ""
        print "    return I_best > 0 && args.nrows_x % I_best == 0;"
        print "}"
        print "#endif // defined(GPTOSS_MXV_EXACT_ROWS)"
      }
      if (i == at[13]) {
        print "#if defined(GPTOSS_MXV_EXACT_ROWS)"
        print "    // MXFP4 MoE (ids) calls whose rows fill every block take the unchecked kernels too (see above)."
        print "    if (args.nrows_x % 128 == 0 ||"
        print "            (type == GGML_TYPE_MXFP4 && args.ids_dst != nullptr && gptoss_mmq_exact_rows(type, args))) {"
        print "#else"
        print L[i]
        print "#endif // defined(GPTOSS_MXV_EXACT_ROWS)"
        continue
      }
      print L[i]
    }
  }
' "$header")
printf '%s\n' "$out"
