#!/usr/bin/env bash
# Usage: bash bench/gpu/mmq-regs.sh [VARIANT ...]
# Registers, stack frame and spills of llama.cpp's MXFP4 MMQ kernels (mul_mat_q<MXFP4, J, checked>, J = 8
# to 64) for launch configurations in the MMQ_VARIANTS syntax (bench/gpu/mmq-variant.sh) ("base", or no
# argument: the series as built), from ptxas, on a machine without a GPU: it needs nvcc only.
# Why: what a configuration spills decides much of its speed (run 5: occupancy 6 lost 18% at J = 64, whose
# checked kernel spilled 520 bytes a thread), and a lent GPU's minutes are better spent timing the
# variants that do not spill. It compiles the MXFP4 template instance of the patched source
# (scripts/build-ggml-cuda.sh --source-only) for sm_90a (H100, H200), in a copy of its ggml folders with
# bench/gpu/mmq-config.sh's rewrite of the header, once a variant (~40 s each on two cores).
# The instance includes ggml-cuda's common.cuh, which includes cuBLAS's header; its kernels use none of
# it. Where the toolkit has no cuBLAS (the CPU VM's nvcc), a stub declaring what common.cuh names stands
# in: nothing is linked or run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=bench/gpu/mmq-variant.sh
source "$ROOT/bench/gpu/mmq-variant.sh"
for v in "$@"; do
  [[ $v == base ]] || parse_variant "$v" || { echo "mmq-regs: invalid variant $v" >&2; exit 2; }
  [[ $v == base || $kind == mmq ]] || { echo "mmq-regs: $v is an MMVQ variant; this reports MMQ kernels" >&2; exit 2; }
done
(($# > 0)) || set -- base
command -v nvcc >/dev/null || { echo "mmq-regs: no nvcc on PATH" >&2; exit 1; }

src=$(bash "$ROOT/scripts/build-ggml-cuda.sh" --source-only | tail -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ggml/src" "$work/stub"
cp -r "$src/ggml/include" "$work/ggml/"
cp -r "$src/ggml/src/ggml-cuda" "$src/ggml/src/"*.h "$work/ggml/src/"
cfg="$work/ggml/src/ggml-cuda/mmq-config-ampere.cuh"
# The tiles the header has for MXFP4, as "J:checked" words (the other instances are empty kernels).
tiles=$(sed -nE 's/^ *CASE\(GGML_TYPE_MXFP4, *[0-9]+, *[0-9]+, *[0-9]+, *([0-9]+),.*, *(true|false)\);.*/\1:\2/p' "$cfg" |
  sed 's/:true$/:checked/; s/:false$/:unchecked/' | tr '\n' ' ')
# Without the rewrite every variant would compile as the base under its own title: stop instead.
bash "$ROOT/bench/gpu/mmq-config.sh" "$cfg" >"$work/cfg.cuh" || exit 1
cp "$work/cfg.cuh" "$cfg"
if ! echo '#include <cublas_v2.h>' | nvcc -E -x cu - >/dev/null 2>&1; then
  cat >"$work/stub/cublas_v2.h" <<'EOF'
#pragma once
// Stand-in for cuBLAS's header (bench/gpu/mmq-regs.sh): declarations only, nothing is linked.
typedef struct cublasContext *cublasHandle_t;
typedef int cublasStatus_t;
typedef int cublasComputeType_t;
struct CUstream_st;
const char *cublasGetStatusString(cublasStatus_t);
cublasStatus_t cublasCreate(cublasHandle_t *);
cublasStatus_t cublasSetMathMode(cublasHandle_t, int);
cublasStatus_t cublasSetStream(cublasHandle_t, CUstream_st *);
#define CUBLAS_STATUS_SUCCESS 0
#define CUBLAS_TF32_TENSOR_OP_MATH 3
EOF
fi

for v in "$@"; do
  defs="" title="base: the series as built"
  if [[ $v != base ]]; then
    parse_variant "$v"
    defs=$(variant_defs)
    title="$name: $(describe)"
  fi
  # shellcheck disable=SC2086 # defs is a list of -D options
  if ! nvcc -std=c++17 -arch=sm_90a -O3 -DNDEBUG -DGGML_USE_CUDA -I "$work/ggml/include" -I "$work/ggml/src" \
    -I "$work/stub" $defs -Xptxas -v -c "$work/ggml/src/ggml-cuda/template-instances/mmq-instance-mxfp4.cu" \
    -o "$work/mxfp4.o" >"$work/ptxas.log" 2>&1; then
    echo "mmq-regs: nvcc failed for $v:" >&2
    tail -20 "$work/ptxas.log" >&2
    exit 1
  fi
  echo "$title"
  # ptxas prints, for each kernel: "Compiling entry function 'NAME'", "Function properties for NAME:",
  # "N bytes stack frame, N bytes spill stores, N bytes spill loads", "Used N registers, ...".
  # MXFP4 is ggml_type 39; a checked kernel is the fallback one (template argument true: Lb1).
  awk -v tiles="$tiles " '
    /Compiling entry function .*_Z9mul_mat_qIL9ggml_type39ELi[0-9]+ELb[01]/ {
      match($0, /ELi[0-9]+ELb[01]/); k = substr($0, RSTART + 3, RLENGTH - 3)
      j = k; sub(/E.*/, "", j); kind = (k ~ /b1$/) ? "checked" : "unchecked"; next
    }
    k != "" && /bytes stack frame/ { match($0, /[0-9]+ bytes stack/); st = substr($0, RSTART, RLENGTH - 12)
      match($0, /[0-9]+ bytes spill stores/); sp = substr($0, RSTART, RLENGTH - 19) }
    k != "" && /Used [0-9]+ registers/ {
      match($0, /Used [0-9]+ registers/); r = substr($0, RSTART + 5, RLENGTH - 15)
      if (j + 0 <= 64 && index(" " tiles, " " j ":" kind " ")) printf "  J = %2d %-9s %3d registers, stack %4d bytes, spill stores %4d bytes\n", j, kind, r, st, sp
      k = ""
    }' "$work/ptxas.log" | sort -k3,3n -k4,4 | uniq
done
