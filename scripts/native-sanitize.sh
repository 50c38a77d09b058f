#!/usr/bin/env bash
# Runs the native core's tests (src/engines/native) against an AddressSanitizer + UBSan build of
# the addon: `npm run test:native-sanitize` (extra arguments go to vitest, e.g. a file to run).
#
# Node itself is not instrumented, so the ASan runtime must be the first library in the process:
# LD_PRELOAD puts it there (the addon's own DT_NEEDED would load it too late, and ASan refuses to
# start). UBSan's runtime loads with the addon. Leak detection is off: Node does not free
# everything at exit, and those reports would bury ours. Any ASan error or UBSan "runtime error"
# (halt_on_error: the process aborts at the first) fails the run.
#
# Slow (the sanitized core is -O1 and ASan intercepts every allocation of Node as well): run before
# resolving changes to native/, not in every CI job.
set -euo pipefail
cd "$(dirname "$0")/.."

node scripts/build-native.mjs --sanitize

cxx="${CXX:-g++}"
asan_runtime="$("$cxx" -print-file-name=libasan.so)"
if [[ ! -e "$asan_runtime" ]]; then
  echo "native-sanitize: $cxx has no libasan.so (install the compiler's sanitizer runtime)" >&2
  exit 1
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
started=$SECONDS
status=0
# Only vitest and its workers run with the runtime preloaded (not npm, not the build above).
GPTOSS_NATIVE_CORE="$PWD/native/build/asan/gptoss_core.node" \
  LD_PRELOAD="$asan_runtime${LD_PRELOAD:+:$LD_PRELOAD}" \
  ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:print_summary=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
  node node_modules/vitest/vitest.mjs run src/engines/native "$@" 2>&1 | tee "$log" || status=$?

findings="$(grep -cE 'ERROR: AddressSanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$log" || true)"
echo "native-sanitize: vitest exited $status after $((SECONDS - started)) s; sanitizer reports: $findings"
if [[ "$findings" != 0 ]]; then
  grep -nE -A20 'ERROR: AddressSanitizer|runtime error:' "$log" | head -80 >&2
  exit 1
fi
exit "$status"
