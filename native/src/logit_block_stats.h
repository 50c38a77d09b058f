// Block statistics of a step's logits, computed where llama.cpp left them (on a GPU, in device
// memory): for each output row, the probability mass of softmax(logits / T) in each block of the
// vocabulary (gpt-oss: 128 blocks of 1,571 tokens). With them, an exact draw picks the block from the
// masses and reads only that block's logits on the host (sampler.h: draw_from_block_masses), instead
// of reading the whole 804 KB row: at 256 sequences, 206 MB a step that the host's memory bandwidth
// makes ~11 ms.
//
// How: llama.cpp's eval callback hands over the finished output tensor (`result_output`) before its
// copy to the host; a small ggml graph of our own (scale by 1/T, softmax, sum over each block) runs on
// a backend of the tensor's own device and brings back 512 bytes a row. No change to llama.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llama_api.h"

namespace gptoss {

class LogitBlockStats {
 public:
  // The blocks a vocabulary splits into: the largest count up to 256 that divides it with blocks of
  // at most 4,096 tokens (the masses view the row as a matrix of whole blocks); 0 when none does.
  static int32_t block_count(int32_t n_vocab);

  // max_rows: the most outputs a step can have (the sequences): the device memory for that many is
  // reserved at the first step, so that steps with more rows than before do not reallocate it.
  LogitBlockStats(const GgmlApi &api, int32_t n_vocab, int32_t max_rows);
  ~LogitBlockStats();
  LogitBlockStats(const LogitBlockStats &) = delete;
  LogitBlockStats &operator=(const LogitBlockStats &) = delete;

  // From the eval callback, on the decode thread: `logits` is [n_vocab, rows] (F32, contiguous),
  // computed and synchronised; inv_t holds 1/T for each row. False (and no masses) when the tensor is
  // not what is expected or the graph fails: the step then samples from whole rows.
  bool compute(ggml_tensor *logits, const std::vector<float> &inv_t);

  int32_t blocks() const { return blocks_; }
  int32_t rows() const { return rows_; }
  // Row r's block masses (blocks() floats, summing to ~1).
  const float *row(int32_t r) const { return masses_.data() + static_cast<size_t>(r) * blocks_; }
  // Row r's first logit as the graph read it: compared with the host's copy of each row, it tells
  // which host row the masses belong to (llama.cpp reorders rows on the host after the copy).
  float first_logit(int32_t r) const { return first_logits_[static_cast<size_t>(r)]; }
  // Why the last compute() failed (for the log), empty after a success.
  const std::string &error() const { return error_; }

 private:
  struct Graph {
    ggml_cgraph *graph;
    ggml_tensor *input, *inv, *scaled, *probs, *masses, *firsts;
  };
  // The statistics' graph for `rows` rows in `ctx`; its input tensor has no memory yet.
  Graph build(ggml_context *ctx, int32_t rows) const;

  const GgmlApi &api_;
  const int32_t n_vocab_;
  const int32_t blocks_;
  const int32_t max_rows_;
  int32_t reserved_rows_ = 0;  // rows the allocator's device buffer holds
  ggml_backend_t backend_ = nullptr;
  ggml_backend_dev_t device_ = nullptr;
  ggml_gallocr_t allocator_ = nullptr;
  std::vector<uint8_t> meta_;  // ggml's metadata for the graph's tensors (no data: no_alloc)
  std::vector<float> masses_;
  std::vector<float> first_logits_;
  int32_t rows_ = 0;
  std::string error_;
};

}  // namespace gptoss
