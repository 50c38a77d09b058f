// A fixed pool that runs one parallel-for at a time: the sequences of a decode step are sampled
// side by side. Workers sleep on a condition variable between steps (no spinning: on a CPU-only
// machine they would steal cores from llama.cpp's own threads).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gptoss {

class ThreadPool {
 public:
  // `threads` counts the caller: the caller's thread works too, so 1 means no extra threads.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(index, worker) for every index in [0, count); worker in [0, size()). Returns when all are done.
  void parallel_for(int count, const std::function<void(int, int)> &fn);

 private:
  void work(int worker);
  void run_items(int worker);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int, int)> *fn_ = nullptr;
  int count_ = 0;
  std::atomic<int> next_{0};
  int busy_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace gptoss
