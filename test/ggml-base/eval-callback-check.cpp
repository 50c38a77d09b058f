// Test support for test/ggml-base-patch.test.ts: llama.cpp's eval callback over the tiny model on the
// CPU, three ways: no callback, a callback that asks for nothing, and one that asks for the output
// (result_output, the graph's last node, as the native core's block statistics do). Each decodes the
// same prompt and tokens; it prints, as JSON, a checksum of every step's logits for each way, how many
// times the callback was handed the output, whether what it was handed equals the logits llama.cpp
// returned, and which ggml-base files the process mapped (the test runs it over node-llama-cpp's CPU binaries as
// they are, and over a copy with patch 0005's libggml-base.so installed as build-ggml-cuda.sh installs
// it). Arguments: MODEL BACKENDS_DIR.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "llama.h"

#include "check-util.h"

namespace {

struct Watch {
  bool want_output = false;
  int handed = 0;
  std::vector<float> last;  // what the callback was handed, last time
};

bool on_eval(ggml_tensor *t, bool ask, void *user) {
  auto *w = static_cast<Watch *>(user);
  const bool is_output = std::strcmp(t->name, "result_output") == 0;
  if (ask) return w->want_output && is_output;
  if (is_output) {
    w->handed++;
    w->last.resize(ggml_nelements(t));
    ggml_backend_tensor_get(t, w->last.data(), 0, ggml_nbytes(t));
  }
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
  llama_backend_init();
  ggml_backend_load_all_from_path(argv[2]);
  llama_model *model = llama_model_load_from_file(argv[1], llama_model_default_params());
  if (model == nullptr) return 3;
  const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
  const std::vector<llama_token> prompt = {200006, 17360, 200008, 3575, 553, 261, 1058, 200007};
  const int steps = 4;

  std::string json = "{";
  bool handed_matches = true;
  int handed = 0;
  const char *ways[] = {"none", "nothing", "output"};
  for (int way = 0; way < 3; way++) {
    Watch watch;
    watch.want_output = way == 2;
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 256;
    cp.n_batch = 64;
    cp.n_ubatch = 64;
    cp.n_threads = 1;
    cp.n_threads_batch = 1;
    if (way > 0) {
      cp.cb_eval = on_eval;
      cp.cb_eval_user_data = &watch;
    }
    llama_context *ctx = llama_init_from_model(model, cp);
    if (ctx == nullptr) return 4;
    json += std::string(way ? "," : "") + "\"" + ways[way] + "\":[";
    std::vector<llama_token> feed = prompt;
    for (int step = 0; step < steps; step++) {
      llama_batch batch = llama_batch_get_one(feed.data(), static_cast<int32_t>(feed.size()));
      if (llama_decode(ctx, batch) != 0) return 5;
      const float *logits = llama_get_logits_ith(ctx, -1);
      if (way == 2) {
        // The callback saw the output of every step, and that output is what llama.cpp returned.
        handed_matches = handed_matches && watch.last.size() >= static_cast<size_t>(n_vocab) &&
                         std::memcmp(watch.last.data() + watch.last.size() - n_vocab, logits,
                                     sizeof(float) * n_vocab) == 0;
      }
      char buf[32];
      std::snprintf(buf, sizeof buf, "%s\"%016llx\"", step ? "," : "",
                    static_cast<unsigned long long>(checksum(logits, n_vocab)));
      json += buf;
      feed = {static_cast<llama_token>(1000 + 7 * step)};  // fixed tokens: no sampling involved
    }
    json += "]";
    if (way == 2) handed = watch.handed;
    llama_free(ctx);
  }
  json += ",\"handed\":" + std::to_string(handed) + ",\"handedMatches\":" + (handed_matches ? "true" : "false") +
          ",\"bases\":" + mapped_files("libggml-base") + "}";
  std::printf("%s\n", json.c_str());
  llama_model_free(model);
  return 0;
}
