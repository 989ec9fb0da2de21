#include "ops/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace facelib::ops::parallel_internal {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// One job at a time. The job word packs (generation, chunk count, next chunk)
// so that a worker claims a chunk of the current job with one compare-exchange
// and can never claim from a job that has already been replaced.
class Pool {
 public:
  static Pool& Get() {
    static Pool pool;
    return pool;
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  void Run(int threads, size_t tasks, ChunkFn fn, const void* body) {
    std::unique_lock<std::mutex> busy(run_mu_, std::try_to_lock);
    if (!busy.owns_lock()) {  // another caller (or a nested call) owns the pool
      fn(body, 0, tasks);
      return;
    }
    EnsureWorkers(static_cast<size_t>(threads) - 1);
    // A few chunks per thread balance uneven tasks and let the caller absorb
    // the share of a worker that starts late.
    const size_t chunks = std::min<size_t>({tasks, static_cast<size_t>(threads) * 4, kMaxChunks});
    fn_ = fn;
    body_ = body;
    tasks_ = tasks;
    chunks_ = chunks;
    done_.store(0, std::memory_order_relaxed);
    generation_ = (generation_ + 1) & 0xffffffffu;
    job_.store(Pack(generation_, chunks, 0));  // publishes the fields above
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
    RunChunks(generation_);
    // Wait only for chunks claimed by workers that are still running them.
    while (done_.load(std::memory_order_acquire) != chunks) {
      for (int i = 0; i < 64; ++i) CpuRelax();
      if (done_.load(std::memory_order_acquire) != chunks) std::this_thread::yield();
    }
  }

 private:
  static constexpr size_t kMaxChunks = 0xffff;
  // Polling time of an idle worker before it blocks: covers the gap between
  // consecutive nodes of a model without keeping a core busy for long.
  static constexpr int kSpinRounds = 20000;

  static uint64_t Pack(uint64_t gen, uint64_t chunks, uint64_t next) {
    return (gen << 32) | (chunks << 16) | next;
  }

  // Claims and runs chunks of job `gen` until none is left.
  void RunChunks(uint64_t gen) {
    uint64_t s = job_.load(std::memory_order_acquire);
    for (;;) {
      const uint64_t next = s & 0xffff, chunks = (s >> 16) & 0xffff;
      if ((s >> 32) != gen || next >= chunks) return;
      if (!job_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        continue;
      }
      // The job cannot be replaced before this chunk is counted as done, so
      // its fields are stable here.
      const size_t begin = tasks_ * next / chunks, end = tasks_ * (next + 1) / chunks;
      if (begin < end) fn_(body_, begin, end);
      done_.fetch_add(1, std::memory_order_acq_rel);
      s = job_.load(std::memory_order_acquire);
    }
  }

  void EnsureWorkers(size_t n) {
    n = std::min<size_t>(n, 255);
    while (workers_.size() < n) workers_.emplace_back([this] { WorkerLoop(); });
  }

  void WorkerLoop() {
    uint64_t seen = job_.load() >> 32;
    for (;;) {
      uint64_t gen = job_.load(std::memory_order_acquire) >> 32;
      for (int i = 0; gen == seen && i < kSpinRounds && !stop_.load(std::memory_order_relaxed); ++i) {
        CpuRelax();
        gen = job_.load(std::memory_order_acquire) >> 32;
      }
      if (gen == seen) {
        std::unique_lock<std::mutex> lock(mu_);
        sleepers_.fetch_add(1);
        while ((gen = job_.load() >> 32) == seen && !stop_.load()) cv_.wait(lock);
        sleepers_.fetch_sub(1);
      }
      if (stop_.load()) return;
      seen = gen;
      RunChunks(gen);
    }
  }

  std::mutex run_mu_;  // one Run at a time
  std::mutex mu_;      // guards sleeping
  std::condition_variable cv_;
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> job_{0};
  std::atomic<size_t> done_{0};
  uint64_t generation_ = 0;
  ChunkFn fn_ = nullptr;
  const void* body_ = nullptr;
  size_t tasks_ = 0, chunks_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace

void Run(int threads, size_t tasks, ChunkFn fn, const void* body) {
  Pool::Get().Run(threads, tasks, fn, body);
}

}  // namespace facelib::ops::parallel_internal
