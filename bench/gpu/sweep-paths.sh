# shellcheck shell=bash
# Sourced by setup.sh (and test/gpu-sweep/harness.sh, the sweep's dry run): where the kernel sweep
# (bench/gpu/mmq-sweep.sh) works, and the files of the build tree it edits. Expects WORK, LCPP, log and,
# optionally, MODEL_SIZE.
# The sweep edits two files of the tree while it compiles its variants (the MMQ config header for the MMQ
# variants, mmvq.cu for the MMVQ ones) and puts them back with their old mtimes; a call killed in between
# leaves them edited: back they go here, before ninja looks.
CFG_ORIG="$WORK/mmq-sweep/.cfg-orig"
MMVQ_CU_ORIG="$WORK/mmq-sweep/.mmvq-cu-orig"
# The sweep's folder: one a model, since its speeds are the model's (the 20b's keeps its old name).
MMQ_SW="$WORK/mmq-sweep"
[[ "${MODEL_SIZE:-20b}" != 20b ]] && MMQ_SW="$MMQ_SW-$MODEL_SIZE"
CFG="$LCPP/ggml/src/ggml-cuda/mmq-config-ampere.cuh"
MMVQ_CU="$LCPP/ggml/src/ggml-cuda/mmvq.cu"
if [[ -f "$CFG_ORIG" ]] && ! cmp -s "$CFG_ORIG" "$CFG"; then
  log "mmq-config-ampere.cuh was left edited by a killed sweep: restored"; cp -p "$CFG_ORIG" "$CFG"
fi
if [[ -f "$MMVQ_CU_ORIG" ]] && ! cmp -s "$MMVQ_CU_ORIG" "$MMVQ_CU"; then
  log "mmvq.cu was left edited by a killed sweep: restored"; cp -p "$MMVQ_CU_ORIG" "$MMVQ_CU"
fi
