#include "thread_pool.h"

#include <chrono>

namespace gptoss {

namespace {

// Spins until done() or `spin_us` passed; true when done() became true.
template <typename Done>
bool spin_until(int spin_us, Done done) {
  if (spin_us <= 0) return done();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us);
  uint32_t rounds = 0;
  while (!done()) {
    // Check the clock only every 64 rounds: it costs more than the atomic load.
    if ((++rounds & 63u) == 0 && std::chrono::steady_clock::now() >= deadline) return false;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  return true;
}

}  // namespace

ThreadPool::ThreadPool(int threads, int spin_us) : spin_us_(spin_us) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto &thread : workers_) thread.join();
}

void ThreadPool::run_items(int worker) {
  // One try around the whole loop: no cost per item on the way through.
  try {
    for (int i = next_.fetch_add(1); i < count_; i = next_.fetch_add(1)) (*fn_)(i, worker);
  } catch (...) {
    next_.store(count_);  // the others stop taking items: the job has failed
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadPool::parallel_for(int count, const std::function<void(int, int)> &fn) {
  if (count <= 0) return;
  if (workers_.empty() || count == 1) {
    for (int i = 0; i < count; ++i) fn(i, 0);
    return;
  }
  {
    // Under the mutex, so that a worker deciding to sleep cannot miss the new generation.
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = &fn;
    count_ = count;
    next_.store(0);
    busy_.store(static_cast<int>(workers_.size()));
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  run_items(0);
  if (!spin_until(spin_us_, [this] { return busy_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return busy_.load(std::memory_order_acquire) == 0; });
  }
  // Only now: until every worker is done, they may still call fn, which lives in the caller's frame.
  if (error_) {
    std::exception_ptr error;
    std::swap(error, error_);
    std::rethrow_exception(error);
  }
}

void ThreadPool::work(int worker) {
  uint64_t seen = 0;
  while (true) {
    const bool fresh = spin_until(spin_us_, [&] {
      return stop_.load(std::memory_order_relaxed) || generation_.load(std::memory_order_acquire) != seen;
    });
    if (!fresh) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
    }
    if (stop_.load()) return;
    // fn_ and count_ were written before the generation moved (release): this acquire sees them.
    seen = generation_.load(std::memory_order_acquire);
    run_items(worker);
    if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

}  // namespace gptoss
