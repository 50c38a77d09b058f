// Test support for test/ggml-base-patch.test.ts (patch 0006): what a move of a sequence to another KV
// stream costs inside llama.cpp, the way the native core's stream compaction moves one
// (llama_memory_seq_cp to the new sequence's stream, llama_memory_seq_rm of the old; llama.cpp copies the
// buffers at the next llama_decode, in llama_context::memory_update). Over the tiny model on the CPU,
// with a KV stream a sequence: a prompt goes into sequence 0, then each step decodes one fixed token for
// the sequence, moving it to the other of streams 1 and 2 before every even step. It prints, as JSON:
// - the logits' checksum of every step, moved and (in a second context) never moved: a move must change
//   no logit;
// - how many worst-case graphs llama.cpp reserved during the steps that applied a move, and during the
//   others (its "graph_reserve: reserving a graph" debug line): patch 0006 leaves none after a copy;
// - the mean wall time of llama_decode in the steps with a move and in those without (for the docs; the
//   test asserts no time);
// - which libllama files the process mapped (the install must give one, the installed one).
// Arguments: MODEL BACKENDS_DIR [STEPS] [SEQUENCES] [UBATCH]: the context holds SEQUENCES streams (3) of
// 128 tokens and reads UBATCH tokens a micro-batch (64); llama.cpp's worst-case graph grows with both.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "llama.h"

#include "check-util.h"

namespace {

int reserves = 0;  // graph_reserve's debug lines since the last reset

void on_log(ggml_log_level, const char *text, void *) {
  if (std::strstr(text, "graph_reserve: reserving a graph") != nullptr) reserves++;
}

struct Run {
  std::vector<uint64_t> sums;
  int reserves_moved = 0, reserves_still = 0;
  double ms_moved = 0, ms_still = 0;
  int n_moved = 0, n_still = 0;
};

// One context: the prompt into sequence 0, then `steps` one-token steps, moving first when `move`.
bool run(llama_model *model, int steps, int n_seq, int n_ubatch, bool move, Run &out) {
  const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = n_seq * 128;
  cp.n_seq_max = n_seq;
  cp.kv_unified = false;  // a KV stream a sequence, as the native core runs llama.cpp
  cp.n_batch = n_ubatch;
  cp.n_ubatch = n_ubatch;
  cp.n_threads = 1;
  cp.n_threads_batch = 1;
  llama_context *ctx = llama_init_from_model(model, cp);
  if (ctx == nullptr) return false;
  llama_memory_t mem = llama_get_memory(ctx);
  std::vector<llama_token> prompt = {200006, 17360, 200008, 3575, 553, 261, 1058, 200007};
  llama_batch batch = llama_batch_init(n_ubatch, 0, 1);
  auto decode = [&](const std::vector<llama_token> &tokens, llama_pos pos, llama_seq_id seq) {
    batch.n_tokens = 0;
    for (size_t i = 0; i < tokens.size(); i++) {
      batch.token[i] = tokens[i];
      batch.pos[i] = pos + static_cast<llama_pos>(i);
      batch.n_seq_id[i] = 1;
      batch.seq_id[i][0] = seq;
      batch.logits[i] = i + 1 == tokens.size();
      batch.n_tokens++;
    }
    return llama_decode(ctx, batch) == 0;
  };
  bool ok = decode(prompt, 0, 0);
  llama_seq_id seq = 0;
  llama_pos pos = static_cast<llama_pos>(prompt.size());
  for (int step = 0; ok && step < steps; step++) {
    const bool moving = move && step % 2 == 0;
    if (moving) {
      const llama_seq_id to = seq == 1 ? 2 : 1;
      llama_memory_seq_cp(mem, seq, to, -1, -1);
      llama_memory_seq_rm(mem, seq, -1, -1);
      seq = to;
    }
    reserves = 0;
    const auto t0 = std::chrono::steady_clock::now();
    ok = decode({static_cast<llama_token>(1000 + 7 * step)}, pos++, seq);  // fixed tokens: no sampling
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (moving) {
      out.reserves_moved += reserves, out.ms_moved += ms, out.n_moved++;
    } else if (step > 0) {  // the first step after the prompt builds a new graph either way
      out.reserves_still += reserves, out.ms_still += ms, out.n_still++;
    }
    if (ok) out.sums.push_back(checksum(llama_get_logits_ith(ctx, -1), n_vocab));
  }
  llama_batch_free(batch);
  llama_free(ctx);
  return ok;
}

std::string sums_json(const std::vector<uint64_t> &sums) {
  std::string out = "[";
  for (size_t i = 0; i < sums.size(); i++) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%s\"%016llx\"", i ? "," : "", static_cast<unsigned long long>(sums[i]));
    out += buf;
  }
  return out + "]";
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  const int steps = argc > 3 ? std::atoi(argv[3]) : 8;
  const int n_seq = argc > 4 ? std::atoi(argv[4]) : 3;
  const int n_ubatch = argc > 5 ? std::atoi(argv[5]) : 64;
  if (steps < 1 || n_seq < 3 || n_ubatch < 8) return 2;
  llama_log_set(on_log, nullptr);
  llama_backend_init();
  ggml_backend_load_all_from_path(argv[2]);
  llama_model *model = llama_model_load_from_file(argv[1], llama_model_default_params());
  if (model == nullptr) return 3;
  Run moved, still;
  if (!run(model, steps, n_seq, n_ubatch, true, moved) || !run(model, steps, n_seq, n_ubatch, false, still)) return 4;
  std::printf(
      "{\"moved\":%s,\"still\":%s,\"moves\":%d,\"reservesOnMove\":%d,\"reservesOtherwise\":%d,"
      "\"msOnMove\":%.3f,\"msOtherwise\":%.3f,\"llamas\":%s}\n",
      sums_json(moved.sums).c_str(), sums_json(still.sums).c_str(), moved.n_moved, moved.reserves_moved,
      moved.reserves_still, moved.ms_moved / (moved.n_moved ? moved.n_moved : 1),
      moved.ms_still / (moved.n_still ? moved.n_still : 1), mapped_files("/libllama.").c_str());
  llama_model_free(model);
  return 0;
}
