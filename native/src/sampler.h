// The exact sampler: OpenAI semantics over the whole vocabulary, O(vocabulary) per token, no sort
// unless top_p < 1 (then only as many candidates as the nucleus needs are ordered).
//
// Why not llama.cpp's sampler chain: with top_k off, its dist sampler sorts all 201,088 candidates
// per token (~20 ms on a server core), which is what capped node-llama-cpp and llama-server at
// ~300 tokens/s on an H100. Sampling from a categorical distribution needs no order at all: one
// pass for the maximum, one for the normaliser, one cumulative scan for the draw.
#pragma once

#include <cstdint>
#include <random>
#include <unordered_map>
#include <utility>
#include <vector>

#include "thread_pool.h"

namespace gptoss {

struct SamplingConfig {
  float temperature = 1.0f;  // 0 = greedy
  float top_p = 1.0f;        // (0, 1]; 1 keeps everything
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::vector<std::pair<int32_t, float>> bias;  // a bias <= -100 bans the token
};

// Per-sequence state the sampler reads and updates.
struct SamplerState {
  std::mt19937_64 rng;
  std::unordered_map<int32_t, int32_t> counts;  // generated token -> occurrences (penalties)
};

// Reusable buffers, one per sampling thread.
struct SamplerScratch {
  std::vector<float> weights;
  std::vector<int32_t> order;
  std::vector<double> block_sums;
  std::vector<float> block_max;  // per block of the vocabulary: its largest logit
  std::vector<float> raw;  // the row before adjustments, kept only when logprobs are asked for
};

// The most alternatives token_logprobs lists (OpenAI's top_logprobs cap).
constexpr int32_t kMaxTopLogprobs = 20;

// OpenAI's logprobs, over the model's RAW logits (before temperature, penalties, bias, grammar and
// top_p; vLLM's default raw_logprobs): log-softmax(raw)[token], appended to `logprob`, and the
// `top_n` most likely tokens (logit descending, lower id first on ties) with theirs, appended to
// `top_tokens` / `top_logprobs`. One pass for the maximum, one for the normaliser, one for the top
// n: ~3 passes over the vocabulary, paid only by requests that ask.
void token_logprobs(const float *raw, int32_t n_vocab, int32_t token, int32_t top_n, std::vector<float> &logprob,
                    std::vector<int32_t> &top_tokens, std::vector<float> &top_logprobs);

// Uniform double in [0, 1) with 53 random bits.
inline double uniform01(std::mt19937_64 &rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Applies penalties and biases to `logits` in place (the caller's copy: llama.cpp's output buffer).
void apply_adjustments(float *logits, int32_t n_vocab, const SamplingConfig &cfg, const SamplerState &state);

// What draw_token returns instead of a token: every token is banned (or NaN: the maximum skips NaN,
// so an all-NaN row reads as all banned), or the weights were not finite (a NaN or +inf logit).
constexpr int32_t kAllExcluded = -1;
constexpr int32_t kNonFiniteWeights = -2;

// True when a logit is NaN or +inf (-inf is a ban). A full scan: for after a draw failed.
bool has_non_finite(const float *logits, int32_t n_vocab);

// Draws one token from the adjusted logits, or returns kAllExcluded / kNonFiniteWeights.
int32_t draw_token(const float *logits, int32_t n_vocab, const SamplingConfig &cfg, std::mt19937_64 &rng,
                   SamplerScratch &scratch);

// The same draw with the vocabulary split across the pool's threads (for steps with fewer
// sequences than threads: one stream's sampling is on its critical path). Same distribution;
// falls back to draw_token where splitting does not apply (greedy, top_p < 1, one thread).
int32_t draw_token_split(const float *logits, int32_t n_vocab, const SamplingConfig &cfg, std::mt19937_64 &rng,
                         SamplerScratch &scratch, ThreadPool &pool);

// The draw of draw_token for top_p = 1 and T > 0, given each block's share of the probability mass
// (computed with the logits, on the GPU: logit_block_stats.h): the block is picked from `masses`
// (n_blocks floats, blocks of n_vocab / n_blocks tokens in order) with the same uniform number
// draw_token takes, and only that block's logits are read. The same inverse-CDF over token order as
// draw_token, so the same token for the same uniform, up to the masses' float rounding. Returns
// kNonFiniteWeights when the masses are unusable (not finite, or none positive): the caller then
// draws from the whole row.
int32_t draw_from_block_masses(const float *logits, int32_t n_vocab, float temperature, const float *masses,
                               int32_t n_blocks, std::mt19937_64 &rng);

}  // namespace gptoss
