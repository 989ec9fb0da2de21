#include "ops/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace facelib::ops {
namespace {

// Every task runs exactly once, whatever the thread and task counts.
TEST(ParallelForTest, CoversEveryTaskOnce) {
  for (int threads : {1, 2, 3, 8}) {
    for (size_t tasks : {0u, 1u, 2u, 7u, 64u, 1000u, 100000u}) {
      std::vector<std::atomic<int>> hits(tasks);
      ParallelFor(threads, tasks, [&](size_t begin, size_t end) {
        ASSERT_LE(begin, end);
        ASSERT_LE(end, tasks);
        for (size_t i = begin; i < end; ++i) hits[i].fetch_add(1);
      });
      for (size_t i = 0; i < tasks; ++i) ASSERT_EQ(hits[i].load(), 1) << threads << " " << tasks;
    }
  }
}

// Back-to-back jobs (workers still finishing or waking late from the previous
// one) and calls from several threads at once (one owns the pool, the others
// run inline) must neither lose nor repeat tasks.
TEST(ParallelForTest, ConcurrentAndRepeatedCalls) {
  std::atomic<long> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&] {
      for (int rep = 0; rep < 300; ++rep) {
        ParallelFor(2, 37, [&](size_t begin, size_t end) {
          total.fetch_add(static_cast<long>(end - begin));
          // A nested call runs inline on the calling thread.
          ParallelFor(2, 3, [&](size_t b, size_t e) { total.fetch_add(static_cast<long>(e - b)); });
        });
      }
    });
  }
  for (auto& t : callers) t.join();
  // 37 tasks per call, plus 3 nested tasks per chunk (the chunk count depends
  // on the split, but every chunk adds exactly 3).
  EXPECT_GE(total.load(), 3L * 300 * (37 + 3));
  EXPECT_EQ((total.load() - 3L * 300 * 37) % 3, 0);
}

}  // namespace
}  // namespace facelib::ops
