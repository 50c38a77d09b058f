# Sourced by scripts/build-ggml-cuda.sh and bench/gpu/setup.sh.
# nlc_name DIR PREFIX: node-llama-cpp's file for library PREFIX in DIR, without lib and .so (its names
# carry its release: libllama.cuda.v0.5.0.so gives llama.cuda.v0.5.0); nothing if there is none. The
# pattern needs a dot after the prefix, so libllama-common.so and libggml-base.so are not taken.
nlc_name() {
  local f
  for f in "$1/lib$2".*.so; do
    [[ -f "$f" ]] || continue
    f="${f##*/lib}"
    echo "${f%.so}"
    return
  done
}
