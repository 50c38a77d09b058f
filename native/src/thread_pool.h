// A fixed pool that runs one parallel-for at a time: the sequences of a decode step (or the parts
// of one sequence's vocabulary) are sampled side by side.
//
// Between jobs a worker first spins for `spin_us` microseconds, then sleeps on a condition
// variable. Spinning matters on a GPU host: waking 14 sleeping threads costs tens of microseconds
// per step in a VM, on the critical path of every token of a lone stream. On a CPU-only machine
// the spin is 0: spinning workers would steal cores from llama.cpp's own threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gptoss {

class ThreadPool {
 public:
  // `threads` counts the caller: the caller's thread works too, so 1 means no extra threads.
  explicit ThreadPool(int threads, int spin_us = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(index, worker) for every index in [0, count); worker in [0, size()). Returns when all
  // are done. One caller at a time. If fn throws (on any thread), the items not yet started are
  // skipped and the first exception is rethrown here once every worker is done with the job: an
  // exception leaving a worker thread's function would std::terminate the process.
  void parallel_for(int count, const std::function<void(int, int)> &fn);

 private:
  void work(int worker);
  void run_items(int worker);

  const int spin_us_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int, int)> *fn_ = nullptr;
  int count_ = 0;
  std::atomic<int> next_{0};
  std::atomic<int> busy_{0};            // workers still in the current job
  std::atomic<uint64_t> generation_{0};  // bumped per job
  std::atomic<bool> stop_{false};
  // The job's first exception. Written under mutex_ before the writer's busy_ decrement (release);
  // parallel_for reads it after seeing busy_ == 0 (acquire), so it needs no lock there.
  std::exception_ptr error_;
};

}  // namespace gptoss
