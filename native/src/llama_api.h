// The llama.cpp functions the core calls, resolved at run time from the libllama that
// node-llama-cpp's prebuilt binary already loaded (CPU, CUDA or Vulkan build). Linking against
// one of those files at build time would pin the core to that build; resolving them from the
// loaded library keeps one copy of llama.cpp and ggml in the process, with the backends that
// node-llama-cpp registered. The headers in native/include are from the same llama.cpp commit
// (node-llama-cpp's bundle, tag in native/include/VERSION).
#pragma once

#include <string>

#include "llama.h"

namespace gptoss {

struct LlamaApi {
#define GPTOSS_LLAMA_FUNCTIONS(X)  \
  X(llama_model_default_params)    \
  X(llama_context_default_params)  \
  X(llama_model_load_from_file)    \
  X(llama_model_free)              \
  X(llama_init_from_model)         \
  X(llama_free)                    \
  X(llama_model_get_vocab)         \
  X(llama_model_n_layer)           \
  X(llama_vocab_n_tokens)          \
  X(llama_vocab_is_eog)            \
  X(llama_n_ctx)                   \
  X(llama_n_seq_max)               \
  X(llama_batch_init)              \
  X(llama_batch_free)              \
  X(llama_decode)                  \
  X(llama_get_logits_ith)          \
  X(llama_get_memory)              \
  X(llama_memory_seq_rm)           \
  X(llama_sampler_init_grammar)    \
  X(llama_sampler_apply)           \
  X(llama_sampler_accept)          \
  X(llama_sampler_free)

#define GPTOSS_DECLARE(name) decltype(&::name) name = nullptr;
  GPTOSS_LLAMA_FUNCTIONS(GPTOSS_DECLARE)
#undef GPTOSS_DECLARE

  // Resolves every function from the library at `path` (already loaded: RTLD_NOLOAD first).
  // Returns an empty string on success, else what went wrong.
  std::string load(const std::string &path);
};

}  // namespace gptoss
