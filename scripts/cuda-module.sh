# shellcheck shell=bash
# Sourced by scripts/build-ggml-cuda.sh (npm run build:cuda) and bench/gpu/setup.sh.
# cuda_module_loads LIB: false, saying why on stderr, when LIB leaves a symbol of ggml's own code
# unresolved. ggml loads its CUDA backend with dlopen (GGML_BACKEND_DL): a library that cannot load
# makes node-llama-cpp, llama-server and our server quietly run on the CPU (run 9 lost two GPU calls
# that way: a file patch 0007 added was not built, and its functions were missing). Other unresolved
# names (the CUDA driver's, on a machine that builds for another one's GPU) do not count.
cuda_module_loads() {
  local missing
  # ldd -r prints "undefined symbol: NAME	(LIBRARY)": the NAME is matched, not the path after it.
  missing=$(ldd -r "$1" 2>&1 | grep -E "undefined symbol: [^[:space:]]*ggml" | head -5)
  [[ -z $missing ]] && return 0
  echo "$1 cannot load (ggml would run without this backend, on the CPU): $missing" >&2
  return 1
}
