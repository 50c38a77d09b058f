#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

// x86-64: AVX-512 (x86-64-v4) and AVX2+FMA (x86-64-v3) copies of the vectorised loops beside the
// baseline (SSE2) one, picked at load time by the CPU's features, so that one build runs everywhere
// and uses the widest vectors the CPU has. Not "arch=haswell": GCC's resolver picks an arch= clone
// by CPU model (__builtin_cpu_is), so that copy ran only on Haswell itself and every EPYC or newer
// Xeon ran the SSE2 one (bench/sampler: 64 ms for 256 rows here, 28 with the v3 copy, 23 with v4).
// (The ISA levels' clones need GCC 12; older ones keep the AVX2 copy by its feature list.)
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define GPTOSS_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GPTOSS_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GPTOSS_VECTOR_CLONES
#endif

namespace gptoss {

void apply_adjustments(float *logits, int32_t n_vocab, const SamplingConfig &cfg, const SamplerState &state) {
  if (cfg.presence_penalty != 0.0f || cfg.frequency_penalty != 0.0f) {
    for (const auto &[token, count] : state.counts) {
      if (token < 0 || token >= n_vocab) continue;
      logits[token] -= cfg.frequency_penalty * static_cast<float>(count) + (count > 0 ? cfg.presence_penalty : 0.0f);
    }
  }
  for (const auto &[token, value] : cfg.bias) {
    if (token < 0 || token >= n_vocab) continue;
    logits[token] = value <= -100.0f ? -std::numeric_limits<float>::infinity() : logits[token] + value;
  }
}

bool has_non_finite(const float *logits, int32_t n_vocab) {
  for (int32_t i = 0; i < n_vocab; ++i) {
    if (std::isnan(logits[i]) || logits[i] == std::numeric_limits<float>::infinity()) return true;
  }
  return false;
}

namespace {

// Temperature 0 is argmax; so is one so small that 1/T overflows (a client may send 1e-45): its
// weights would be 0 * inf = NaN for the top token. NaN compares false, so it lands here too.
bool greedy(const SamplingConfig &cfg) {
  return !(cfg.temperature > 0.0f && 1.0f / cfg.temperature < std::numeric_limits<float>::infinity());
}

// Independent float lanes of the vectorised loops: one AVX-512 register, or two AVX2 ones (two
// chains of additions in flight). With 8, the x86-64-v4 copy ran half-width: bench/sampler on an
// AVX-512 EPYC, 256 rows, one thread, 45.6 ms at 8 lanes and 23.4 at 16 (the v3 copy: 27.6 at 8,
// 29.9 at 16; the SSE2 one, all that ran before: 64.0).
constexpr int32_t kLanes = 16;

// The largest logit. Block-wise with independent lanes, which the compiler turns into vector
// max instructions (a plain running max over 201k floats is ~3x slower).
GPTOSS_VECTOR_CLONES
float max_logit(const float *logits, int32_t n_vocab) {
  float lanes[kLanes];
  for (float &lane : lanes) lane = -std::numeric_limits<float>::infinity();
  int32_t i = 0;
  for (; i + kLanes <= n_vocab; i += kLanes) {
    for (int32_t j = 0; j < kLanes; ++j) lanes[j] = logits[i + j] > lanes[j] ? logits[i + j] : lanes[j];
  }
  float best = -std::numeric_limits<float>::infinity();
  for (float lane : lanes) best = lane > best ? lane : best;
  for (; i < n_vocab; ++i) best = logits[i] > best ? logits[i] : best;
  return best;
}

// The first token holding the largest logit (greedy: ties go to the lowest id).
int32_t first_index_of(const float *logits, int32_t n_vocab, float value) {
  for (int32_t i = 0; i < n_vocab; ++i) {
    if (logits[i] == value) return i;
  }
  return -1;
}

// exp(x) for x <= 0, branch-free so that the compiler vectorises the loops that call it (glibc's
// expf only vectorises under -ffast-math, which would break the infinities of banned tokens).
// Cephes' single-precision method: x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-6 polynomial;
// relative error ~1e-7, that of expf itself. Below -87 (and for -inf: banned tokens) it is 0.
// NaN stays NaN (the sampler's check for broken weights sees it in the block sums). The exponent
// is read from the rounding trick's bits in unsigned arithmetic, not by a float-to-int conversion
// and a signed shift: for NaN those were undefined behaviour (UBSan found it).
// always_inline: so that it is compiled inside each vector clone of its callers (GCC does not
// vectorise a clone around a call it inlined late).
__attribute__((always_inline)) inline float exp_nonpositive(float x) {
  const float clamped = x < -87.0f ? -87.0f : x;
  // round(clamped * log2(e)) by the 1.5 * 2^23 trick (round-to-nearest, no SSE4.1 needed): the sum's
  // mantissa holds 0x400000 + n, so its bits + 127, shifted by 23, are 2^n's (the rest shifts out).
  const float shifted = clamped * 1.44269504088896341f + 12582912.0f;
  const float n = shifted - 12582912.0f;
  float r = clamped - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  uint32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  const uint32_t exponent = (bits + 127u) << 23;
  float scale;
  std::memcpy(&scale, &exponent, sizeof scale);
  const float value = p * scale;
  return x < -87.0f ? 0.0f : value;
}

constexpr int32_t kBlock = 1024;

// weights[i] = exp((logit_i - max) / T) for the whole row (the nucleus path orders candidates by
// them); returns their total. The sums run in kLanes independent float lanes, added up in double
// per block of kBlock: that is what lets the compiler vectorise the loop without being allowed to
// reassociate float math, which would also "simplify" away the rounding trick in exp_nonpositive.
GPTOSS_VECTOR_CLONES
double fill_weights(const float *logits, int32_t n_vocab, float max_logit, float inv_t, float *weights) {
  double total = 0.0;
  for (int32_t start = 0; start < n_vocab; start += kBlock) {
    const int32_t stop = std::min(n_vocab, start + kBlock);
    float lanes[kLanes] = {};
    int32_t i = start;
    for (; i + kLanes <= stop; i += kLanes) {
      for (int32_t j = 0; j < kLanes; ++j) {
        const float w = exp_nonpositive((logits[i + j] - max_logit) * inv_t);  // 0 for banned tokens
        weights[i + j] = w;
        lanes[j] += w;
      }
    }
    double block = 0.0;
    for (; i < stop; ++i) {
      weights[i] = exp_nonpositive((logits[i] - max_logit) * inv_t);
      block += weights[i];
    }
    for (float lane : lanes) block += lane;
    total += block;
  }
  return total;
}

int32_t block_count(int32_t n_vocab) { return (n_vocab + kBlock - 1) / kBlock; }

// Per block of kBlock tokens in [first_block, end_block): its largest logit, and the sum of
// exp((logit - that maximum) / T) over it. ONE pass over the row in memory: the block's 4 KB are
// read from memory for its maximum and again from L1 for its sum, and no weight is written. (The
// earlier sampler read the row twice from memory and wrote and re-read an 800 KB weight array: at
// 256 streams a step's sampling moved ~600 MB.) A block holding only banned tokens has the maximum
// -inf and the sum 0; one whose finite logits are absent but which holds a NaN sums to NaN, as does
// any block with a NaN or +inf logit, so that broken weights still read as broken in the draw.
GPTOSS_VECTOR_CLONES
void block_stats(const float *logits, int32_t n_vocab, int32_t first_block, int32_t end_block, float inv_t,
                 float *block_max, double *block_sums) {
  for (int32_t b = first_block; b < end_block; ++b) {
    const int32_t start = b * kBlock;
    const int32_t stop = std::min(n_vocab, start + kBlock);
    float top_lanes[kLanes];
    for (float &lane : top_lanes) lane = -std::numeric_limits<float>::infinity();
    int32_t i = start;
    for (; i + kLanes <= stop; i += kLanes) {
      for (int32_t j = 0; j < kLanes; ++j) top_lanes[j] = logits[i + j] > top_lanes[j] ? logits[i + j] : top_lanes[j];
    }
    float top = -std::numeric_limits<float>::infinity();
    for (float lane : top_lanes) top = lane > top ? lane : top;
    for (; i < stop; ++i) top = logits[i] > top ? logits[i] : top;
    block_max[b] = top;
    if (!(top > -std::numeric_limits<float>::infinity())) {
      // Nothing finite (rare: a block of bans): 0, unless a NaN hides here.
      double sum = 0.0;
      for (int32_t k = start; k < stop; ++k) sum += std::isnan(logits[k]) ? logits[k] : 0.0f;
      block_sums[b] = sum;
      continue;
    }
    float lanes[kLanes] = {};
    i = start;
    for (; i + kLanes <= stop; i += kLanes) {
      for (int32_t j = 0; j < kLanes; ++j) lanes[j] += exp_nonpositive((logits[i + j] - top) * inv_t);
    }
    double sum = 0.0;
    for (; i < stop; ++i) sum += exp_nonpositive((logits[i] - top) * inv_t);
    for (float lane : lanes) sum += lane;
    block_sums[b] = sum;
  }
}

// One draw from P(i) proportional to exp((logit_i - max) / T), given every block's statistics
// (block_stats): the block holding the target mass is found from the block sums, each rescaled from
// its own maximum to the row's, and only that block's weights are computed again.
int32_t draw_from_blocks(const float *logits, int32_t n_vocab, float inv_t, const float *block_max,
                         const double *block_sums, std::mt19937_64 &rng) {
  const int32_t n_blocks = block_count(n_vocab);
  float top = -std::numeric_limits<float>::infinity();
  for (int32_t b = 0; b < n_blocks; ++b) top = block_max[b] > top ? block_max[b] : top;
  // Nothing finite: every token banned, or NaN, which the maximum skips and reads as banned.
  if (!(top > -std::numeric_limits<float>::infinity())) return kAllExcluded;
  if (top == std::numeric_limits<float>::infinity()) return kNonFiniteWeights;  // inf - inf below
  const auto factor = [&](int32_t b) {
    return block_max[b] > -std::numeric_limits<float>::infinity()
               ? std::exp(static_cast<double>(block_max[b] - top) * static_cast<double>(inv_t))
               : 0.0;
  };
  double total = 0.0;
  bool nan = false;
  for (int32_t b = 0; b < n_blocks; ++b) {
    nan = nan || std::isnan(block_sums[b]);
    total += factor(b) * block_sums[b];
  }
  // A NaN logit makes its block's sum NaN (and the draw below would return whatever comes last).
  if (nan || !std::isfinite(total)) return kNonFiniteWeights;
  if (!(total > 0.0)) return kAllExcluded;
  const double target = uniform01(rng) * total;
  double cumulative = 0.0;
  int32_t last_positive = -1;
  for (int32_t b = 0; b < n_blocks; ++b) {
    const double scale = factor(b);
    const double mass = scale * block_sums[b];
    if (mass <= 0.0) continue;
    if (cumulative + mass <= target) {
      cumulative += mass;
      continue;
    }
    const int32_t start = b * kBlock;
    const int32_t end = std::min(n_vocab, start + kBlock);
    for (int32_t i = start; i < end; ++i) {
      const float w = exp_nonpositive((logits[i] - block_max[b]) * inv_t);
      if (w <= 0.0f) continue;
      cumulative += scale * w;
      last_positive = i;
      if (cumulative > target) return i;
    }
    // Rounding left the target just past this block's recomputed weights: the next block takes it.
  }
  return last_positive >= 0 ? last_positive : kAllExcluded;  // (only reachable through rounding)
}

// log(sum_i exp(logit_i - max)) + max, the normaliser of the log-softmax. Summed like fill_weights
// (float lanes per block, blocks in double) so that it vectorises.
GPTOSS_VECTOR_CLONES
double log_sum_exp(const float *logits, int32_t n_vocab, float max_logit) {
  double total = 0.0;
  for (int32_t start = 0; start < n_vocab; start += kBlock) {
    const int32_t stop = std::min(n_vocab, start + kBlock);
    float lanes[kLanes] = {};
    int32_t i = start;
    for (; i + kLanes <= stop; i += kLanes) {
      for (int32_t j = 0; j < kLanes; ++j) lanes[j] += exp_nonpositive(logits[i + j] - max_logit);
    }
    double block = 0.0;
    for (; i < stop; ++i) block += exp_nonpositive(logits[i] - max_logit);
    for (float lane : lanes) block += lane;
    total += block;
  }
  return static_cast<double>(max_logit) + std::log(total);
}

}  // namespace

void token_logprobs(const float *raw, int32_t n_vocab, int32_t token, int32_t top_n, std::vector<float> &logprob,
                    std::vector<int32_t> &top_tokens, std::vector<float> &top_logprobs) {
  const float top = max_logit(raw, n_vocab);
  // An all -inf row has no distribution (never a model's raw logits): every logprob is -inf.
  const double lse = top > -std::numeric_limits<float>::infinity() ? log_sum_exp(raw, n_vocab, top)
                                                                   : std::numeric_limits<double>::infinity();
  const auto log_p = [lse](float logit) { return static_cast<float>(static_cast<double>(logit) - lse); };
  logprob.push_back(token >= 0 && token < n_vocab ? log_p(raw[token]) : -std::numeric_limits<float>::infinity());
  const int32_t n = std::clamp<int32_t>(top_n, 0, std::min(kMaxTopLogprobs, n_vocab));
  if (n == 0) return;
  // Insertion into a sorted array of n: most logits are below its last entry and cost one compare.
  // Ids ascend, so a later token only displaces on a strictly larger logit (ties: lower id first).
  int32_t best[kMaxTopLogprobs];
  int32_t held = 0;
  for (int32_t i = 0; i < n_vocab; ++i) {
    const float x = raw[i];
    if (held == n && !(x > raw[best[n - 1]])) continue;  // (NaN compares false: never listed)
    if (std::isnan(x)) continue;
    int32_t at = held < n ? held++ : n - 1;
    while (at > 0 && x > raw[best[at - 1]]) {
      best[at] = best[at - 1];
      --at;
    }
    best[at] = i;
  }
  for (int32_t k = 0; k < held; ++k) {
    top_tokens.push_back(best[k]);
    top_logprobs.push_back(log_p(raw[best[k]]));
  }
}

int32_t draw_token(const float *logits, int32_t n_vocab, const SamplingConfig &cfg, std::mt19937_64 &rng,
                   SamplerScratch &scratch) {
  if (!greedy(cfg) && cfg.top_p >= 1.0f) {
    // The whole distribution: one pass for the block statistics, then the block of the draw.
    const float inv_t = 1.0f / cfg.temperature;
    const int32_t n_blocks = block_count(n_vocab);
    scratch.block_max.resize(static_cast<size_t>(n_blocks));
    scratch.block_sums.resize(static_cast<size_t>(n_blocks));
    block_stats(logits, n_vocab, 0, n_blocks, inv_t, scratch.block_max.data(), scratch.block_sums.data());
    return draw_from_blocks(logits, n_vocab, inv_t, scratch.block_max.data(), scratch.block_sums.data(), rng);
  }
  const float top = max_logit(logits, n_vocab);
  if (!(top > -std::numeric_limits<float>::infinity())) return kAllExcluded;
  if (top == std::numeric_limits<float>::infinity()) return kNonFiniteWeights;  // inf - inf below
  if (greedy(cfg)) return first_index_of(logits, n_vocab, top);

  const float inv_t = 1.0f / cfg.temperature;
  scratch.weights.resize(static_cast<size_t>(n_vocab));
  float *weights = scratch.weights.data();
  const double total = fill_weights(logits, n_vocab, top, inv_t, weights);
  if (!std::isfinite(total)) return kNonFiniteWeights;

  // Nucleus: the smallest set of most probable tokens (logit descending, lower id first on ties)
  // whose mass reaches top_p. Order only as many candidates as needed: the top k by partial
  // selection, k growing 16x until the nucleus fits (a flat distribution ends in a full sort).
  const double needed = static_cast<double>(cfg.top_p) * total;
  auto &order = scratch.order;
  order.resize(static_cast<size_t>(n_vocab));
  for (int32_t i = 0; i < n_vocab; ++i) order[static_cast<size_t>(i)] = i;
  const auto before = [logits](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  int32_t k = std::min<int32_t>(n_vocab, 256);
  while (true) {
    if (k < n_vocab) {
      std::nth_element(order.begin(), order.begin() + k, order.end(), before);
    }
    std::sort(order.begin(), order.begin() + k, before);
    double cumulative = 0.0;
    int32_t size = -1;
    for (int32_t j = 0; j < k; ++j) {
      cumulative += weights[order[static_cast<size_t>(j)]];
      if (cumulative >= needed) {
        size = j + 1;
        break;
      }
    }
    if (size < 0 && k == n_vocab) size = n_vocab;  // rounding: the whole vocabulary
    if (size > 0) {
      const double target = uniform01(rng) * cumulative;
      double running = 0.0;
      for (int32_t j = 0; j < size; ++j) {
        const int32_t token = order[static_cast<size_t>(j)];
        running += weights[token];
        if (running > target && weights[token] > 0.0f) return token;
      }
      return order[0];
    }
    k = static_cast<int32_t>(std::min<int64_t>(n_vocab, static_cast<int64_t>(k) * 16));
  }
}

int32_t draw_token_split(const float *logits, int32_t n_vocab, const SamplingConfig &cfg, std::mt19937_64 &rng,
                         SamplerScratch &scratch, ThreadPool &pool) {
  const int32_t n_blocks = block_count(n_vocab);
  const int parts = std::min(pool.size(), static_cast<int>(n_blocks));
  if (greedy(cfg) || cfg.top_p < 1.0f || parts < 2) return draw_token(logits, n_vocab, cfg, rng, scratch);
  const float inv_t = 1.0f / cfg.temperature;
  scratch.block_max.resize(static_cast<size_t>(n_blocks));
  scratch.block_sums.resize(static_cast<size_t>(n_blocks));
  // Each part computes its blocks' statistics: one parallel pass, no barrier for the row's maximum
  // (every block is relative to its own; the draw rescales them).
  pool.parallel_for(parts, [&](int p, int) {
    const auto first = static_cast<int32_t>(int64_t{n_blocks} * p / parts);
    const auto end = static_cast<int32_t>(int64_t{n_blocks} * (p + 1) / parts);
    block_stats(logits, n_vocab, first, end, inv_t, scratch.block_max.data(), scratch.block_sums.data());
  });
  return draw_from_blocks(logits, n_vocab, inv_t, scratch.block_max.data(), scratch.block_sums.data(), rng);
}


int32_t draw_from_block_masses(const float *logits, int32_t n_vocab, float temperature, const float *masses,
                               int32_t n_blocks, std::mt19937_64 &rng) {
  if (n_blocks <= 0 || n_vocab % n_blocks != 0 || !(temperature > 0.0f)) return kNonFiniteWeights;
  double total = 0.0;
  int32_t last_block = -1;  // the last block with mass takes what rounding leaves past the others
  for (int32_t b = 0; b < n_blocks; ++b) {
    if (!std::isfinite(masses[b]) || masses[b] < 0.0f) return kNonFiniteWeights;
    total += masses[b];
    if (masses[b] > 0.0f) last_block = b;
  }
  if (!(total > 0.0)) return kNonFiniteWeights;
  const double target = uniform01(rng) * total;
  const int32_t size = n_vocab / n_blocks;
  const float inv_t = 1.0f / temperature;
  double before = 0.0;
  for (int32_t b = 0; b < n_blocks; ++b) {
    const double mass = masses[b];
    if (mass <= 0.0) continue;
    if (before + mass <= target && b != last_block) {
      before += mass;
      continue;
    }
    // Within the block, exactly: weights relative to its own maximum, in double.
    const float *block = logits + static_cast<size_t>(b) * size;
    float top = -std::numeric_limits<float>::infinity();
    for (int32_t i = 0; i < size; ++i) top = block[i] > top ? block[i] : top;
    if (!(top > -std::numeric_limits<float>::infinity()) || !std::isfinite(top)) return kNonFiniteWeights;
    double sum = 0.0;
    for (int32_t i = 0; i < size; ++i) sum += exp_nonpositive((block[i] - top) * inv_t);
    if (!(sum > 0.0) || !std::isfinite(sum)) return kNonFiniteWeights;
    const double fraction = std::min(1.0, std::max(0.0, (target - before) / mass));
    const double inner = fraction * sum;
    double cumulative = 0.0;
    int32_t last_positive = -1;
    for (int32_t i = 0; i < size; ++i) {
      const double w = exp_nonpositive((block[i] - top) * inv_t);
      if (w <= 0.0) continue;
      cumulative += w;
      last_positive = i;
      if (cumulative > inner) return b * size + i;
    }
    return last_positive >= 0 ? b * size + last_positive : kNonFiniteWeights;
  }
  return kNonFiniteWeights;
}

}  // namespace gptoss
