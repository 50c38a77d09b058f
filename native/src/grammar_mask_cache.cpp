#include "grammar_mask_cache.h"

namespace gptoss {

std::string GrammarMaskCache::key(const std::string &grammar, const std::vector<int32_t> &accepted) {
  // The grammar's text whole (not a hash: two grammars must never share an entry), then the tokens'
  // bytes; the text's length first, so that no text and token bytes can run into another's.
  std::string out;
  const uint64_t length = grammar.size();
  out.reserve(sizeof length + grammar.size() + accepted.size() * sizeof(int32_t));
  out.append(reinterpret_cast<const char *>(&length), sizeof length);
  out.append(grammar);
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

std::shared_ptr<const TokenMask> GrammarMaskCache::peek(const std::string &key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : it->second.mask;
}

std::shared_ptr<const TokenMask> GrammarMaskCache::find(const std::string &key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  ages_.splice(ages_.begin(), ages_, it->second.age);
  return it->second.mask;
}

void GrammarMaskCache::store(const std::string &key, std::shared_ptr<const TokenMask> mask) {
  if (capacity_ == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {  // two threads computed the same set: keep one
    ages_.splice(ages_.begin(), ages_, it->second.age);
    return;
  }
  while (entries_.size() >= capacity_) {
    entries_.erase(ages_.back());
    ages_.pop_back();
  }
  ages_.push_front(key);
  entries_.emplace(key, Entry{std::move(mask), ages_.begin()});
}

uint64_t GrammarMaskCache::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}

uint64_t GrammarMaskCache::misses() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return misses_;
}

}  // namespace gptoss
