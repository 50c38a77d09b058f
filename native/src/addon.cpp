// The Node-API surface of the core: open() → a core object (add, cancel, stats, close, info,
// failForTest, failNextDecodeForTest), sampleForTest(), logprobsForTest() and throwInPoolForTest(). The contract, in
// TypeScript, is src/engines/native/native-core.ts.
//
// Built with NODE_ADDON_API_CPP_EXCEPTIONS_ALL: a std::exception escaping a function called from
// JavaScript becomes a JavaScript Error (not std::terminate). The loop thread catches its own
// (decode_loop.cpp run()).
#include <napi.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "decode_loop.h"
#include "llama_api.h"
#include "sampler.h"

namespace gptoss {
namespace {

// One llama.cpp per process: the library node-llama-cpp loaded.
LlamaApi g_api;
std::string g_api_path;
std::mutex g_api_mutex;

std::string load_api(const std::string &path) {
  std::lock_guard<std::mutex> lock(g_api_mutex);
  if (!g_api_path.empty()) {
    return g_api_path == path ? "" : "the core is already bound to " + g_api_path + ", not " + path;
  }
  std::string error = g_api.load(path);
  if (error.empty()) g_api_path = path;
  return error;
}

double number_or(const Napi::Object &object, const char *key, double fallback) {
  Napi::Value value = object.Get(key);
  return value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : fallback;
}

std::string string_or(const Napi::Object &object, const char *key, const std::string &fallback) {
  Napi::Value value = object.Get(key);
  return value.IsString() ? value.As<Napi::String>().Utf8Value() : fallback;
}

std::vector<int32_t> int32_array(const Napi::Value &value, const char *what) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(value.Env(), std::string(what) + " must be an Int32Array");
  }
  Napi::Int32Array array = value.As<Napi::Int32Array>();
  return std::vector<int32_t>(array.Data(), array.Data() + array.ElementLength());
}

// NativeSampling → SamplingConfig (+ seed).
SamplingConfig parse_sampling(const Napi::Value &value, bool &has_seed, uint64_t &seed) {
  if (!value.IsObject()) throw Napi::TypeError::New(value.Env(), "sampling must be an object");
  Napi::Object object = value.As<Napi::Object>();
  SamplingConfig config;
  config.temperature = static_cast<float>(number_or(object, "temperature", 1.0));
  config.top_p = static_cast<float>(number_or(object, "topP", 1.0));
  config.presence_penalty = static_cast<float>(number_or(object, "presencePenalty", 0.0));
  config.frequency_penalty = static_cast<float>(number_or(object, "frequencyPenalty", 0.0));
  Napi::Value seed_value = object.Get("seed");
  has_seed = seed_value.IsNumber();
  seed = has_seed ? static_cast<uint64_t>(static_cast<int64_t>(seed_value.As<Napi::Number>().DoubleValue())) : 0;
  Napi::Value tokens = object.Get("biasTokens");
  Napi::Value values = object.Get("biasValues");
  if (tokens.IsTypedArray() && values.IsTypedArray()) {
    std::vector<int32_t> ids = int32_array(tokens, "sampling.biasTokens");
    if (values.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw Napi::TypeError::New(value.Env(), "sampling.biasValues must be a Float32Array");
    }
    Napi::Float32Array biases = values.As<Napi::Float32Array>();
    if (biases.ElementLength() != ids.size()) {
      throw Napi::TypeError::New(value.Env(), "sampling.biasTokens and biasValues differ in length");
    }
    for (size_t i = 0; i < ids.size(); ++i) config.bias.emplace_back(ids[i], biases.Data()[i]);
  }
  return config;
}

const char *reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kError: return "error";
    default: return "";
  }
}

// Shared between the JS object, the TSFN callback and close(): the loop outlives whichever goes last.
struct CoreState {
  std::unique_ptr<DecodeLoop> loop;
  Napi::ThreadSafeFunction tsfn;
  Napi::FunctionReference on_events;
  int32_t busy = 0;  // slots JS has added and not yet seen finish (keeps the event loop alive)
  bool closed = false;
};

// Drains the outbox into JS objects and hands them to onEvents. Runs on the JS thread.
void deliver(Napi::Env env, CoreState &state) {
  if (!state.loop) return;
  std::vector<SlotOutput> outputs = state.loop->drain();
  if (outputs.empty()) return;
  Napi::Array events = Napi::Array::New(env, outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const SlotOutput &output = outputs[i];
    Napi::Object event = Napi::Object::New(env);
    event.Set("slot", output.slot);
    Napi::Int32Array tokens = Napi::Int32Array::New(env, output.tokens.size());
    std::copy(output.tokens.begin(), output.tokens.end(), tokens.Data());
    event.Set("tokens", tokens);
    if (output.top_n >= 0) {
      Napi::Float32Array logprobs = Napi::Float32Array::New(env, output.logprobs.size());
      std::copy(output.logprobs.begin(), output.logprobs.end(), logprobs.Data());
      Napi::Int32Array top_tokens = Napi::Int32Array::New(env, output.top_tokens.size());
      std::copy(output.top_tokens.begin(), output.top_tokens.end(), top_tokens.Data());
      Napi::Float32Array top_logprobs = Napi::Float32Array::New(env, output.top_logprobs.size());
      std::copy(output.top_logprobs.begin(), output.top_logprobs.end(), top_logprobs.Data());
      event.Set("logprobs", logprobs);
      event.Set("topTokens", top_tokens);
      event.Set("topLogprobs", top_logprobs);
    }
    if (output.finish != FinishReason::kNone) {
      Napi::Object finish = Napi::Object::New(env);
      finish.Set("reason", reason_name(output.finish));
      finish.Set("cachedTokens", output.cached_tokens);
      finish.Set("kvLength", output.kv_length);
      if (!output.message.empty()) finish.Set("message", output.message);
      event.Set("finish", finish);
      if (--state.busy == 0 && !state.closed) state.tsfn.Unref(env);
    }
    events.Set(static_cast<uint32_t>(i), event);
  }
  if (!state.on_events.IsEmpty()) state.on_events.Call({events});
}

Napi::Object make_core(Napi::Env env, std::shared_ptr<CoreState> state) {
  Napi::Object core = Napi::Object::New(env);
  DecodeLoop &loop = *state->loop;

  Napi::Object info = Napi::Object::New(env);
  info.Set("vocabSize", loop.vocab_size());
  Napi::Array eog = Napi::Array::New(env, loop.eog_tokens().size());
  for (size_t i = 0; i < loop.eog_tokens().size(); ++i) eog.Set(static_cast<uint32_t>(i), loop.eog_tokens()[i]);
  info.Set("eogTokens", eog);
  info.Set("contextPerSequence", loop.context_per_sequence());
  info.Set("sequences", loop.sequences());
  info.Set("gpuLayers", loop.gpu_layers());
  core.Set("info", info);

  core.Set("add", Napi::Function::New(env, [state](const Napi::CallbackInfo &args) {
    Napi::Env env = args.Env();
    if (state->closed) throw Napi::Error::New(env, "the core is closed");
    if (args.Length() < 1 || !args[0].IsObject()) throw Napi::TypeError::New(env, "add(request) needs an object");
    Napi::Object object = args[0].As<Napi::Object>();
    SequenceRequest request;
    request.slot = static_cast<int32_t>(number_or(object, "slot", -1));
    request.tokens = int32_array(object.Get("tokens"), "tokens");
    request.reuse = static_cast<int32_t>(number_or(object, "reuse", 0));
    request.max_tokens = static_cast<int32_t>(number_or(object, "maxTokens", 1));
    request.stop_tokens = int32_array(object.Get("stopTokens"), "stopTokens");
    request.min_tokens = static_cast<int32_t>(number_or(object, "minTokens", 0));
    request.sampling = parse_sampling(object.Get("sampling"), request.has_seed, request.seed);
    request.grammar = string_or(object, "grammar", "");
    request.logprobs = static_cast<int32_t>(number_or(object, "logprobs", -1));
    try {
      state->loop->add(std::move(request));
    } catch (const std::exception &error) {
      throw Napi::Error::New(env, error.what());
    }
    if (state->busy++ == 0) state->tsfn.Ref(env);
    return env.Undefined();
  }));

  core.Set("cancel", Napi::Function::New(env, [state](const Napi::CallbackInfo &args) {
    if (!state->closed && args.Length() > 0 && args[0].IsNumber()) {
      state->loop->cancel(args[0].As<Napi::Number>().Int32Value());
    }
    return args.Env().Undefined();
  }));

  core.Set("stats", Napi::Function::New(env, [state](const Napi::CallbackInfo &args) {
    Napi::Env env = args.Env();
    Napi::Object stats = Napi::Object::New(env);
    if (!state->loop) return stats;
    LoopStats s = state->loop->stats();
    stats.Set("steps", static_cast<double>(s.steps));
    stats.Set("decodedTokens", static_cast<double>(s.decoded_tokens));
    stats.Set("sampledTokens", static_cast<double>(s.sampled_tokens));
    stats.Set("decodeMs", s.decode_ms);
    stats.Set("sampleMs", s.sample_ms);
    stats.Set("waitMs", s.wait_ms);
    stats.Set("stepMs", s.step_ms);
    stats.Set("lastStepMs", s.last_step_ms);
    stats.Set("pureDecodeSteps", static_cast<double>(s.pure_decode_steps));
    stats.Set("pureDecodeSequences", static_cast<double>(s.pure_decode_sequences));
    stats.Set("pureDecodeMs", s.pure_decode_ms);
    stats.Set("pureDecodeLaunchMs", s.pure_decode_launch_ms);
    stats.Set("pureDecodeWaitMs", s.pure_decode_wait_ms);
    stats.Set("pureDecodeSampleMs", s.pure_decode_sample_ms);
    stats.Set("pureDecodeReusedGraphs", static_cast<double>(s.pure_decode_reused_graphs));
    stats.Set("pureDecodeSplitSteps", static_cast<double>(s.pure_decode_split_steps));
    stats.Set("streamMoves", static_cast<double>(s.stream_moves));
    stats.Set("activeSequences", s.active);
    stats.Set("nonFiniteLogits", static_cast<double>(s.non_finite_logits));
    stats.Set("grammarMaskHits", static_cast<double>(s.grammar_mask_hits));
    stats.Set("grammarFullChecks", static_cast<double>(s.grammar_full_checks));
    stats.Set("grammarForcedTokens", static_cast<double>(s.grammar_forced_tokens));
    stats.Set("blockStatDraws", static_cast<double>(s.block_stat_draws));
    stats.Set("blockStatMisses", static_cast<double>(s.block_stat_misses));
    stats.Set("blockStatMismatches", static_cast<double>(s.block_stat_mismatches));
    stats.Set("failed", s.failed);
    if (s.failed) stats.Set("failure", s.failure);
    return stats;
  }));

  core.Set("failForTest", Napi::Function::New(env, [state](const Napi::CallbackInfo &args) {
    if (!state->closed) {
      state->loop->fail_for_test(args.Length() > 0 && args[0].IsString() ? args[0].As<Napi::String>().Utf8Value() : "");
    }
    return args.Env().Undefined();
  }));

  core.Set("failNextDecodeForTest", Napi::Function::New(env, [state](const Napi::CallbackInfo &args) {
    if (!state->closed && args.Length() > 0 && args[0].IsNumber()) {
      state->loop->fail_next_decode_for_test(args[0].As<Napi::Number>().Int32Value());
    }
    return args.Env().Undefined();
  }));

  core.Set("close", Napi::Function::New(env, [state](const Napi::CallbackInfo &args) {
    Napi::Env env = args.Env();
    auto deferred = std::make_shared<Napi::Promise::Deferred>(env);
    if (state->closed) {
      deferred->Resolve(env.Undefined());
      return deferred->Promise();
    }
    state->closed = true;
    // Joining the loop waits for its current step: off the JS thread.
    class CloseWorker : public Napi::AsyncWorker {
     public:
      CloseWorker(Napi::Env env, std::shared_ptr<CoreState> state, std::shared_ptr<Napi::Promise::Deferred> deferred)
          : Napi::AsyncWorker(env), state_(std::move(state)), deferred_(std::move(deferred)) {}
      void Execute() override { state_->loop->stop(); }
      void OnOK() override {
        Napi::Env env = Env();
        deliver(env, *state_);  // the last finishes (cancelled)
        state_->tsfn.Release();
        state_->loop.reset();  // frees the context and the model
        deferred_->Resolve(env.Undefined());
      }

     private:
      std::shared_ptr<CoreState> state_;
      std::shared_ptr<Napi::Promise::Deferred> deferred_;
    };
    (new CloseWorker(env, state, deferred))->Queue();
    return deferred->Promise();
  }));
  return core;
}

class OpenWorker : public Napi::AsyncWorker {
 public:
  OpenWorker(Napi::Env env, std::string lib_path, LoopOptions options, Napi::Function on_events)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        lib_path_(std::move(lib_path)),
        options_(std::move(options)),
        state_(std::make_shared<CoreState>()) {
    state_->on_events = Napi::Persistent(on_events);
  }

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    std::string error = load_api(lib_path_);
    if (!error.empty()) {
      SetError(error);
      return;
    }
    try {
      // The notifier is set before the loop starts (in OnOK); the loop never runs before that.
      std::weak_ptr<CoreState> weak = state_;
      state_->loop = std::make_unique<DecodeLoop>(g_api, options_, [weak] {
        if (auto state = weak.lock()) {
          state->tsfn.NonBlockingCall([weak](Napi::Env env, Napi::Function) {
            if (auto alive = weak.lock()) deliver(env, *alive);
          });
        }
      });
    } catch (const std::exception &e) {
      SetError(e.what());
    } catch (...) {
      SetError("the core could not start (an exception that is not a std::exception)");
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    state_->tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo &) {}),
                                                 "gptoss-core", 0, 1);
    state_->tsfn.Unref(env);  // referenced only while sequences run
    Napi::Object core = make_core(env, state_);
    state_->loop->start();
    deferred_.Resolve(core);
  }

  void OnError(const Napi::Error &error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string lib_path_;
  LoopOptions options_;
  std::shared_ptr<CoreState> state_;
};

Napi::Value Open(const Napi::CallbackInfo &args) {
  Napi::Env env = args.Env();
  if (args.Length() < 2 || !args[0].IsObject() || !args[1].IsFunction()) {
    throw Napi::TypeError::New(env, "open(options, onEvents)");
  }
  Napi::Object object = args[0].As<Napi::Object>();
  LoopOptions options;
  options.model_path = string_or(object, "modelPath", "");
  options.gpu_layers = static_cast<int32_t>(number_or(object, "gpuLayers", 0));
  const std::string split = string_or(object, "splitMode", "none");
  if (split != "none" && split != "layer" && split != "tensor") {
    throw Napi::TypeError::New(env, "splitMode must be none, layer or tensor, not " + split);
  }
  options.split_mode = split == "layer"    ? LLAMA_SPLIT_MODE_LAYER
                       : split == "tensor" ? LLAMA_SPLIT_MODE_TENSOR
                                           : LLAMA_SPLIT_MODE_NONE;
  options.sequences = static_cast<int32_t>(number_or(object, "sequences", 1));
  options.context_per_sequence = static_cast<int32_t>(number_or(object, "contextPerSequence", 1024));
  options.batch_size = static_cast<int32_t>(number_or(object, "batchSize", 2048));
  options.threads = static_cast<int32_t>(number_or(object, "threads", 1));
  options.sampler_threads = static_cast<int32_t>(number_or(object, "samplerThreads", 1));
  options.sampler_spin_us = static_cast<int32_t>(number_or(object, "samplerSpinMicros", 0));
  const std::string flash = string_or(object, "flashAttention", "auto");
  options.flash_attention = flash == "on" ? 1 : flash == "off" ? 0 : -1;
  const std::string block_stats = string_or(object, "blockStats", "auto");
  options.block_stats = block_stats == "check" ? 2 : block_stats == "on" ? 1 : block_stats == "off" ? 0 : -1;
  options.compact_streams = string_or(object, "compactStreams", "off") == "on";
  const std::string lib_path = string_or(object, "libllamaPath", "");
  if (lib_path.empty() || options.model_path.empty()) {
    throw Napi::TypeError::New(env, "open() needs libllamaPath and modelPath");
  }
  options.libllama_path = lib_path;
  auto *worker = new OpenWorker(env, lib_path, options, args[1].As<Napi::Function>());
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value SampleForTest(const Napi::CallbackInfo &args) {
  Napi::Env env = args.Env();
  if (args.Length() < 4 || !args[0].IsTypedArray() || !args[3].IsNumber()) {
    throw Napi::TypeError::New(env, "sampleForTest(logits, sampling, previous, draws, threads?, spinMicros?)");
  }
  Napi::TypedArray typed = args[0].As<Napi::TypedArray>();
  if (typed.TypedArrayType() != napi_float32_array) throw Napi::TypeError::New(env, "logits must be a Float32Array");
  Napi::Float32Array input = args[0].As<Napi::Float32Array>();
  bool has_seed = false;
  uint64_t seed = 0;
  SamplingConfig config = parse_sampling(args[1], has_seed, seed);
  SamplerState state;
  state.rng.seed(has_seed ? seed : std::random_device{}());
  for (int32_t token : int32_array(args[2], "previous")) ++state.counts[token];
  const int32_t n_vocab = static_cast<int32_t>(input.ElementLength());
  std::vector<float> logits(input.Data(), input.Data() + n_vocab);
  apply_adjustments(logits.data(), n_vocab, config, state);
  const int32_t draws = args[3].As<Napi::Number>().Int32Value();
  Napi::Int32Array out = Napi::Int32Array::New(env, static_cast<size_t>(std::max(0, draws)));
  SamplerScratch scratch;
  // Optional 5th argument: threads > 1 samples with the vocabulary split across a pool, as the
  // decode loop does for steps with few sequences.
  const int threads = args.Length() > 4 && args[4].IsNumber() ? args[4].As<Napi::Number>().Int32Value() : 1;
  const int spin_us = args.Length() > 5 && args[5].IsNumber() ? args[5].As<Napi::Number>().Int32Value() : 0;
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads, spin_us) : nullptr;
  for (int32_t i = 0; i < draws; ++i) {
    out.Data()[i] = pool ? draw_token_split(logits.data(), n_vocab, config, state.rng, scratch, *pool)
                         : draw_token(logits.data(), n_vocab, config, state.rng, scratch);
  }
  return out;
}

// token_logprobs on caller-given logits, for each of `tokens`: {logprobs, topTokens, topLogprobs}
// (top_n alternatives per token, flattened). For the tests against the reference's log-softmax.
Napi::Value LogprobsForTest(const Napi::CallbackInfo &args) {
  Napi::Env env = args.Env();
  if (args.Length() < 3 || !args[0].IsTypedArray() || !args[2].IsNumber() ||
      args[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(env, "logprobsForTest(logits: Float32Array, tokens: Int32Array, topN)");
  }
  Napi::Float32Array logits = args[0].As<Napi::Float32Array>();
  const std::vector<int32_t> tokens = int32_array(args[1], "tokens");
  const int32_t top_n = args[2].As<Napi::Number>().Int32Value();
  std::vector<float> logprobs;
  std::vector<int32_t> top_tokens;
  std::vector<float> top_logprobs;
  for (int32_t token : tokens) {
    token_logprobs(logits.Data(), static_cast<int32_t>(logits.ElementLength()), token, top_n, logprobs, top_tokens,
                   top_logprobs);
  }
  Napi::Object out = Napi::Object::New(env);
  Napi::Float32Array lp = Napi::Float32Array::New(env, logprobs.size());
  std::copy(logprobs.begin(), logprobs.end(), lp.Data());
  Napi::Int32Array tt = Napi::Int32Array::New(env, top_tokens.size());
  std::copy(top_tokens.begin(), top_tokens.end(), tt.Data());
  Napi::Float32Array tl = Napi::Float32Array::New(env, top_logprobs.size());
  std::copy(top_logprobs.begin(), top_logprobs.end(), tl.Data());
  out.Set("logprobs", lp);
  out.Set("topTokens", tt);
  out.Set("topLogprobs", tl);
  return out;
}

// A job on a pool of `threads` in which every item a worker thread takes throws (the caller's own
// items wait until one has), then a clean job on the same pool. Rethrows the first job's exception,
// which reached this thread through parallel_for; node-addon-api turns it into a JavaScript Error
// (NODE_ADDON_API_CPP_EXCEPTIONS_ALL). Without the pool's catch the worker's exception would have
// terminated the process.
Napi::Value ThrowInPoolForTest(const Napi::CallbackInfo &args) {
  Napi::Env env = args.Env();
  const int threads = args.Length() > 0 && args[0].IsNumber() ? args[0].As<Napi::Number>().Int32Value() : 4;
  if (threads < 2) throw Napi::RangeError::New(env, "throwInPoolForTest(threads) needs threads >= 2");
  ThreadPool pool(threads);
  const int items = threads * 8;
  std::exception_ptr thrown;
  try {
    std::atomic<bool> worker_threw{false};
    pool.parallel_for(items, [&](int, int worker) {
      if (worker != 0) {
        worker_threw.store(true);
        throw std::runtime_error("thrown by a pool task on worker " + std::to_string(worker));
      }
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (!worker_threw.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    });
  } catch (...) {
    thrown = std::current_exception();
  }
  if (!thrown) throw Napi::Error::New(env, "no exception reached the caller of parallel_for");
  std::atomic<int> ran{0};
  pool.parallel_for(items, [&](int, int) { ran.fetch_add(1); });
  if (ran.load() != items) {
    throw Napi::Error::New(env, "after an exception the pool ran " + std::to_string(ran.load()) + " of " +
                                    std::to_string(items) + " items");
  }
  std::rethrow_exception(thrown);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open));
  exports.Set("sampleForTest", Napi::Function::New(env, SampleForTest));
  exports.Set("logprobsForTest", Napi::Function::New(env, LogprobsForTest));
  exports.Set("throwInPoolForTest", Napi::Function::New(env, ThrowInPoolForTest));
  return exports;
}

}  // namespace
}  // namespace gptoss

static Napi::Object InitCore(Napi::Env env, Napi::Object exports) { return gptoss::Init(env, exports); }

NODE_API_MODULE(gptoss_core, InitCore)
