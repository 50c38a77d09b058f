#include "logit_block_stats.h"

#include <algorithm>
#include <cstring>

namespace gptoss {

int32_t LogitBlockStats::block_count(int32_t n_vocab) {
  for (int32_t blocks = 256; blocks >= 16; --blocks) {
    if (n_vocab % blocks == 0 && n_vocab / blocks <= 4096) return blocks;
  }
  return 0;
}

LogitBlockStats::LogitBlockStats(const GgmlApi &api, int32_t n_vocab, int32_t max_rows)
    : api_(api), n_vocab_(n_vocab), blocks_(block_count(n_vocab)), max_rows_(max_rows) {
  // Room for the graph's few tensors and the graph itself; their data lives in allocator_'s buffer.
  meta_.resize(api_.ggml_tensor_overhead() * 16 + api_.ggml_graph_overhead());
}

// masses[b, r] = sum over block b of softmax(logits[:, r] * inv_t[r]); firsts[r] = logits[0, r].
// The logits enter as a tensor of our own (placed over llama.cpp's memory by the caller), not as
// llama.cpp's tensor: that one carries its sources, and a graph built from it would pull in (and
// compute again) the whole model's step (the tests saw exactly that: different logits).
LogitBlockStats::Graph LogitBlockStats::build(ggml_context *ctx, int32_t rows) const {
  Graph g{};
  g.input = api_.ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n_vocab_, rows);
  g.inv = api_.ggml_new_tensor_2d(ctx, GGML_TYPE_F32, 1, rows);
  api_.ggml_set_input(g.inv);
  g.scaled = api_.ggml_mul(ctx, g.input, g.inv);
  g.probs = api_.ggml_soft_max_inplace(ctx, g.scaled);
  ggml_tensor *by_block = api_.ggml_reshape_2d(ctx, g.probs, n_vocab_ / blocks_, static_cast<int64_t>(blocks_) * rows);
  g.masses = api_.ggml_sum_rows(ctx, by_block);
  api_.ggml_set_output(g.masses);
  g.firsts = api_.ggml_cont(ctx, api_.ggml_view_2d(ctx, g.input, 1, rows, g.input->nb[1], 0));
  api_.ggml_set_output(g.firsts);
  g.graph = api_.ggml_new_graph(ctx);
  api_.ggml_build_forward_expand(g.graph, g.masses);
  api_.ggml_build_forward_expand(g.graph, g.firsts);
  return g;
}

LogitBlockStats::~LogitBlockStats() {
  if (allocator_ != nullptr) api_.ggml_gallocr_free(allocator_);
  if (backend_ != nullptr) api_.ggml_backend_free(backend_);
}

bool LogitBlockStats::compute(ggml_tensor *logits, const std::vector<float> &inv_t) {
  rows_ = 0;
  error_.clear();
  const auto fail = [this](const char *why) {
    error_ = why;
    return false;
  };
  if (blocks_ == 0) return fail("the vocabulary does not split into blocks");
  if (logits == nullptr || logits->type != GGML_TYPE_F32 || logits->ne[0] != n_vocab_ || logits->ne[2] != 1 ||
      logits->ne[3] != 1 || !api_.ggml_is_contiguous(logits) || logits->buffer == nullptr) {
    return fail("the output tensor is not [n_vocab, rows] F32");
  }
  const auto rows = static_cast<int32_t>(logits->ne[1]);
  if (rows <= 0 || static_cast<size_t>(rows) != inv_t.size()) return fail("one temperature a row is needed");

  // A backend on the device that holds the logits (the GPU; the CPU for a CPU model), made once.
  ggml_backend_dev_t device = api_.ggml_backend_buft_get_device(api_.ggml_backend_buffer_get_type(logits->buffer));
  // ggml's plain CPU buffer type names no device: host memory is the CPU's.
  if (device == nullptr && api_.ggml_backend_buffer_is_host(logits->buffer)) {
    device = api_.ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
  }
  if (device == nullptr) return fail("the logits' buffer names no device");
  if (backend_ == nullptr || device != device_) {
    if (allocator_ != nullptr) api_.ggml_gallocr_free(allocator_);
    if (backend_ != nullptr) api_.ggml_backend_free(backend_);
    allocator_ = nullptr;
    reserved_rows_ = 0;
    backend_ = api_.ggml_backend_dev_init(device, nullptr);
    device_ = device;
    if (backend_ == nullptr) return fail("cannot start a backend on the logits' device");
    allocator_ = api_.ggml_gallocr_new(api_.ggml_backend_get_default_buffer_type(backend_));
    if (allocator_ == nullptr) return fail("cannot make a graph allocator");
  }

  ggml_init_params params{meta_.size(), meta_.data(), /*no_alloc=*/true};
  // Device memory for the most rows a step can have, once: a graph of that size is measured (never
  // run), its input pointed at the logits so that the allocator leaves it out.
  if (reserved_rows_ < rows) {
    const int32_t reserve_rows = std::max(rows, max_rows_);
    ggml_context *sizing = api_.ggml_init(params);
    if (sizing == nullptr) return fail("ggml_init failed");
    Graph big = build(sizing, reserve_rows);
    big.input->buffer = logits->buffer;
    big.input->data = logits->data;
    const bool reserved = api_.ggml_gallocr_reserve(allocator_, big.graph);
    api_.ggml_free(sizing);
    if (!reserved) return fail("cannot reserve device memory for the statistics");
    reserved_rows_ = reserve_rows;
  }
  ggml_context *ctx = api_.ggml_init(params);
  if (ctx == nullptr) return fail("ggml_init failed");
  Graph g = build(ctx, rows);
  if (api_.ggml_backend_tensor_alloc(logits->buffer, g.input, logits->data) != GGML_STATUS_SUCCESS) {
    api_.ggml_free(ctx);
    return fail("cannot view the logits");
  }
  // A backend that cannot run an op would abort inside ggml: ask first.
  for (ggml_tensor *node : {g.scaled, g.probs, g.masses, g.firsts}) {
    if (!api_.ggml_backend_supports_op(backend_, node)) {
      api_.ggml_free(ctx);
      return fail("the logits' device cannot run the statistics' graph");
    }
  }
  bool ok = api_.ggml_gallocr_alloc_graph(allocator_, g.graph);
  if (ok) {
    api_.ggml_backend_tensor_set(g.inv, inv_t.data(), 0, inv_t.size() * sizeof(float));
    ok = api_.ggml_backend_graph_compute(backend_, g.graph) == GGML_STATUS_SUCCESS;
  }
  if (ok) {
    masses_.resize(static_cast<size_t>(blocks_) * rows);
    api_.ggml_backend_tensor_get(g.masses, masses_.data(), 0, masses_.size() * sizeof(float));
    first_logits_.resize(static_cast<size_t>(rows));
    api_.ggml_backend_tensor_get(g.firsts, first_logits_.data(), 0, first_logits_.size() * sizeof(float));
    rows_ = rows;
  }
  api_.ggml_free(ctx);
  return ok ? true : fail("the block statistics graph failed");
}

}  // namespace gptoss
