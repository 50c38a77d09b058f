# shellcheck shell=bash
# Sourced by setup.sh (expects budget.sh's log).
# cuda_module_loads LIB: false (and why) when LIB leaves a ggml symbol unresolved. ggml loads its CUDA
# backend with dlopen (GGML_BACKEND_DL): a library that cannot load makes llama-server and our server
# quietly run on the CPU, which a run would otherwise find only after minutes of timed-out requests
# (run 9: a file patch 0007 added was not built, and its functions were missing).
cuda_module_loads() {
  local missing
  # ldd -r prints "undefined symbol: NAME	(LIBRARY)": only NAMEs of ggml's own code count (the path
  # after them names libggml-cuda.so on every line).
  missing=$(ldd -r "$1" 2>&1 | grep -E "undefined symbol: [^[:space:]]*ggml" | head -5)
  [[ -z $missing ]] && return 0
  log "FAILED: $1 cannot load (the CUDA backend would be missing): $missing"
  return 1
}
