// The llama.cpp functions the core calls, resolved at run time from the libllama that
// node-llama-cpp's prebuilt binary already loaded (CPU, CUDA or Vulkan build). Linking against
// one of those files at build time would pin the core to that build; resolving them from the
// loaded library keeps one copy of llama.cpp and ggml in the process, with the backends that
// node-llama-cpp registered. The headers in native/include are from the same llama.cpp commit
// (node-llama-cpp's bundle, tag in native/include/VERSION).
#pragma once

#include <memory>
#include <string>

#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml.h"
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
  X(llama_perf_context)            \
  X(llama_get_logits_ith)          \
  X(llama_get_memory)              \
  X(llama_memory_seq_rm)           \
  X(llama_memory_seq_cp)           \
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

// The ggml functions the block statistics of the logits use (logit_block_stats.h), resolved from the
// same library (its dependencies hold them). Optional: a ggml without one of them leaves the
// statistics off, and the sampler reads whole rows as before.
struct GgmlApi {
#define GPTOSS_GGML_FUNCTIONS(X)            \
  X(ggml_init)                              \
  X(ggml_free)                              \
  X(ggml_tensor_overhead)                   \
  X(ggml_graph_overhead)                    \
  X(ggml_new_tensor_2d)                     \
  X(ggml_set_input)                         \
  X(ggml_set_output)                        \
  X(ggml_is_contiguous)                     \
  X(ggml_mul)                               \
  X(ggml_soft_max_inplace)                  \
  X(ggml_reshape_2d)                        \
  X(ggml_view_2d)                           \
  X(ggml_cont)                              \
  X(ggml_sum_rows)                          \
  X(ggml_new_graph)                         \
  X(ggml_build_forward_expand)              \
  X(ggml_backend_buffer_get_type)           \
  X(ggml_backend_buffer_is_host)            \
  X(ggml_backend_buft_get_device)           \
  X(ggml_backend_dev_init)                  \
  X(ggml_backend_dev_by_type)               \
  X(ggml_backend_free)                      \
  X(ggml_backend_get_default_buffer_type)   \
  X(ggml_backend_graph_compute)             \
  X(ggml_backend_supports_op)               \
  X(ggml_backend_tensor_set)                \
  X(ggml_backend_tensor_alloc)              \
  X(ggml_backend_tensor_get)                \
  X(ggml_gallocr_new)                       \
  X(ggml_gallocr_free)                      \
  X(ggml_gallocr_alloc_graph)               \
  X(ggml_gallocr_reserve)

#define GPTOSS_DECLARE(name) decltype(&::name) name = nullptr;
  GPTOSS_GGML_FUNCTIONS(GPTOSS_DECLARE)
#undef GPTOSS_DECLARE

  // Resolves them from the library at `path` (loaded already by LlamaApi::load). Empty on success.
  std::string load(const std::string &path);
};

// Owners of llama.cpp handles, freed through the resolved functions (there is no libllama to link
// the plain free functions against). A constructor that throws half-way then frees what it made:
// on a GPU that is the model's and the KV cache's device memory.
template <typename T>
struct LlamaDeleter {
  void (*release)(T *) = nullptr;
  void operator()(T *handle) const noexcept {
    if (release != nullptr) release(handle);
  }
};
using ModelPtr = std::unique_ptr<llama_model, LlamaDeleter<llama_model>>;
using ContextPtr = std::unique_ptr<llama_context, LlamaDeleter<llama_context>>;
using SamplerPtr = std::unique_ptr<llama_sampler, LlamaDeleter<llama_sampler>>;

// llama_batch is a struct of arrays returned by value: the owner holds it on the heap.
struct BatchDeleter {
  void (*release)(llama_batch) = nullptr;
  void operator()(llama_batch *batch) const noexcept {
    if (release != nullptr) release(*batch);
    delete batch;
  }
};
using BatchPtr = std::unique_ptr<llama_batch, BatchDeleter>;

}  // namespace gptoss
