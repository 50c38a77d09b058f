// The tokens a grammar allows at a point of a generation, remembered across requests.
//
// Under a grammar the decode loop draws first and asks the grammar about the drawn token alone; only
// a rejected draw pays for the full check of all 201,088 candidates (llama.cpp walks each token's
// text through the grammar: tens of milliseconds). Where the grammar fixes the structure (harmony's
// `<|channel|>` and channel name at the start of every tool-using answer, a forced tool call, the
// first bytes of a JSON reply) a draw is rejected at the same points of every request with that
// grammar, and the full check gives the same answer each time: a llama.cpp grammar's state is a
// function of its text and the tokens accepted so far. This cache keys the allowed set by exactly
// those two, for the first kMaxPrefix tokens of a generation (where the structure is; later the
// tokens are the model's own text and rarely repeat), so that the second request of an agent loop
// with the same tools pays nothing there. Exact: a hit is the set a full check would compute.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace gptoss {

// One bit a token: set where the grammar allows it (25 KB for gpt-oss's vocabulary).
using TokenMask = std::vector<uint64_t>;
inline bool mask_allows(const TokenMask &mask, int32_t token) {
  return ((mask[static_cast<size_t>(token) >> 6] >> (static_cast<uint32_t>(token) & 63u)) & 1u) != 0;
}
// The one token the mask allows, or -1 when it allows none or several.
int32_t sole_token(const TokenMask &mask);

class GrammarMaskCache {
 public:
  // Generations whose accepted tokens are this many or fewer are looked up; longer ones are not.
  static constexpr size_t kMaxPrefix = 32;

  explicit GrammarMaskCache(size_t capacity) : capacity_(capacity) {}

  // The key for a grammar (its text's hash) and the tokens accepted since it started. Each entry also
  // holds the grammar's text, compared on every hit: two grammars whose hashes collide never share a
  // set (the key stays small; the text is shared by the entries and sequences of one grammar).
  static std::string key(uint64_t grammar_hash, const std::vector<int32_t> &accepted);

  // Thread-safe (sampler threads share one cache). A hit makes the entry the most recently used,
  // and counts in hits() when count_hit (a rejected draw served; not a look for forced tokens).
  std::shared_ptr<const TokenMask> find(const std::string &key, const std::string &grammar, bool count_hit);
  void store(const std::string &key, std::shared_ptr<const std::string> grammar,
             std::shared_ptr<const TokenMask> mask);

  uint64_t hits() const;

 private:
  struct Entry {
    std::shared_ptr<const std::string> grammar;
    std::shared_ptr<const TokenMask> mask;
    std::list<std::string>::iterator age;
  };
  size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> ages_;  // most recently used first
  uint64_t hits_ = 0;
};

}  // namespace gptoss
