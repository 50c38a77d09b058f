// The decode loop: one thread owns the llama.cpp context. Each step it takes in new sequences and
// cancellations, builds ONE batch (a token for every generating sequence, then prompt chunks up to
// the batch size), decodes it, samples every sequence that produced logits in parallel, and goes
// on to the next step at once. Results go to an outbox that JavaScript drains when it can: the
// JavaScript thread is never on the critical path of a step.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "grammar_mask_cache.h"
#include "logit_block_stats.h"
#include "llama_api.h"
#include "sampler.h"
#include "thread_pool.h"

namespace gptoss {

struct LoopOptions {
  std::string model_path;
  int32_t gpu_layers = 0;
  // LLAMA_SPLIT_MODE_NONE (one GPU), _LAYER (pipeline: layers split across GPUs) or _TENSOR
  // (tensor parallelism: each layer's matrices split across GPUs; needs flash attention).
  llama_split_mode split_mode = LLAMA_SPLIT_MODE_NONE;
  int32_t sequences = 1;
  int32_t context_per_sequence = 1024;
  int32_t batch_size = 2048;
  int32_t threads = 1;
  int32_t sampler_threads = 1;
  int32_t sampler_spin_us = 0;  // see ThreadPool: > 0 only where the host's cores are spare (GPU)
  int flash_attention = -1;  // -1 auto, 0 off, 1 on
  // Block statistics of the logits computed where they are (logit_block_stats.h), so that a draw
  // reads one block of a row on the host, not the row: -1 auto (when the logits are on a GPU and a
  // step samples at least kBlockStatsMinRows sequences), 0 off, 1 on for every step (tests, on a CPU),
  // 2 on and checked: every such draw is made again from the whole row and must agree (tests).
  int block_stats = -1;
  // Keep the busy sequences' KV streams consecutive (compact_streams in decode_loop.cpp), so a step of
  // one token each stays one llama.cpp micro-batch when sequences end out of order. Off by default
  // until a GPU run has measured it (docs/benchmarks.md, issue 14 run 7); one GPU only.
  bool compact_streams = false;
  std::string libllama_path;  // where the ggml functions the statistics use are resolved from
};

// Below this many sequences a step reads whole rows: the sampler pool splits each across its threads
// and a row takes ~0.1 ms, less than the statistics' own graph.
constexpr int32_t kBlockStatsMinRows = 8;
constexpr float kBlockStatsMinTemperature = 0.05f;

struct SequenceRequest {
  int32_t slot = 0;
  std::vector<int32_t> tokens;
  int32_t reuse = 0;
  int32_t max_tokens = 1;
  std::vector<int32_t> stop_tokens;
  int32_t min_tokens = 0;
  SamplingConfig sampling;
  bool has_seed = false;
  uint64_t seed = 0;
  std::string grammar;  // empty: none
  int32_t logprobs = -1;  // -1: none; 0..kMaxTopLogprobs: each token's logprob and that many alternatives
};

enum class FinishReason { kNone, kStop, kLength, kCancelled, kError };

// What one slot produced since JavaScript last drained the outbox.
struct SlotOutput {
  int32_t slot = 0;
  std::vector<int32_t> tokens;
  // When the request asked for logprobs (top_n >= 0): one per token, and top_n alternatives per token.
  int32_t top_n = -1;
  std::vector<float> logprobs;
  std::vector<int32_t> top_tokens;
  std::vector<float> top_logprobs;
  FinishReason finish = FinishReason::kNone;
  int32_t cached_tokens = 0;
  int32_t kv_length = 0;
  std::string message;
};

struct LoopStats {
  uint64_t steps = 0;
  uint64_t decoded_tokens = 0;
  uint64_t sampled_tokens = 0;
  double decode_ms = 0;
  double sample_ms = 0;
  // After llama_decode returns (it only queues the work on a GPU): waiting for the logits, i.e. the
  // rest of the GPU's step and the copy of the logits to the host. And every step's whole wall time.
  double wait_ms = 0;
  double step_ms = 0;
  double last_step_ms = 0;
  // Steps that fed no prompt token: the steady decode rate, and where its time goes, apart from
  // the steps that read prompts (GPU benchmarks compare these with llama-batched-bench's decode).
  uint64_t pure_decode_steps = 0;
  uint64_t pure_decode_sequences = 0;
  double pure_decode_ms = 0;
  double pure_decode_launch_ms = 0;  // in llama_decode (on a CPU: the whole forward pass)
  double pure_decode_wait_ms = 0;
  double pure_decode_sample_ms = 0;
  // Of those steps, the ones whose compute graph llama.cpp reused from the step before instead of
  // building and allocating it again (it rebuilds when the tokens, the streams or the KV length change).
  uint64_t pure_decode_reused_graphs = 0;
  // Of those steps, the ones whose sequences' streams were not consecutive, so that llama.cpp split the
  // step into several micro-batches (a pass over the weights each); and the sequences moved to another
  // stream to close such gaps (compact_streams).
  uint64_t pure_decode_split_steps = 0;
  uint64_t stream_moves = 0;
  int32_t active = 0;
  // Sequences ended because their logits held NaN or +inf: the model's weights are broken.
  uint64_t non_finite_logits = 0;
  // Rejected draws under a grammar whose allowed set came from the cache, and those that paid for
  // the full check of every token (GrammarMaskCache).
  uint64_t grammar_mask_hits = 0;
  uint64_t grammar_full_checks = 0;
  // Tokens a grammar forced (the only one it allowed, known from the mask cache): emitted without a
  // draw and decoded together with the token before them (jump-forward).
  uint64_t grammar_forced_tokens = 0;
  // Draws made from the GPU's block statistics (one block of the row read), and steps whose
  // statistics could not be used (then every row was read whole).
  uint64_t block_stat_draws = 0;
  uint64_t block_stat_misses = 0;
  uint64_t block_stat_mismatches = 0;  // block_stats 2: draws the whole-row draw disagreed with
  // The loop caught an exception and stopped: every sequence it had ended with an error, and it
  // takes no new work (add() throws). `failure` says what was thrown.
  bool failed = false;
  std::string failure;
};

class DecodeLoop {
 public:
  // Loads the model and the context (slow: call off the JavaScript thread). Throws std::runtime_error.
  DecodeLoop(const LlamaApi &api, const LoopOptions &options, std::function<void()> notify);
  ~DecodeLoop();

  void start();
  // Thread-safe. add() throws std::invalid_argument on a bad or busy slot, or once the loop failed.
  void add(SequenceRequest request);
  void cancel(int32_t slot);
  void stop();  // cancels everything, joins the thread
  std::vector<SlotOutput> drain();
  LoopStats stats();
  // Test only: the loop thread throws std::runtime_error(message) at its next step, as a bug in the
  // loop would (the way to test the failure path on a real model).
  void fail_for_test(std::string message);
  // Test only: the next step's llama_decode is not run and returns `code` instead, as llama.cpp does when
  // it finds no room in the KV cache (1) or refuses the batch (-1): the way to test that path.
  void fail_next_decode_for_test(int32_t code) { injected_decode_rc_ = code; }

  int32_t vocab_size() const { return n_vocab_; }
  const std::vector<int32_t> &eog_tokens() const { return eog_; }
  int32_t context_per_sequence() const { return n_ctx_seq_; }
  int32_t sequences() const { return options_.sequences; }
  int32_t gpu_layers() const { return gpu_layers_; }

 private:
  struct Sequence;

  void run();
  void loop();
  void fail(const std::string &what) noexcept;
  void take_commands();
  void start_sequence(SequenceRequest &request);
  void finish(Sequence &seq, FinishReason reason, const std::string &message = "");
  void emit_token(Sequence &seq, int32_t token);
  bool step();
  void sample_sequence(Sequence &seq, float *row, SamplerScratch &scratch, ThreadPool *split_pool,
                       bool defer_full_check);
  int32_t draw(Sequence &seq, const float *row, SamplerScratch &scratch, ThreadPool *split_pool);
  int32_t draw_masked(Sequence &seq, float *row, SamplerScratch &scratch, ThreadPool *split_pool,
                      const TokenMask &allowed);
  void accept_drawn(Sequence &seq, int32_t token);
  void settle_draw(Sequence &seq, const float *row, SamplerScratch &scratch, int32_t token);
  std::shared_ptr<const TokenMask> cached_grammar_mask(const Sequence &seq, bool count_hit);
  std::shared_ptr<const TokenMask> check_grammar(Sequence &seq, ThreadPool *pool);
  bool force_tokens(Sequence &seq, std::vector<int32_t> &into, size_t kv_after);
  static bool eval_callback(ggml_tensor *tensor, bool ask, void *user);
  void attach_block_masses();
  bool block_stats_eligible(const Sequence &seq) const;
  void accept_generated(Sequence &seq, int32_t token, bool hold_back);
  void compact_streams(const std::vector<Sequence *> &busy);
  void notify_outbox();
  int32_t count_active() const;  // sequences running; the loop thread's view

  const LlamaApi &api_;
  LoopOptions options_;
  std::function<void()> notify_;
  // Declared in the order they are made: members are destroyed in reverse, so the batch and the
  // context go before the model they were made from (and slots_' grammars, below, before the model
  // whose vocabulary they hold).
  ModelPtr model_;
  ContextPtr ctx_;
  BatchPtr batch_;
  const llama_vocab *vocab_ = nullptr;
  int32_t n_vocab_ = 0;
  int32_t n_ctx_seq_ = 0;
  int32_t gpu_layers_ = 0;
  std::vector<int32_t> eog_;
  std::vector<std::unique_ptr<Sequence>> slots_;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<SamplerScratch> scratch_;
  uint64_t arrival_clock_ = 0;
  GrammarMaskCache grammar_masks_{256};  // ~6.4 MB at most for gpt-oss's vocabulary
  std::atomic<uint64_t> grammar_full_checks_{0};  // sampler threads count them
  std::atomic<uint64_t> grammar_forced_tokens_{0};
  std::atomic<uint64_t> block_stat_draws_{0};
  std::atomic<uint64_t> block_stat_mismatches_{0};
  int32_t block_stat_failures_ = 0;  // consecutive steps whose statistics failed: at 8, no more asked
  // Block statistics: the ggml functions, the graph runner, and this step's request and outcome
  // (written on the loop thread before llama_decode, by the eval callback during it).
  GgmlApi ggml_;
  std::unique_ptr<LogitBlockStats> block_stats_;
  bool stats_wanted_ = false;
  int32_t stats_calls_ = 0;
  bool stats_ok_ = false;
  bool stats_missed_ = false;  // this step's statistics were asked for and could not be used
  std::vector<float> stats_inv_t_;     // 1/T of each output, in output order
  std::vector<Sequence *> stats_outputs_;  // the step's sequences with an output, in output order

  std::thread thread_;
  std::mutex mutex_;  // guards the fields below
  std::condition_variable wake_;
  std::vector<SequenceRequest> pending_adds_;
  std::vector<int32_t> pending_cancels_;
  std::vector<bool> slot_busy_;  // from add() until the finish is in the outbox
  bool stopping_ = false;
  bool notify_pending_ = false;  // a delivery is scheduled and has not drained yet
  bool failed_ = false;          // the loop thread caught an exception and ended
  std::string failure_;
  std::string injected_failure_;  // fail_for_test()
  std::atomic<int32_t> injected_decode_rc_{0};  // fail_next_decode_for_test()
  std::vector<SlotOutput> outbox_;
  std::vector<int32_t> outbox_index_;  // slot -> index in outbox_, or -1
  LoopStats stats_;
};

}  // namespace gptoss
