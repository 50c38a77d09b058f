# shellcheck shell=bash
# Sourced by bench/gpu/mmq-sweep.sh and bench/gpu/mmq-regs.sh: how a variant entry reads.
# MMQ_VARIANTS (the MoE matmul, mmq-config.sh): name:threads:occupancy:I for every MXFP4 tile of J <= 64,
# name:threads:occupancy:I:JMAX for the tiles of J <= JMAX (the others as the series has them), or
# name:threads:occupancy:I:JMAX:threads2:occupancy2:I2 (the second configuration for the tiles above JMAX).
# MMVQ_VARIANTS (the one-column MXFP4 kernel, mmvq-config.sh): mvNAME:warps:rows (warps and rows a block,
# each 1, 2, 4 or 8); the name starts with "mv", which no MMQ variant's may.

# valid_config NT OCC I: llama.cpp's MMA path maps 16 rows to a warp (32 to a pair of warps for
# J >= 48), so I must be 16 x warps, with an even number of warps; the stream-k fixup runs NT/2 threads.
valid_config() {
  [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ && $3 =~ ^[0-9]+$ ]] &&
    (($1 >= 64 && $1 <= 512 && $1 % 64 == 0 && $3 * 2 == $1 && $2 >= 1 && $2 <= 8))
}
# parse_variant ENTRY: sets kind (mmq or mmvq) and name; for mmq nt occ I jmax nt2 occ2 I2, for mmvq nw
# rpb. Fails on an invalid entry.
parse_variant() {
  if [[ $1 == mv* ]]; then
    kind=mmvq
    local extra
    IFS=: read -r name nw rpb extra <<<"$1"
    [[ $name =~ ^mv[A-Za-z0-9_-]*$ && -z $extra && $nw =~ ^(1|2|4|8)$ && $rpb =~ ^(1|2|4|8)$ ]]
    return
  fi
  kind=mmq
  IFS=: read -r name nt occ I jmax nt2 occ2 I2 <<<"$1"
  [[ $name =~ ^[A-Za-z0-9_-]+$ && $name != base ]] && valid_config "$nt" "$occ" "$I" || return 1
  [[ -z $jmax ]] || { [[ $jmax =~ ^[0-9]+$ ]] && ((jmax >= 8 && jmax <= 64)); } || return 1
  [[ -z $nt2 ]] || { [[ -n $jmax ]] && valid_config "$nt2" "$occ2" "$I2"; }
}
# describe: the variant parse_variant read, in words, for the report.
describe() {
  if [[ $kind == mmvq ]]; then
    echo "the one-column MXFP4 kernel (MMVQ): $nw warps a block, $rpb rows a block"
    return
  fi
  local d="$nt threads, occupancy $occ, I $I"
  if [[ -n $jmax ]]; then
    d="$d for J <= $jmax; above: "
    if [[ -n $nt2 ]]; then d="$d$nt2 threads, occupancy $occ2, I $I2"; else d="${d}the series' own"; fi
  fi
  echo "$d"
}
# variant_defs: the -D options that build what parse_variant read (mmq-config.sh's or mmvq-config.sh's
# macros).
variant_defs() {
  if [[ $kind == mmvq ]]; then
    echo "-DGPTOSS_MMVQ_NWARPS=$nw -DGPTOSS_MMVQ_RPB=$rpb"
    return
  fi
  local defs="-DGPTOSS_MXV_NT=$nt -DGPTOSS_MXV_OCC=$occ -DGPTOSS_MXV_I=$I -DGPTOSS_MXV_JMAX=${jmax:-64}"
  [[ -z $nt2 ]] || defs="$defs -DGPTOSS_MXV2_NT=$nt2 -DGPTOSS_MXV2_OCC=$occ2 -DGPTOSS_MXV2_I=$I2"
  echo "$defs"
}
# link_library OUT MMQ_OBJ MV_OBJ: the build's own link command (LINK_CMD, run in $LCPP/build) with
# MMQ_OBJ in place of the MXFP4 MMQ instance's object (OBJ) and MV_OBJ in place of mmvq.cu's (MVOBJ),
# an empty one keeping the build's own, into OUT through OUT.tmp (a killed link leaves no OUT). Expects
# what mmq-sweep.sh saves in $SW/.link.env (OBJ MVOBJ LIB LINK_CMD) and LCPP.
link_library() {
  local out=$1 mmq_obj=$2 mv_obj=$3 link=$LINK_CMD
  [[ -z $mmq_obj ]] || link=${link//"$OBJ"/"$mmq_obj"}
  [[ -z $mv_obj ]] || link=${link//"$MVOBJ"/"$mv_obj"}
  link=${link//" -o $LIB "/" -o $out.tmp "}
  (cd "$LCPP/build" && eval "$link") && mv "$out.tmp" "$out"
}
