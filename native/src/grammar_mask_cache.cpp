#include "grammar_mask_cache.h"

namespace gptoss {

std::string GrammarMaskCache::key(uint64_t grammar_hash, const std::vector<int32_t> &accepted) {
  std::string out(reinterpret_cast<const char *>(&grammar_hash), sizeof grammar_hash);
  if (!accepted.empty()) {
    out.append(reinterpret_cast<const char *>(accepted.data()), accepted.size() * sizeof(int32_t));
  }
  return out;
}

int32_t sole_token(const TokenMask &mask) {
  int32_t found = -1;
  for (size_t word = 0; word < mask.size(); ++word) {
    const uint64_t bits = mask[word];
    if (bits == 0) continue;
    if (found >= 0 || (bits & (bits - 1)) != 0) return -1;  // a second one
    found = static_cast<int32_t>(word * 64 + static_cast<size_t>(__builtin_ctzll(bits)));
  }
  return found;
}

std::shared_ptr<const TokenMask> GrammarMaskCache::find(const std::string &key, const std::string &grammar,
                                                        bool count_hit) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  // The same text object (a sequence's, shared) or an equal text; else a colliding hash: no entry.
  if (it->second.grammar.get() != &grammar && *it->second.grammar != grammar) return nullptr;
  ages_.splice(ages_.begin(), ages_, it->second.age);
  if (count_hit) ++hits_;
  return it->second.mask;
}

void GrammarMaskCache::store(const std::string &key, std::shared_ptr<const std::string> grammar,
                             std::shared_ptr<const TokenMask> mask) {
  if (capacity_ == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    // The same set computed twice (two threads), or another grammar under a colliding hash: the
    // newer one stands.
    it->second.grammar = std::move(grammar);
    it->second.mask = std::move(mask);
    ages_.splice(ages_.begin(), ages_, it->second.age);
    return;
  }
  while (entries_.size() >= capacity_) {
    entries_.erase(ages_.back());
    ages_.pop_back();
  }
  ages_.push_front(key);
  entries_.emplace(key, Entry{std::move(grammar), std::move(mask), ages_.begin()});
}

uint64_t GrammarMaskCache::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}

}  // namespace gptoss
