// Intra-op parallelism for the SIMD kernels: ParallelFor splits a range of
// independent tasks over a process-wide pool of worker threads.
//
// Why not an OpenMP parallel region: its closing barrier makes the caller wait
// until every team thread has run, and on an oversubscribed machine a worker
// that is not scheduled for a few milliseconds stalls every region (a model
// with a hundred parallel nodes ran 10x slower on two threads than on one).
// Here the caller and the workers claim chunks of tasks from a shared counter;
// the caller runs chunks itself and only waits for chunks that a worker has
// actually claimed, so a late worker costs nothing (it finds no work left).
#pragma once

#include <cstddef>

namespace facelib::ops {

namespace parallel_internal {
using ChunkFn = void (*)(const void* body, size_t begin, size_t end);
void Run(int threads, size_t tasks, ChunkFn fn, const void* body);
}  // namespace parallel_internal

// Calls body(begin, end) on disjoint ranges covering [0, tasks), possibly on
// several threads (at most `threads`, including the caller). Every task runs
// exactly once; which thread runs it must not affect the result. Runs inline
// when threads <= 1, tasks <= 1, or the pool is busy with another caller
// (concurrent sessions, nested calls).
template <class Body>
void ParallelFor(int threads, size_t tasks, const Body& body) {
  if (threads <= 1 || tasks <= 1) {
    if (tasks > 0) body(size_t{0}, tasks);
    return;
  }
  parallel_internal::Run(
      threads, tasks,
      [](const void* b, size_t begin, size_t end) { (*static_cast<const Body*>(b))(begin, end); },
      &body);
}

}  // namespace facelib::ops
