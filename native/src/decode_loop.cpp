#include "decode_loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace gptoss {

namespace {

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Most tokens one generating sequence feeds a step (its sampled token and those the grammar forced
// after it): the rest wait for the next, so that forced runs do not crowd out prompt chunks.
constexpr int32_t kMaxFedPerStep = 8;

// The generator's seed for a seeded request's draw at `position` (tokens generated before it):
// splitmix64 of the two, so that neighbouring positions get unrelated streams.
uint64_t position_seed(uint64_t seed, int32_t position) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(position) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// What a sequence's request fails with when the loop dies under it.
std::string loop_failed(const std::string &what) { return "the decode loop failed: " + what; }

}  // namespace

struct DecodeLoop::Sequence {
  int32_t slot = 0;
  // The llama.cpp sequence id, i.e. the KV stream, that holds this slot's cache: the slot's own at
  // first; compact_streams may move a busy sequence to another stream (JavaScript sees slots).
  int32_t stream = 0;
  bool active = false;
  std::vector<int32_t> prompt;
  size_t fed = 0;         // prompt tokens already in the KV cache
  int32_t kv_length = 0;  // cells this slot holds; persists between requests (prefix reuse)
  // Generating: the tokens the next steps decode, the last sampled one and any the grammar forced
  // after it (a step may take only part of them when the batch is full; it samples after the last).
  std::vector<int32_t> feed;
  // Tokens forced before the prompt was read: emitted with the first sampled token, so that they
  // do not reach the client (and its time to first token) before the prompt has been read.
  std::vector<int32_t> unsent;
  bool generating = false;
  int32_t generated = 0;
  int32_t max_tokens = 1;
  int32_t min_tokens = 0;
  std::unordered_set<int32_t> stop;
  SamplingConfig sampling;
  SamplerState state;
  SamplerPtr grammar;
  std::shared_ptr<const std::string> grammar_text;  // the request's GBNF, shared with the mask cache
  uint64_t grammar_hash = 0;                        // of grammar_text: the mask cache's key
  std::vector<int32_t> grammar_accepted;  // tokens the grammar accepted, up to kMaxPrefix + 1
  int32_t logprobs = -1;  // SequenceRequest::logprobs
  // A seeded request draws each position from its own generator, seeded by (seed, position): its
  // tokens then do not depend on how many draws earlier positions took (a rejected draw takes two, a
  // token the grammar forces none, and which happens depends on what the grammar cache holds).
  bool seeded = false;
  uint64_t seed = 0;
  int32_t cached = 0;
  uint64_t arrival = 0;
  // per step
  int32_t logit_index = -1;
  int32_t fed_this_step = 0;
  int32_t sampled = -1;
  bool non_finite = false;  // the draw failed on NaN or +inf logits
  bool full_check_pending = false;  // rejected under a grammar: the step's second pass draws it
  // This step's block masses of the row (the GPU's statistics), when the draw may use them.
  const float *block_masses = nullptr;
  std::string error;
  // The sampled token's logprobs (when asked for), computed on a sampler thread, emitted with it.
  std::vector<float> step_logprob;
  std::vector<int32_t> step_top_tokens;
  std::vector<float> step_top_logprobs;
};

DecodeLoop::DecodeLoop(const LlamaApi &api, const LoopOptions &options, std::function<void()> notify)
    : api_(api), options_(options), notify_(std::move(notify)) {
  if (options_.sequences < 1) throw std::invalid_argument("sequences must be >= 1");
  // Every generating sequence puts one token in each step's batch.
  if (options_.batch_size < options_.sequences) throw std::invalid_argument("batch size must be >= sequences");
  llama_model_params mparams = api_.llama_model_default_params();
  mparams.n_gpu_layers = options_.gpu_layers;
  mparams.split_mode = options_.split_mode;
  // From here on every handle has its owner at once: a throw below frees what was made (the model's
  // and the KV cache's GPU memory included) instead of leaking it for the life of the process.
  model_ = ModelPtr(api_.llama_model_load_from_file(options_.model_path.c_str(), mparams), {api_.llama_model_free});
  if (!model_) throw std::runtime_error("llama.cpp could not load " + options_.model_path);
  const int32_t n_layer = api_.llama_model_n_layer(model_.get());
  gpu_layers_ = options_.gpu_layers < 0 ? n_layer + 1 : std::min(options_.gpu_layers, n_layer + 1);

  llama_context_params cparams = api_.llama_context_default_params();
  cparams.n_seq_max = static_cast<uint32_t>(options_.sequences);
  cparams.n_ctx = static_cast<uint32_t>(options_.context_per_sequence) * cparams.n_seq_max;
  cparams.n_batch = static_cast<uint32_t>(options_.batch_size);
  // A 512-token prompt plus the chat template fits one micro-batch (TTFT: one pass, not two).
  cparams.n_ubatch = std::min<uint32_t>(cparams.n_batch, 1024);
  cparams.n_threads = options_.threads;
  cparams.n_threads_batch = options_.threads;
  cparams.flash_attn_type = options_.flash_attention < 0    ? LLAMA_FLASH_ATTN_TYPE_AUTO
                            : options_.flash_attention == 0 ? LLAMA_FLASH_ATTN_TYPE_DISABLED
                                                            : LLAMA_FLASH_ATTN_TYPE_ENABLED;
  // Every sequence keeps its whole history (gpt-oss's sliding-window layers too), so a cached
  // prefix can be reused; each sequence has its own KV stream, so attention only reads its own.
  cparams.swa_full = true;
  cparams.kv_unified = false;
  cparams.no_perf = true;
  // Block statistics through llama.cpp's eval callback, when ggml's functions resolve and the
  // vocabulary splits into blocks; otherwise the sampler reads whole rows, as it always could.
  // (auto: only with the whole model on one GPU. On a CPU the host reads its own memory as fast. Over
  // several GPUs it is unmeasured, and llama.cpp synchronises after every graph split while an eval
  // callback is installed, which would take the overlap out of a layer split's pipeline.)
  const bool want_stats = options_.block_stats >= 1 || (options_.block_stats < 0 && gpu_layers_ > n_layer &&
                                                        options_.split_mode == LLAMA_SPLIT_MODE_NONE);
  if (want_stats && !options_.libllama_path.empty() && ggml_.load(options_.libllama_path).empty()) {
    const int32_t n_vocab = api_.llama_vocab_n_tokens(api_.llama_model_get_vocab(model_.get()));
    if (LogitBlockStats::block_count(n_vocab) > 0) {
      block_stats_ = std::make_unique<LogitBlockStats>(ggml_, n_vocab, options_.sequences);
      cparams.cb_eval = &DecodeLoop::eval_callback;
      cparams.cb_eval_user_data = this;
    }
  }
  ctx_ = ContextPtr(api_.llama_init_from_model(model_.get(), cparams), {api_.llama_free});
  if (!ctx_) throw std::runtime_error("llama.cpp could not create a context (not enough memory for the KV cache?)");
  vocab_ = api_.llama_model_get_vocab(model_.get());
  n_vocab_ = api_.llama_vocab_n_tokens(vocab_);
  n_ctx_seq_ = static_cast<int32_t>(api_.llama_n_ctx(ctx_.get()) / api_.llama_n_seq_max(ctx_.get()));
  for (int32_t t = 0; t < n_vocab_; ++t) {
    if (api_.llama_vocab_is_eog(vocab_, t)) eog_.push_back(t);
  }
  // The holder is allocated before llama_batch_init runs (C++17 sequencing): nothing to leak if it throws.
  batch_ = BatchPtr(new llama_batch(api_.llama_batch_init(options_.batch_size, 0, 1)), {api_.llama_batch_free});
  for (int32_t i = 0; i < options_.sequences; ++i) {
    slots_.push_back(std::make_unique<Sequence>());
    slots_.back()->slot = i;
    slots_.back()->stream = i;
  }
  slot_busy_.assign(static_cast<size_t>(options_.sequences), false);
  outbox_index_.assign(static_cast<size_t>(options_.sequences), -1);
  pool_ = std::make_unique<ThreadPool>(std::max(1, options_.sampler_threads), options_.sampler_spin_us);
  scratch_.resize(static_cast<size_t>(pool_->size()));
}

// The thread goes first (it uses everything); the owners then free the handles in the order the
// header declares them.
DecodeLoop::~DecodeLoop() { stop(); }

void DecodeLoop::start() { thread_ = std::thread([this] { run(); }); }

void DecodeLoop::add(SequenceRequest request) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (failed_) throw std::invalid_argument(loop_failed(failure_));
  if (stopping_) throw std::invalid_argument("the decode loop is stopped");
  if (request.slot < 0 || request.slot >= options_.sequences) throw std::invalid_argument("slot out of range");
  if (slot_busy_[static_cast<size_t>(request.slot)]) throw std::invalid_argument("slot is busy");
  if (request.tokens.empty()) throw std::invalid_argument("the prompt is empty");
  if (request.logprobs < -1 || request.logprobs > kMaxTopLogprobs) {
    throw std::invalid_argument("logprobs must be -1 (none) or 0.." + std::to_string(kMaxTopLogprobs));
  }
  slot_busy_[static_cast<size_t>(request.slot)] = true;
  pending_adds_.push_back(std::move(request));
  wake_.notify_one();
}

void DecodeLoop::cancel(int32_t slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  // A slot whose request already finished (its finish may not have reached JS yet) is left alone:
  // the cancel must not hit the slot's next request.
  if (slot < 0 || slot >= options_.sequences || !slot_busy_[static_cast<size_t>(slot)]) return;
  pending_cancels_.push_back(slot);
  wake_.notify_one();
}

void DecodeLoop::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::vector<SlotOutput> DecodeLoop::drain() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<SlotOutput> out;
  out.swap(outbox_);
  notify_pending_ = false;
  std::fill(outbox_index_.begin(), outbox_index_.end(), -1);
  return out;
}

LoopStats DecodeLoop::stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  LoopStats stats = stats_;
  // Live, not as of the last step: forcing can end a sequence in take_commands, with no step after.
  stats.grammar_mask_hits = grammar_masks_.hits();
  stats.grammar_full_checks = grammar_full_checks_.load();
  stats.grammar_forced_tokens = grammar_forced_tokens_.load();
  stats.block_stat_draws = block_stat_draws_.load();
  stats.block_stat_mismatches = block_stat_mismatches_.load();
  stats.failed = failed_;
  stats.failure = failure_;
  return stats;
}

void DecodeLoop::fail_for_test(std::string message) {
  std::lock_guard<std::mutex> lock(mutex_);
  injected_failure_ = message.empty() ? "a failure injected by a test" : std::move(message);
  wake_.notify_one();
}

// Called with mutex_ held.
static SlotOutput &outbox_entry(std::vector<SlotOutput> &outbox, std::vector<int32_t> &index, int32_t slot) {
  int32_t &at = index[static_cast<size_t>(slot)];
  if (at < 0) {
    at = static_cast<int32_t>(outbox.size());
    outbox.emplace_back();
    outbox.back().slot = slot;
  }
  return outbox[static_cast<size_t>(at)];
}

void DecodeLoop::emit_token(Sequence &seq, int32_t token) {
  std::lock_guard<std::mutex> lock(mutex_);
  SlotOutput &entry = outbox_entry(outbox_, outbox_index_, seq.slot);
  entry.tokens.push_back(token);
  if (seq.logprobs < 0) return;
  entry.top_n = seq.logprobs;
  entry.logprobs.insert(entry.logprobs.end(), seq.step_logprob.begin(), seq.step_logprob.end());
  entry.top_tokens.insert(entry.top_tokens.end(), seq.step_top_tokens.begin(), seq.step_top_tokens.end());
  entry.top_logprobs.insert(entry.top_logprobs.end(), seq.step_top_logprobs.begin(), seq.step_top_logprobs.end());
}

void DecodeLoop::finish(Sequence &seq, FinishReason reason, const std::string &message) {
  seq.active = false;
  seq.generating = false;
  seq.grammar.reset();
  std::lock_guard<std::mutex> lock(mutex_);
  SlotOutput &entry = outbox_entry(outbox_, outbox_index_, seq.slot);
  entry.finish = reason;
  entry.cached_tokens = seq.cached;
  entry.kv_length = seq.kv_length;
  entry.message = message;
  slot_busy_[static_cast<size_t>(seq.slot)] = false;
  // A cancel that crossed this finish belongs to the request that just ended.
  pending_cancels_.erase(std::remove(pending_cancels_.begin(), pending_cancels_.end(), seq.slot),
                         pending_cancels_.end());
}

void DecodeLoop::start_sequence(SequenceRequest &request) {
  Sequence &seq = *slots_[static_cast<size_t>(request.slot)];
  seq.prompt = std::move(request.tokens);
  seq.generated = 0;
  seq.generating = false;
  seq.feed.clear();
  seq.unsent.clear();
  seq.max_tokens = std::max(1, request.max_tokens);
  seq.min_tokens = request.min_tokens;
  seq.stop = std::unordered_set<int32_t>(request.stop_tokens.begin(), request.stop_tokens.end());
  seq.sampling = std::move(request.sampling);
  seq.logprobs = request.logprobs;
  seq.state.counts.clear();
  seq.seeded = request.has_seed;
  seq.seed = request.seed;
  seq.state.rng.seed(request.has_seed ? request.seed : std::random_device{}());
  seq.arrival = ++arrival_clock_;
  seq.active = true;
  seq.cached = 0;

  for (int32_t token : seq.prompt) {
    if (token < 0 || token >= n_vocab_) {
      finish(seq, FinishReason::kError, "prompt token " + std::to_string(token) + " is outside the vocabulary");
      return;
    }
  }
  if (static_cast<int32_t>(seq.prompt.size()) >= n_ctx_seq_) {
    finish(seq, FinishReason::kError,
           "the prompt (" + std::to_string(seq.prompt.size()) + " tokens) does not fit a sequence's context (" +
               std::to_string(n_ctx_seq_) + " tokens)");
    return;
  }
  // Keep the cached prefix, erase the rest. The last prompt token is always evaluated: its logits
  // give the first generated token.
  int32_t reuse = std::clamp(request.reuse, 0, std::min(seq.kv_length, static_cast<int32_t>(seq.prompt.size()) - 1));
  llama_memory_t memory = api_.llama_get_memory(ctx_.get());
  if (seq.kv_length > reuse && !api_.llama_memory_seq_rm(memory, seq.stream, reuse, -1)) {
    api_.llama_memory_seq_rm(memory, seq.stream, -1, -1);  // partial erase refused: start over
    reuse = 0;
  }
  seq.kv_length = reuse;
  seq.fed = static_cast<size_t>(reuse);
  seq.cached = reuse;
  seq.grammar_accepted.clear();
  seq.grammar_text.reset();
  if (!request.grammar.empty()) {
    seq.grammar_text = std::make_shared<const std::string>(std::move(request.grammar));
    seq.grammar_hash = std::hash<std::string>{}(*seq.grammar_text);
    seq.grammar = SamplerPtr(api_.llama_sampler_init_grammar(vocab_, seq.grammar_text->c_str(), "root"),
                             {api_.llama_sampler_free});
    if (!seq.grammar) {
      finish(seq, FinishReason::kError, "llama.cpp could not parse the grammar");
      return;
    }
    // Tokens the grammar forces before anything is drawn (harmony's <|channel|> after
    // <|start|>assistant) are read with the prompt, in the same step.
    force_tokens(seq, seq.prompt, seq.prompt.size());
  }
}

// A generated token (sampled or forced) counts against the budget and the penalties and goes out,
// after any forced ones still held back.
void DecodeLoop::accept_generated(Sequence &seq, int32_t token, bool hold_back) {
  ++seq.generated;
  ++seq.state.counts[token];
  if (hold_back) {
    seq.unsent.push_back(token);
    return;
  }
  for (int32_t held : seq.unsent) emit_token(seq, held);
  seq.unsent.clear();
  emit_token(seq, token);
}

// Jump-forward: while the mask cache says the grammar allows exactly one token next, that token is
// the draw whatever the logits (probability 1 under the masked distribution), so it is taken
// without one: accepted by the grammar, emitted, and appended to `into` (the prompt, or the tokens
// the next step decodes), which holds kv_after cells' worth of tokens once decoded. Only from the
// cache (finding out costs a full check otherwise), never for a request that asked for logprobs (a
// forced token has no distribution to report) or one whose logit_bias bans the token (the draw
// reports that instead). Returns false when the sequence finished (a forced stop token, the budget,
// the context).
bool DecodeLoop::force_tokens(Sequence &seq, std::vector<int32_t> &into, size_t kv_after) {
  if (seq.grammar == nullptr || seq.logprobs >= 0) return true;
  const bool with_prompt = &into == &seq.prompt;
  while (true) {
    const auto mask = cached_grammar_mask(seq, false);
    const int32_t token = mask ? sole_token(*mask) : -1;
    if (token < 0) return true;
    for (const auto &[id, value] : seq.sampling.bias) {
      if (id == token && value <= -100.0f) return true;
    }
    try {
      api_.llama_sampler_accept(seq.grammar.get(), token);
    } catch (const std::exception &error) {  // as on the sampled path: this request fails, not the loop
      finish(seq, FinishReason::kError, std::string("grammar: ") + error.what());
      return false;
    }
    seq.grammar_accepted.push_back(token);
    grammar_forced_tokens_.fetch_add(1);
    // Like a sampled token at kv_after: it ends the sequence where that one would (the sampled path
    // checks kv_length + 1 with the token at position kv_length).
    const bool ends = seq.stop.count(token) > 0 ||  // under a grammar a stop token always ends it
                      seq.generated + 1 >= seq.max_tokens || static_cast<int32_t>(kv_after) + 1 >= n_ctx_seq_;
    accept_generated(seq, token, with_prompt && !ends);
    if (ends) {
      // Like a sampled token's end: the last token is never decoded.
      finish(seq, seq.stop.count(token) > 0 ? FinishReason::kStop : FinishReason::kLength);
      return false;
    }
    into.push_back(token);
    ++kv_after;
  }
  return true;
}

void DecodeLoop::take_commands() {
  std::vector<SequenceRequest> adds;
  std::vector<int32_t> cancels;
  std::string injected;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    adds.swap(pending_adds_);
    cancels.swap(pending_cancels_);
    injected.swap(injected_failure_);
  }
  // Thrown with the adds taken but not started: the hardest case for fail(), which must still end them.
  if (!injected.empty()) throw std::runtime_error(injected);
  for (auto &request : adds) start_sequence(request);
  for (int32_t slot : cancels) {
    if (slot < 0 || slot >= options_.sequences) continue;
    Sequence &seq = *slots_[static_cast<size_t>(slot)];
    if (seq.active) finish(seq, FinishReason::kCancelled);
  }
}

void DecodeLoop::sample_sequence(Sequence &seq, float *row, SamplerScratch &scratch, ThreadPool *split_pool,
                                 bool defer_full_check) {
  seq.sampled = -1;
  seq.non_finite = false;
  seq.full_check_pending = false;
  seq.error.clear();
  if (seq.seeded) seq.state.rng.seed(position_seed(seq.seed, seq.generated));
  if (row == nullptr) {
    seq.error = "llama.cpp returned no logits";
    return;
  }
  // Logprobs are over the raw logits: keep them before the adjustments and the grammar change the row.
  if (seq.logprobs >= 0) scratch.raw.assign(row, row + n_vocab_);
  apply_adjustments(row, n_vocab_, seq.sampling, seq.state);
  int32_t token = draw(seq, row, scratch, split_pool);
  if (token >= 0 && seq.grammar != nullptr) {
    try {
      // Rejection sampling: a draw the grammar accepts stands; otherwise mask what the grammar
      // rejects and draw again. For top_p = 1 this is exactly sampling from the masked
      // distribution, and it spares the grammar check of 201,088 candidates on most tokens.
      llama_token_data one{token, row[token], 0.0f};
      llama_token_data_array single{&one, 1, -1, false};
      api_.llama_sampler_apply(seq.grammar.get(), &single);
      if (!(one.logit > -std::numeric_limits<float>::infinity())) {
        std::shared_ptr<const TokenMask> allowed = cached_grammar_mask(seq, true);
        if (allowed == nullptr) {
          // A full check made on a pool thread would hold the whole step for ~30 ms on one core:
          // the step makes it after this pass, with every thread. Logprobs requests keep theirs
          // here (their raw row lives in this thread's scratch).
          if (defer_full_check && seq.logprobs < 0) {
            seq.full_check_pending = true;
            return;
          }
          allowed = check_grammar(seq, split_pool);
        }
        token = draw_masked(seq, row, scratch, split_pool, *allowed);
      } else {
        accept_drawn(seq, token);
      }
    } catch (const std::exception &error) {
      seq.error = std::string("grammar: ") + error.what();
      return;
    }
  }
  settle_draw(seq, row, scratch, token);
}

int32_t DecodeLoop::draw(Sequence &seq, const float *row, SamplerScratch &scratch, ThreadPool *split_pool) {
  if (seq.block_masses != nullptr) {
    // The generator as it was: a draw the masses cannot make is made from the whole row with the
    // same uniform number; "check" also makes every successful one again that way (they must agree).
    const std::mt19937_64 rng_before = seq.state.rng;
    const int32_t token = draw_from_block_masses(row, n_vocab_, seq.sampling.temperature, seq.block_masses,
                                                 block_stats_->blocks(), seq.state.rng);
    seq.block_masses = nullptr;  // one draw a step from them (a redraw sees a changed row)
    if (token >= 0) {
      block_stat_draws_.fetch_add(1);
      if (options_.block_stats == 2) {
        std::mt19937_64 check_rng = rng_before;
        SamplerScratch whole;
        if (draw_token(row, n_vocab_, seq.sampling, check_rng, whole) != token) block_stat_mismatches_.fetch_add(1);
      }
      return token;
    }
    seq.state.rng = rng_before;
  }
  return split_pool != nullptr ? draw_token_split(row, n_vocab_, seq.sampling, seq.state.rng, scratch, *split_pool)
                               : draw_token(row, n_vocab_, seq.sampling, seq.state.rng, scratch);
}

// After a rejected draw: the grammar's allowed set masks the row and the draw is made again.
int32_t DecodeLoop::draw_masked(Sequence &seq, float *row, SamplerScratch &scratch, ThreadPool *split_pool,
                                const TokenMask &allowed) {
  seq.block_masses = nullptr;  // the masses are of the unmasked row
  for (int32_t t = 0; t < n_vocab_; ++t) {
    if (!mask_allows(allowed, t)) row[t] = -INFINITY;
  }
  const int32_t token = draw(seq, row, scratch, split_pool);
  if (token >= 0) accept_drawn(seq, token);
  return token;
}

void DecodeLoop::accept_drawn(Sequence &seq, int32_t token) {
  api_.llama_sampler_accept(seq.grammar.get(), token);
  if (seq.grammar_accepted.size() <= GrammarMaskCache::kMaxPrefix) seq.grammar_accepted.push_back(token);
}

// The draw's outcome: the token, or the error of a failed draw; and its logprobs when asked for.
void DecodeLoop::settle_draw(Sequence &seq, const float *row, SamplerScratch &scratch, int32_t token) {
  if (token < 0) {
    // (The engine reads a message starting "every token is excluded" as the request's error, a 400:
    // src/engines/native/native-engine.ts ALL_EXCLUDED.)
    // Only a failed draw pays for the scan: NaN logits are skipped by the maximum and read as "all
    // banned", so broken weights would otherwise fail every request as a user error.
    seq.non_finite = has_non_finite(row, n_vocab_);
    seq.error = seq.non_finite                  ? "the model produced non-finite logits (NaN/inf)"
                : token == kNonFiniteWeights ? "the sampler's weights were not finite"
                                             : "every token is excluded (logit_bias bans or the grammar leave "
                                               "nothing to sample)";
    return;
  }
  seq.sampled = token;
  if (seq.logprobs >= 0) {
    seq.step_logprob.clear();
    seq.step_top_tokens.clear();
    seq.step_top_logprobs.clear();
    token_logprobs(scratch.raw.data(), n_vocab_, token, seq.logprobs, seq.step_logprob, seq.step_top_tokens,
                   seq.step_top_logprobs);
  }
}

// The tokens the sequence's grammar allows next, when the cache holds them (only near the start of
// a generation: kMaxPrefix). count_hit: a rejected draw served (the stats), not a look for forced tokens.
std::shared_ptr<const TokenMask> DecodeLoop::cached_grammar_mask(const Sequence &seq, bool count_hit) {
  if (seq.grammar_accepted.size() > GrammarMaskCache::kMaxPrefix) return nullptr;
  return grammar_masks_.find(GrammarMaskCache::key(seq.grammar_hash, seq.grammar_accepted), *seq.grammar_text,
                             count_hit);
}

// The tokens the sequence's grammar allows next, by llama.cpp's check of every token of the
// vocabulary (stored in the cache for the next request). The check (~30 ms for 201,088 tokens on
// one core) is split across `pool` when given: llama.cpp's grammar apply reads the grammar's state
// and writes only the candidates it is given, so disjoint slices of the vocabulary can be checked
// at once.
std::shared_ptr<const TokenMask> DecodeLoop::check_grammar(Sequence &seq, ThreadPool *pool) {
  grammar_full_checks_.fetch_add(1);
  // Every token, whatever its logit: the set must hold for any request that reaches this state.
  std::vector<llama_token_data> candidates(static_cast<size_t>(n_vocab_));
  const int parts = pool != nullptr ? pool->size() : 1;
  // Slices are whole 64-token words of the mask, so that no two threads write the same word.
  const int32_t words = (n_vocab_ + 63) / 64;
  auto mask = std::make_shared<TokenMask>(static_cast<size_t>(words), 0);
  const auto check = [&](int part, int) {
    const int32_t begin = std::min(n_vocab_, static_cast<int32_t>(int64_t{words} * part / parts) * 64);
    const int32_t end = std::min(n_vocab_, static_cast<int32_t>(int64_t{words} * (part + 1) / parts) * 64);
    if (begin >= end) return;
    for (int32_t t = begin; t < end; ++t) candidates[static_cast<size_t>(t)] = {t, 0.0f, 0.0f};
    llama_token_data_array slice{candidates.data() + begin, static_cast<size_t>(end - begin), -1, false};
    api_.llama_sampler_apply(seq.grammar.get(), &slice);
    for (size_t c = 0; c < slice.size; ++c) {
      if (slice.data[c].logit > -std::numeric_limits<float>::infinity()) {
        const auto id = static_cast<uint32_t>(slice.data[c].id);
        (*mask)[id >> 6] |= uint64_t{1} << (id & 63u);
      }
    }
  };
  if (parts > 1) {
    pool->parallel_for(parts, check);
  } else {
    check(0, 0);
  }
  if (seq.grammar_accepted.size() <= GrammarMaskCache::kMaxPrefix) {
    grammar_masks_.store(GrammarMaskCache::key(seq.grammar_hash, seq.grammar_accepted), seq.grammar_text, mask);
  }
  return mask;
}

// Rows the block statistics serve: an unadjusted row drawn from whole (top_p = 1, T > 0, no
// penalties or biases, which change logits after the GPU saw them; no logprobs, which read the row
// anyway). A grammar's first draw qualifies: it is of the unmasked row.
bool DecodeLoop::block_stats_eligible(const Sequence &seq) const {
  const SamplingConfig &cfg = seq.sampling;
  // T >= 0.05: the graph scales the logits before it subtracts their maximum, an error of about
  // |logit| / T x 2^-24 in each exponent: ~1e-5 relative at 0.05, which the host's draw does not have.
  return cfg.temperature >= kBlockStatsMinTemperature &&
         cfg.top_p >= 1.0f && cfg.presence_penalty == 0.0f && cfg.frequency_penalty == 0.0f && cfg.bias.empty() &&
         seq.logprobs < 0;
}

// llama.cpp's eval callback (ggml_backend_sched): asked about every node of the step's graph, it
// wants only the output, `result_output`; handed it (computed, before its copy to the host), it runs
// the block statistics on the same device. More than one call in a step (several micro-batches) and
// the statistics are not used: their rows would need llama.cpp's output mapping.
bool DecodeLoop::eval_callback(ggml_tensor *tensor, bool ask, void *user) {
  auto *self = static_cast<DecodeLoop *>(user);
  if (ask) return self->stats_wanted_ && std::strcmp(tensor->name, "result_output") == 0;
  if (++self->stats_calls_ == 1) {
    // auto: only where the logits are in device memory (on a CPU the host reads them as fast).
    // Nothing may be thrown through ggml's C code: a failure only leaves the step without masses.
    try {
      const bool on_host = self->ggml_.ggml_backend_buffer_is_host(tensor->buffer);
      self->stats_ok_ = (self->options_.block_stats >= 1 || !on_host) &&
                        self->block_stats_->compute(tensor, self->stats_inv_t_);
    } catch (...) {
      self->stats_ok_ = false;
    }
  } else {
    self->stats_ok_ = false;
  }
  return true;
}

// After the logits are on the host: each eligible row gets its block masses, when the callback
// computed them once for exactly this step's outputs (stats_outputs_, in output order): the graph's
// first logit of each row must equal the host row's, bit for bit (llama.cpp may reorder rows on the
// host after its copy).
void DecodeLoop::attach_block_masses() {
  if (!stats_wanted_) return;
  bool usable = stats_ok_ && stats_calls_ == 1 && block_stats_->rows() == static_cast<int32_t>(stats_outputs_.size());
  for (size_t k = 0; usable && k < stats_outputs_.size(); ++k) {
    const float *row = api_.llama_get_logits_ith(ctx_.get(), stats_outputs_[k]->logit_index);
    const float first = block_stats_->first_logit(static_cast<int32_t>(k));
    usable = row != nullptr && std::memcmp(&row[0], &first, sizeof first) == 0;
  }
  if (!usable) {
    stats_missed_ = true;  // counted with the step's other counters, in one snapshot
    // The graph itself failing again and again (a device that cannot run it): stop asking. Steps
    // with several micro-batches (prompt chunks) are expected misses and do not count.
    if (stats_calls_ == 1 && !stats_ok_) ++block_stat_failures_;
    return;
  }
  block_stat_failures_ = 0;
  for (size_t k = 0; k < stats_outputs_.size(); ++k) {
    Sequence *seq = stats_outputs_[k];
    if (block_stats_eligible(*seq)) seq->block_masses = block_stats_->row(static_cast<int32_t>(k));
  }
}

// With a KV stream per sequence, llama.cpp puts into one micro-batch only sequences whose ids follow one
// another (split_equal, sequential): generating sequences on streams 3, 4 and 9 decode as two passes
// over the weights, every step, for as long as the gap lasts. Sequences end out of order and a free slot
// is refilled only when a request comes, so with mixed answer lengths gaps are common at high
// concurrency, whatever the slot pool's placement (src/engines/slot-placement.ts; `npm run
// bench:placement`: 4-8 runs a step at 128-200 of 256 streams). This keeps the busy sequences
// (generating or reading their prompt: those soon generate) on consecutive streams: it picks the
// window of consecutive streams that holds most of them, and moves each one outside it into a free
// slot's stream inside it. llama.cpp copies the stream's KV buffer at the next llama_decode (~48 MB
// for gpt-oss-20b at 1,024 tokens a sequence; that step builds its graph again, and without our patch
// 0006 llama.cpp also reserves a worst-case graph: ~1.6 against ~0.8 ms of host time a move on a 2-core
// CPU, against a pass over the weights every step; a sequence with nothing cached swaps streams without
// a copy). The free slots
// inside the window lose their caches (kv_length 0: a request that counted on one reads its prompt
// again, and reports no cached tokens); of equal windows, the one whose free slots cache least is taken.
void DecodeLoop::compact_streams(const std::vector<Sequence *> &busy) {
  const auto n = static_cast<int32_t>(slots_.size());
  const auto k = static_cast<int32_t>(busy.size());
  // Most steps: already consecutive (distinct streams spanning exactly k), and nothing else is built.
  const auto [lowest, highest] = std::minmax_element(
      busy.begin(), busy.end(), [](const Sequence *a, const Sequence *b) { return a->stream < b->stream; });
  if ((*highest)->stream - (*lowest)->stream + 1 == k) return;
  std::vector<Sequence *> owner(static_cast<size_t>(n), nullptr);
  for (auto &seq : slots_) owner[static_cast<size_t>(seq->stream)] = seq.get();
  std::vector<int32_t> streams;
  for (const Sequence *seq : busy) streams.push_back(seq->stream);
  std::sort(streams.begin(), streams.end());

  // The window of k consecutive streams holding the most busy sequences; of those, the one whose free
  // slots cache the fewest tokens (every free slot inside the window gives up its cache: a waiting
  // conversation's history or a warm prefix stays where an empty slot can go instead).
  std::vector<int32_t> member(static_cast<size_t>(n), 0);
  for (int32_t s : streams) member[static_cast<size_t>(s)] = 1;
  auto cached = [&](int32_t s) -> int64_t {
    return member[static_cast<size_t>(s)] != 0 ? 0 : owner[static_cast<size_t>(s)]->kv_length;
  };
  int32_t best = 0;
  int32_t best_inside = -1;
  int64_t best_lost = 0;
  int32_t inside = 0;
  int64_t lost = 0;
  for (int32_t s = 0; s < n; ++s) {
    inside += member[static_cast<size_t>(s)];
    lost += cached(s);
    if (s >= k) {
      inside -= member[static_cast<size_t>(s - k)];
      lost -= cached(s - k);
    }
    if (s >= k - 1 && (inside > best_inside || (inside == best_inside && lost < best_lost))) {
      best = s - k + 1;
      best_inside = inside;
      best_lost = lost;
    }
  }

  llama_memory_t memory = api_.llama_get_memory(ctx_.get());
  int32_t free_at = best;
  uint64_t moves = 0;
  for (int32_t from : streams) {
    if (from >= best && from < best + k) continue;
    while (member[static_cast<size_t>(free_at)] != 0) ++free_at;  // the window's next free stream
    Sequence *moving = owner[static_cast<size_t>(from)];
    Sequence *idle = owner[static_cast<size_t>(free_at)];
    if (moving->kv_length > 0) {
      // A whole-stream copy (positions kept), queued by llama.cpp for the next decode (which then also
      // rebuilds its graphs); the old stream is emptied and goes to the free slot, whose cache is gone.
      api_.llama_memory_seq_cp(memory, from, free_at, -1, -1);
      api_.llama_memory_seq_rm(memory, from, -1, -1);
    } else {
      // Nothing cached yet (a request just taken in, reusing nothing): no copy, the streams only swap.
      api_.llama_memory_seq_rm(memory, free_at, -1, -1);
    }
    moving->stream = free_at;
    idle->stream = from;
    idle->kv_length = 0;
    ++free_at;
    ++moves;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.stream_moves += moves;
}

bool DecodeLoop::step() {
  take_commands();
  std::vector<Sequence *> generating;
  std::vector<Sequence *> prefilling;
  for (auto &seq : slots_) {
    if (!seq->active) continue;
    seq->logit_index = -1;
    seq->fed_this_step = 0;
    seq->block_masses = nullptr;
    (seq->generating ? generating : prefilling).push_back(seq.get());
  }
  if (generating.empty() && prefilling.empty()) return false;
  const auto started = std::chrono::steady_clock::now();
  // One GPU only: with the model split, the KV buffers may be split too, and a stream copy there was
  // never run.
  if (options_.compact_streams && options_.split_mode == LLAMA_SPLIT_MODE_NONE &&
      generating.size() + prefilling.size() >= 2) {
    std::vector<Sequence *> busy(generating);
    busy.insert(busy.end(), prefilling.begin(), prefilling.end());
    compact_streams(busy);
  }
  // Whether the decode tokens' streams leave gaps, so that llama.cpp splits the step (the profile's
  // count): sorted for that, the batch itself is ordered below.
  std::sort(generating.begin(), generating.end(),
            [](const Sequence *a, const Sequence *b) { return a->stream < b->stream; });
  bool streams_split = false;
  for (size_t k = 1; k < generating.size(); ++k) {
    streams_split = streams_split || generating[k]->stream != generating[k - 1]->stream + 1;
  }

  // One batch: a token for every generating sequence first (their latency is what users see
  // between tokens), then prompt chunks, oldest request first, up to the batch size. Those are the
  // shares; the tokens then go into the batch in stream order. llama.cpp takes consecutive streams into
  // one micro-batch in batch order, a token of each at a time: a prompt chunk on a stream between
  // generating ones joins their micro-batch with its first token (the rest is a micro-batch of its
  // own), where after them in the batch it would cut theirs in two.
  batch_->n_tokens = 0;
  auto push = [this](int32_t token, int32_t pos, int32_t seq_id, bool logits) {
    llama_batch &batch = *batch_;
    const int32_t i = batch.n_tokens++;
    batch.token[i] = token;
    batch.pos[i] = pos;
    batch.n_seq_id[i] = 1;
    batch.seq_id[i][0] = seq_id;
    batch.logits[i] = logits ? 1 : 0;
    return i;
  };
  int32_t budget = options_.batch_size;
  auto still_to_feed = static_cast<int32_t>(generating.size());
  // Forced tokens ride along with the token before them only when the sequence is the step's only
  // one. With a KV stream per sequence llama.cpp gives every sequence of a micro-batch the same
  // number of tokens (split_equal), so a sequence feeding three beside others feeding one splits the
  // step into two passes over the weights, for everyone; one token a step keeps the batch whole (the
  // forced ones still need no draw).
  const int32_t most_per_sequence = generating.size() == 1 && prefilling.empty() ? kMaxFedPerStep : 1;
  std::vector<Sequence *> fed;  // the sequences with a share this step
  for (Sequence *seq : generating) {
    --still_to_feed;
    const auto pending = static_cast<int32_t>(seq->feed.size());
    seq->fed_this_step = std::min({pending, most_per_sequence, std::max(1, budget - still_to_feed)});
    budget -= seq->fed_this_step;
    fed.push_back(seq);
  }
  std::sort(prefilling.begin(), prefilling.end(),
            [](const Sequence *a, const Sequence *b) { return a->arrival < b->arrival; });
  for (Sequence *seq : prefilling) {
    if (budget <= 0) break;
    seq->fed_this_step = std::min(static_cast<int32_t>(seq->prompt.size() - seq->fed), budget);
    budget -= seq->fed_this_step;
    fed.push_back(seq);
  }
  std::sort(fed.begin(), fed.end(), [](const Sequence *a, const Sequence *b) { return a->stream < b->stream; });
  for (Sequence *seq : fed) {
    const int32_t take = seq->fed_this_step;
    const std::vector<int32_t> &tokens = seq->generating ? seq->feed : seq->prompt;
    const size_t from = seq->generating ? 0 : seq->fed;
    const bool ends = static_cast<size_t>(take) == tokens.size() - from;  // its last token: logits
    for (int32_t j = 0; j < take; ++j) {
      const bool last = ends && j == take - 1;
      const int32_t i = push(tokens[from + static_cast<size_t>(j)], seq->kv_length + j, seq->stream, last);
      if (last) seq->logit_index = i;
    }
  }

  bool pure_decode = true;
  for (const Sequence *seq : prefilling) pure_decode = pure_decode && seq->fed_this_step == 0;
  // Block statistics for this step: one 1/T a batch output, in output order (push order above).
  stats_wanted_ = false;
  stats_calls_ = 0;
  stats_ok_ = false;
  stats_missed_ = false;
  if (block_stats_ != nullptr && block_stat_failures_ < 8) {
    // Output order is push order: stream order.
    stats_outputs_.clear();
    int32_t eligible = 0;
    for (Sequence *seq : fed) {
      if (seq->logit_index < 0) continue;
      stats_outputs_.push_back(seq);
      eligible += block_stats_eligible(*seq) ? 1 : 0;
    }
    const int32_t min_rows = options_.block_stats >= 1 ? 1 : kBlockStatsMinRows;
    if (eligible >= min_rows) {
      stats_wanted_ = true;
      stats_inv_t_.clear();
      for (const Sequence *seq : stats_outputs_) {
        stats_inv_t_.push_back(block_stats_eligible(*seq) ? 1.0f / seq->sampling.temperature : 1.0f);
      }
    }
  }
  const auto decode_started = std::chrono::steady_clock::now();
  llama_batch &batch = *batch_;
  // llama.cpp counts the graphs it reused (whatever the context's no_perf says).
  const int32_t reused_before = api_.llama_perf_context(ctx_.get()).n_reused;
  const int32_t injected_rc = injected_decode_rc_.exchange(0);
  const int32_t rc = injected_rc != 0 ? injected_rc : api_.llama_decode(ctx_.get(), batch);
  const double decode_ms = ms_since(decode_started);
  const bool graph_reused = api_.llama_perf_context(ctx_.get()).n_reused > reused_before;
  if (rc != 0) {
    // The batch's sequences are in an unknown state: erase them and fail their requests.
    llama_memory_t memory = api_.llama_get_memory(ctx_.get());
    for (Sequence *seq : fed) {
      api_.llama_memory_seq_rm(memory, seq->stream, -1, -1);
      seq->kv_length = 0;
      seq->cached = 0;
      finish(*seq, FinishReason::kError, "llama_decode failed with code " + std::to_string(rc));
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.active = count_active();
    }
    // Their finishes go out now: with nothing left running the loop would wait for new work and keep
    // them (the requests would hang).
    notify_outbox();
    return true;
  }

  const auto wait_started = std::chrono::steady_clock::now();
  std::vector<Sequence *> to_sample;
  std::vector<float *> logits;
  for (Sequence *seq : fed) {
    seq->kv_length += seq->fed_this_step;
    if (seq->generating) {
      seq->feed.erase(seq->feed.begin(), seq->feed.begin() + seq->fed_this_step);
    } else {
      seq->fed += static_cast<size_t>(seq->fed_this_step);
    }
    if (seq->logit_index >= 0) {
      to_sample.push_back(seq);
      logits.push_back(api_.llama_get_logits_ith(ctx_.get(), seq->logit_index));  // synchronises once
    }
  }

  attach_block_masses();
  const auto sample_started = std::chrono::steady_clock::now();
  const double wait_ms = std::chrono::duration<double, std::milli>(sample_started - wait_started).count();
  // Few sequences: sample them one after another, each with the vocabulary split across the
  // pool (one stream's sampling is on its critical path). Many: one sequence per thread.
  const bool split = to_sample.size() * 2 <= static_cast<size_t>(pool_->size());
  if (split) {
    for (size_t i = 0; i < to_sample.size(); ++i) {
      sample_sequence(*to_sample[i], logits[i], scratch_[0], pool_.get(), false);
    }
  } else {
    pool_->parallel_for(static_cast<int>(to_sample.size()), [&](int i, int worker) {
      sample_sequence(*to_sample[static_cast<size_t>(i)], logits[static_cast<size_t>(i)],
                      scratch_[static_cast<size_t>(worker)], nullptr, pool_->size() > 1);
    });
    // The full grammar checks the pass left: one after another, each across the whole pool.
    for (size_t i = 0; i < to_sample.size(); ++i) {
      Sequence &seq = *to_sample[i];
      if (!seq.full_check_pending) continue;
      seq.full_check_pending = false;
      try {
        // (Another thread may have stored this set since the pass looked.)
        std::shared_ptr<const TokenMask> allowed = cached_grammar_mask(seq, true);
        if (allowed == nullptr) allowed = check_grammar(seq, pool_.get());
        settle_draw(seq, logits[i], scratch_[0], draw_masked(seq, logits[i], scratch_[0], pool_.get(), *allowed));
      } catch (const std::exception &error) {
        seq.error = std::string("grammar: ") + error.what();
      }
    }
  }
  const double sample_ms = ms_since(sample_started);

  int32_t sampled_count = 0;
  uint64_t non_finite_count = 0;
  for (Sequence *seq : to_sample) {
    if (seq->sampled < 0) {
      non_finite_count += seq->non_finite ? 1 : 0;
      finish(*seq, FinishReason::kError, seq->error);
      continue;
    }
    const int32_t token = seq->sampled;
    ++sampled_count;
    seq->generating = true;
    seq->feed.assign(1, token);
    accept_generated(*seq, token, false);
    if (seq->stop.count(token) > 0 && (seq->grammar != nullptr || seq->generated >= seq->min_tokens)) {
      finish(*seq, FinishReason::kStop);
    } else if (seq->generated >= seq->max_tokens || seq->kv_length + 1 >= n_ctx_seq_) {
      finish(*seq, FinishReason::kLength);
    } else {
      force_tokens(*seq, seq->feed, static_cast<size_t>(seq->kv_length) + 1);
    }
  }

  {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.steps += 1;
    stats_.decoded_tokens += static_cast<uint64_t>(batch.n_tokens);
    stats_.block_stat_misses += stats_missed_ ? 1 : 0;
    stats_.sampled_tokens += static_cast<uint64_t>(sampled_count);
    stats_.non_finite_logits += non_finite_count;
    stats_.decode_ms += decode_ms;
    stats_.sample_ms += sample_ms;
    stats_.wait_ms += wait_ms;
    const double step_ms = ms_since(started);
    stats_.step_ms += step_ms;
    stats_.last_step_ms = step_ms;
    if (pure_decode) {
      stats_.pure_decode_steps += 1;
      stats_.pure_decode_sequences += to_sample.size();
      stats_.pure_decode_ms += step_ms;
      stats_.pure_decode_launch_ms += decode_ms;
      stats_.pure_decode_wait_ms += wait_ms;
      stats_.pure_decode_sample_ms += sample_ms;
      stats_.pure_decode_reused_graphs += graph_reused ? 1 : 0;
      stats_.pure_decode_split_steps += streams_split ? 1 : 0;
    }
    stats_.active = count_active();
  }
  notify_outbox();
  return true;
}

// A C++ exception escaping the thread's function would std::terminate the whole server. Whatever
// the loop throws (a bug, std::bad_alloc, a sampler task, llama.cpp) ends the loop instead: its
// requests fail, add() refuses new ones, and stats() says so, which the engine's health reports.
void DecodeLoop::run() {
  try {
    loop();
  } catch (const std::exception &error) {
    fail(error.what());
  } catch (...) {
    fail("an exception that is not a std::exception");
  }
}

void DecodeLoop::fail(const std::string &what) noexcept {
  try {
    std::vector<int32_t> busy;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      failed_ = true;  // from here add() refuses: the busy slots below are all there will be
      failure_ = what;
      pending_adds_.clear();
      pending_cancels_.clear();
      for (size_t slot = 0; slot < slot_busy_.size(); ++slot) {
        if (slot_busy_[slot]) busy.push_back(static_cast<int32_t>(slot));
      }
    }
    // Every request JS is waiting on ends, whether it was running, pending, or taken in by
    // take_commands when the exception hit (a busy slot is one whose finish JS has not been given).
    const std::string message = loop_failed(what);
    for (int32_t slot : busy) finish(*slots_[static_cast<size_t>(slot)], FinishReason::kError, message);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.active = 0;
      notify_pending_ = true;
    }
    notify_();
  } catch (...) {
    // Failing failed too (out of memory): nothing more can be done from this thread.
  }
}

int32_t DecodeLoop::count_active() const {
  int32_t active = 0;
  for (const auto &seq : slots_) active += seq->active ? 1 : 0;
  return active;
}

// Schedules a delivery of the outbox to JavaScript, unless it is empty or one is already scheduled.
void DecodeLoop::notify_outbox() {
  bool notify;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    notify = !outbox_.empty() && !notify_pending_;
    if (notify) notify_pending_ = true;
  }
  if (notify) notify_();
}

void DecodeLoop::loop() {
  while (true) {
    bool any_active = false;
    for (auto &seq : slots_) any_active = any_active || seq->active;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!any_active) {
        wake_.wait(lock, [this] {
          return stopping_ || !pending_adds_.empty() || !pending_cancels_.empty() || !injected_failure_.empty();
        });
      }
      if (stopping_) break;
    }
    // Only cancellations or failed starts came in: deliver their finishes.
    if (!step()) notify_outbox();
  }
  // Stopping: what was still running or waiting ends as cancelled.
  take_commands();
  for (auto &seq : slots_) {
    if (seq->active) finish(*seq, FinishReason::kCancelled);
  }
  notify_();
}

}  // namespace gptoss
