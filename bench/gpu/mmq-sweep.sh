# shellcheck shell=bash
# Sourced by run.sh (MMQ_SWEEP=1) after setup.sh, on the GPU machine: launch configurations of
# llama.cpp's MXFP4 MMQ kernel for the small column tiles (J <= 64) that a MoE's experts get in batched
# decoding (patch 0001 picks J for the tokens an expert sees), each built as its own libggml-cuda.so and
# measured against the build of the series (base) in the same call:
#   - test-backend-ops -o MUL_MAT_ID -p mxfp4: every MXFP4 MoE case against the CPU backend, with the
#     gpt-oss shapes setup.sh adds (2880 rows: the fallback path; 8-256 tokens: J = 8 to 64);
#   - llama-batched-bench: decode tok/s at MMQ_SWEEP_NPL sequences (the base before and after the variants);
#   - cuobjdump: registers and spills of each kernel (what the occupancy bound costs).
# Why: Nsight Compute (run 3) put mul_mat_q<MXFP4,16> at ~5x its weight-read floor with one 8-warp block
# an SM (occupancy 1): nothing overlaps one block's loads of the weights with its MMA work. More, smaller
# blocks an SM give the SM more loads in flight.
# Only the MXFP4 template instance (an MMVQ variant: mmvq.cu) is recompiled (in parallel, one nvcc each,
# with -D for the variant), then linked with the build's own command into $SW/NAME/; the build tree's
# edited files are put back with their old mtimes (sweep-paths.sh puts them back too, if a call was
# killed in between), so ninja sees nothing new.
# Results: $RES/mmq-sweep.md, and $SW/.complete (.complete-mv: the MMVQ list) once every variant is in
# (MMQ_VARIANT=best waits for it). MMQ_VARIANTS="" or MMVQ_VARIANTS="" sweeps none of that kind.
# $SW is one folder a model (MODEL_SIZE=120b sweeps on the 120b: its experts see fewer tokens each).
# The same for the one-column MXFP4 kernel (MMVQ_VARIANTS: mul_mat_vec_q<MXFP4, 1>, the experts in
# one-sequence decoding at ~3-5x their weight-read floor in run 1's profile): mmvq.cu rewritten by
# bench/gpu/mmvq-config.sh and recompiled, checked with the same op check (MUL_MAT_VEC_FUSION too: gate and
# up fused) and timed at MMVQ_SWEEP_NPL sequences (default 1), against the base at the same counts.
# Expects what setup.sh sets (LCPP, BIN, MODEL, RES, LOGS, WORK, CFG, CFG_ORIG, MMVQ_CU, MMVQ_CU_ORIG, MMQ_SW).
# Knobs: MMQ_VARIANTS, MMQ_SWEEP_NPL (ascending). A variant is name:threads:occupancy:I for every tile
# of J <= 64, or name:threads:occupancy:I:JMAX for the tiles of J <= JMAX (the others as the series has
# them), or name:threads:occupancy:I:JMAX:threads2:occupancy2:I2 (the second configuration above JMAX).
# The base is the series as built: with patch 0003, 128 threads, I 64 for J <= 64, occupancy 6 for J = 8
# and 4 above; and the MoE calls whose rows fill every block (gpt-oss's 2,880 = 45 x 64) run the
# unchecked kernels, whose registers and spills are the ones that count now.

SW=$MMQ_SW # setup.sh's: one folder a model
# The defaults follow run 6 (docs/benchmarks.md) and ptxas on the CPU machine (bench/gpu/README.md,
# "registers without a GPU"): with 0003 the tiles run unchecked, whose stack frames (spills) at occupancy 6
# are 0 bytes up to J = 16, 56 at 32 and 376 at 64; at occupancy 5 0 at 16, 8 at 32 and 72 at 64 (0003's
# occupancy 4: 64 at J = 64). So: occupancy 6 up to J = 16 or 32, and 5 above J = 8 or 16.
MMQ_VARIANTS=${MMQ_VARIANTS-"o6j16:128:6:64:16 o6j32:128:6:64:32 o5up:128:6:64:8:128:5:64 o6o5:128:6:64:16:128:5:64"}
SWEEP_NPL=${MMQ_SWEEP_NPL:-8,32,64,128,256}
# The one-column kernel: patch 0004 gives MXFP4 2 warps and 2 rows a block (run 7: +9% at one sequence
# over llama.cpp's 4 warps for one row, mv4r1 here, kept as the reference); its untried neighbours.
# MMVQ_VARIANTS="" sweeps none.
MMVQ_VARIANTS=${MMVQ_VARIANTS-"mv4r1:4:1 mv2r1:2:1 mv1r2:1:2 mv1r1:1:1"}
MMVQ_NPL=${MMVQ_SWEEP_NPL:-1}
ALL_VARIANTS="$MMQ_VARIANTS $MMVQ_VARIANTS"
mkdir -p "$SW" "$(dirname "$CFG_ORIG")"

# valid_config, parse_variant, describe: how an MMQ_VARIANTS entry reads (shared with mmq-regs.sh).
# shellcheck source=bench/gpu/mmq-variant.sh
source "$ROOT/bench/gpu/mmq-variant.sh"

# sweep_bench NAME BINDIR [TAG [NPL]]: the op check (once), then the speed at NPL sequences (default
# SWEEP_NPL) into bench[TAG].txt, in $SW/NAME/.
sweep_bench() {
  local name=$1 bindir=$2 tag=${3:-} npl=${4:-$SWEEP_NPL}
  if [[ ! -f "$SW/$name/ops.txt" ]]; then
    timeout 240 "$bindir/test-backend-ops" -b CUDA0 -o MUL_MAT_ID,MUL_MAT_VEC_FUSION -p mxfp4 >"$SW/$name/ops.log" 2>&1
    echo "exit $?" >>"$SW/$name/ops.log"
    { grep -E "tests passed|Backend CUDA0|^exit" "$SW/$name/ops.log"; grep -c "FAIL" "$SW/$name/ops.log" | sed 's/^/FAIL lines: /'; } >"$SW/$name/ops.txt"
  fi
  if [[ ! -f "$SW/$name/bench$tag.txt" ]]; then
    timeout 180 "$bindir/llama-batched-bench" -m "$MODEL" -ngl 99 -fa on -c $((${npl##*,} * 256 + 256)) \
      -b 2048 -ub 512 -npp 128 -ntg 128 -npl "$npl" 2>"$SW/$name/bench$tag.log" | grep '^|' >"$SW/$name/bench$tag.txt.tmp"
    # a hung or crashed run leaves an empty table: kept, so that the sweep moves on (mmq-best skips it)
    mv "$SW/$name/bench$tag.txt.tmp" "$SW/$name/bench$tag.txt"
  fi
  log "mmq sweep $name$tag: $(tr '\n' ' ' <"$SW/$name/ops.txt")"
  cat "$SW/$name/bench$tag.txt"
}

# Registers, stack and spills of the MXFP4 MMQ kernels (mangled: mul_mat_q<(ggml_type)39, J, fallback>).
sweep_regs() {
  cuobjdump -res-usage "$1" 2>/dev/null | awk '
    /Function _Z9mul_mat_qIL9ggml_type39ELi/ { match($0, /ELi[0-9]+ELb[01]/); k = substr($0, RSTART + 3, RLENGTH - 3); next }
    k != "" && /REG:/ { sub(/^[ \t]+/, ""); print "  J" k ": " $0; k = "" }' | sort -t: -k1,1V | cut -c1-90
}

# sweep_section TITLE NAME [LIB]: a variant's op check and speed, with its MMQ kernels' registers (LIB).
sweep_section() {
  echo "#### $1"
  echo '```'
  cat "$SW/$2/ops.txt" "$SW/$2/bench.txt" 2>/dev/null
  [[ -z ${3:-} ]] || sweep_regs "$3"
  echo '```'
}
# variant_npl: the sequence counts the variant parse_variant read is timed at (its kernel's).
variant_npl() { if [[ $kind == mmvq ]]; then echo "$MMVQ_NPL"; else echo "$SWEEP_NPL"; fi; }

if [[ ! -f "$RES/mmq-sweep.md" ]] && enough 200 "mmq sweep"; then
  if [[ ! -x "$BIN/test-backend-ops" ]]; then
    log "mmq sweep: no test-backend-ops in $BIN (a machine built before it was a target): skipped"
  else
    cd "$LCPP/build" || exit 1
    OBJ=$(ninja -t targets all | grep -o '^[^:]*mmq-instance-mxfp4\.cu\.o' | head -1)
    LIB=$(ninja -t targets all | grep -o '^[^:]*libggml-cuda\.so' | head -1)
    MVOBJ=$(ninja -t targets all | grep -o '^[^:]*/mmvq\.cu\.o' | head -1)
    CC_CMD=$(ninja -t commands -s "$OBJ")
    MV_CC_CMD=""
    [[ -z $MVOBJ ]] || MV_CC_CMD=$(ninja -t commands -s "$MVOBJ")
    LINK_CMD=$(ninja -t commands -s "$LIB")
    # run.sh links the two kinds' picks into one library with these (MMQ_VARIANT=best).
    declare -p OBJ MVOBJ LIB LINK_CMD >"$SW/.link.env"
    cd "$ROOT" || exit 1
    log "mmq sweep: $OBJ, $MVOBJ -> $LIB; variants $ALL_VARIANTS"
    # Which variants still need a build: one whose folder holds a library made for the same
    # configuration is reused (a name given new numbers is built again).
    to_build=()
    for v in $ALL_VARIANTS; do
      parse_variant "$v" ||
        { log "mmq sweep: invalid variant $v (bench/gpu/mmq-variant.sh says how they read): left out"; continue; }
      npl=$(variant_npl)
      mkdir -p "$SW/$name"
      # new numbers: built again (and the two-kind libraries made with it, run.sh's NAME+MVNAME, go);
      # new sequence counts: only measured again
      if [[ "$(cut -d' ' -f1 "$SW/$name/config" 2>/dev/null)" != "$v" ]]; then
        rm -rf "${SW:?}/$name" "${SW:?}/$name"+* "${SW:?}"/*+"$name" && mkdir -p "$SW/$name"
      elif [[ "$(cat "$SW/$name/config")" != "$v $npl" ]]; then
        rm -f "$SW/$name"/bench*.txt
      fi
      echo "$v $npl" >"$SW/$name/config"
      # The library does not depend on the model: another model's sweep folder may have built it.
      for other in "$WORK"/mmq-sweep*/"$name"; do
        [[ -f "$SW/$name/libggml-cuda.so" || "$other" == "$SW/$name" || ! -f "$other/libggml-cuda.so" ]] && continue
        # (its object too: run.sh links an MMQ pick's with an MMVQ pick's)
        [[ "$(cut -d' ' -f1 "$other/config" 2>/dev/null)" == "$v" ]] &&
          cp -p "$other/libggml-cuda.so" "$other"/*.o "$SW/$name/" 2>/dev/null
      done
      [[ -f "$SW/$name/libggml-cuda.so" || -f "$SW/$name/build-failed" ]] || to_build+=("$v")
    done
    ok=1
    if ((${#to_build[@]} > 0)); then
      if [[ -z "$OBJ" || "$LINK_CMD" != *" -o $LIB "* || "$LINK_CMD" != *"$OBJ"* ||
        ( -n ${MMVQ_VARIANTS// /} && ( -z "$MVOBJ" || "$LINK_CMD" != *"$MVOBJ"* ) ) ]]; then
        log "mmq sweep: the link command does not name $LIB, $OBJ and $MVOBJ as expected: no variant built"; ok=0
      else
        # The MXFP4 lines for J <= 64 read the launch configuration from macros (bench/gpu/mmq-config.sh);
        # without -D they are the lines they replace, so the header means what it meant for every other
        # file of the build.
        [[ -f "$CFG_ORIG" ]] || cp -p "$CFG" "$CFG_ORIG"
        if ! bash "$ROOT/bench/gpu/mmq-config.sh" "$CFG_ORIG" >"$SW/.cfg-edited" 2>"$SW/.cfg-edited.log"; then
          log "mmq sweep: $(cat "$SW/.cfg-edited.log") (another llama.cpp?): no variant built"; ok=0
        else
          cp "$SW/.cfg-edited" "$CFG"
          # mmvq.cu the same way (bench/gpu/mmvq-config.sh), for the MMVQ variants; where the rewrite does
          # not fit this llama.cpp, those fail to build and the others go on.
          mv_edited=0
          [[ -f "$MMVQ_CU_ORIG" ]] || cp -p "$MMVQ_CU" "$MMVQ_CU_ORIG"
          need_mv=0
          for v in "${to_build[@]}"; do parse_variant "$v" && [[ $kind == mmvq ]] && need_mv=1; done
          if ((need_mv)); then
            if bash "$ROOT/bench/gpu/mmvq-config.sh" "$MMVQ_CU_ORIG" >"$SW/.mmvq-edited" 2>"$SW/.mmvq-edited.log"; then
              cp "$SW/.mmvq-edited" "$MMVQ_CU"; mv_edited=1
            else
              log "mmq sweep: $(cat "$SW/.mmvq-edited.log") (another llama.cpp?): no MMVQ variant built"
            fi
          fi
          cpids=()
          for v in "${to_build[@]}"; do
            parse_variant "$v"
            defs=$(variant_defs)
            # The build's own compile and link commands with this variant's object and library in its
            # folder (the object's name is also in the -MT/-MF dependency options: all are replaced).
            mmq_obj="" mv_obj=""
            if [[ $kind == mmvq ]]; then
              if ((!mv_edited)); then
                cp "$SW/.mmvq-edited.log" "$SW/$name/build.log"; touch "$SW/$name/build-failed"; continue
              fi
              mv_obj=$SW/$name/mmvq.o
              cc=${MV_CC_CMD//"$MVOBJ"/"$mv_obj"}
            else
              mmq_obj=$SW/$name/mxfp4.o
              cc=${CC_CMD//"$OBJ"/"$mmq_obj"}
            fi
            ({ (cd "$LCPP/build" && eval "$cc $defs") && link_library "$SW/$name/libggml-cuda.so" "$mmq_obj" "$mv_obj"; } ||
              touch "$SW/$name/build-failed") >"$SW/$name/build.log" 2>&1 &
            cpids+=($!)
          done
          for p in "${cpids[@]}"; do wait "$p"; done
          cp -p "$MMVQ_CU_ORIG" "$MMVQ_CU"
        fi
        cp -p "$CFG_ORIG" "$CFG" # the build tree as it was (same mtime: ninja sees nothing to do)
      fi
    fi
    if ((ok)); then
      # The base first and again after the variants (its two runs say how far the numbers move), on an
      # idle host: the variants' nvcc runs are done.
      mkdir -p "$SW/base"
      # The base's tables are for the counts they were measured at: new counts, measured again (each kind's).
      if [[ "$(cat "$SW/base/config" 2>/dev/null)" != "$SWEEP_NPL" ]]; then
        rm -f "$SW/base/bench.txt" "$SW/base/bench-again.txt" && echo "$SWEEP_NPL" >"$SW/base/config"
      fi
      if [[ "$(cat "$SW/base/config-mv" 2>/dev/null)" != "$MMVQ_NPL" ]]; then
        rm -f "$SW/base"/bench-mv*.txt && echo "$MMVQ_NPL" >"$SW/base/config-mv"
      fi
      sweep_bench base "$BIN"
      [[ -z ${MMVQ_VARIANTS// /} ]] || sweep_bench base "$BIN" -mv "$MMVQ_NPL"
      for v in $ALL_VARIANTS; do
        parse_variant "$v" || continue
        npl=$(variant_npl)
        if [[ -f "$SW/$name/build-failed" ]]; then
          log "mmq sweep $name: build failed: $(tail -3 "$SW/$name/build.log")"
          continue
        fi
        [[ -f "$SW/$name/bench.txt" && -f "$SW/$name/ops.txt" ]] && continue
        enough 90 "mmq sweep $name" || break
        rm -rf "${SW:?}/$name/bin" && cp -a "$BIN" "$SW/$name/bin" && cp "$SW/$name/libggml-cuda.so" "$SW/$name/bin/libggml-cuda.so" ||
          { log "mmq sweep $name: no library: not measured"; continue; }
        sweep_bench "$name" "$SW/$name/bin" "" "$npl"
      done
      ((INCOMPLETE)) || { enough 40 "mmq sweep base again" && sweep_bench base "$BIN" -again; }
      if ((INCOMPLETE == 0)) && [[ -n ${MMVQ_VARIANTS// /} ]]; then
        enough 20 "mmq sweep base again (MMVQ)" && sweep_bench base "$BIN" -mv-again "$MMVQ_NPL"
      fi
      if ((INCOMPLETE == 0)); then
        {
          echo "### MXFP4 kernel launch configurations (MMQ: J <= 64; MMVQ: one column), $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
          echo
          echo "llama-batched-bench -npp 128 -ntg 128 -npl $SWEEP_NPL; test-backend-ops -o MUL_MAT_ID,MUL_MAT_VEC_FUSION -p mxfp4"
          echo
          sweep_section "base (the series as built)" base "$BIN/libggml-cuda.so"
          echo '```'
          echo "base again, after the variants:"
          cat "$SW/base/bench-again.txt"
          echo '```'
          for v in $MMQ_VARIANTS; do
            parse_variant "$v" && [[ -f "$SW/$name/libggml-cuda.so" ]] || continue
            sweep_section "$name: $(describe)" "$name" "$SW/$name/libggml-cuda.so"
          done
          echo
          # shellcheck disable=SC2086
          echo "picked (bench/gpu/mmq-best.sh): $(bash "$ROOT/bench/gpu/mmq-best.sh" "$SW" $MMQ_VARIANTS)"
          if [[ -n ${MMVQ_VARIANTS// /} ]]; then
            echo
            echo "#### The one-column kernel (MMVQ), llama-batched-bench -npp 128 -ntg 128 -npl $MMVQ_NPL"
            echo '```'
            echo "base, before and after the variants:"
            cat "$SW/base/bench-mv.txt" "$SW/base/bench-mv-again.txt" 2>/dev/null
            echo '```'
            for v in $MMVQ_VARIANTS; do
              parse_variant "$v" && [[ -f "$SW/$name/libggml-cuda.so" ]] || continue
              sweep_section "$name: $(describe)" "$name"
            done
            # shellcheck disable=SC2086
            echo "picked (bench/gpu/mmq-best.sh, BEST_TAG=-mv): $(BEST_TAG=-mv bash "$ROOT/bench/gpu/mmq-best.sh" "$SW" $MMVQ_VARIANTS)"
          fi
        } >"$RES/mmq-sweep.md"
        echo "$MMQ_VARIANTS" >"$SW/.complete"
        if [[ -n ${MMVQ_VARIANTS// /} ]]; then echo "$MMVQ_VARIANTS" >"$SW/.complete-mv"; else rm -f "$SW/.complete-mv"; fi
        cat "$RES/mmq-sweep.md"
      fi
    fi
  fi
fi
