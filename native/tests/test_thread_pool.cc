#include <atomic>
#include <stdexcept>
#include <vector>

#include "kiln/thread_pool.h"
#include "kiln_test.h"

using namespace kiln;

TEST(parallel_for_covers_every_index_once) {
  ThreadPool pool(3);
  for (size_t n : {1u, 7u, 1000u, 12345u}) {
    std::vector<std::atomic<int>> hits(n);
    pool.parallelFor(n, 10, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) hits[i].fetch_add(1);
    });
    int wrong = 0;
    for (auto& h : hits) wrong += h.load() != 1;
    CHECK_EQ(wrong, 0);
  }
}

TEST(nested_parallel_for_from_workers_does_not_deadlock) {
  ThreadPool pool(2);
  std::atomic<long> sum{0};
  // Every worker is busy with an outer chunk that itself calls parallelFor.
  pool.parallelFor(8, 1, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      pool.parallelFor(100, 1, [&](size_t ib, size_t ie) { sum += static_cast<long>(ie - ib); });
    }
  });
  CHECK_EQ(sum.load(), 800);
}

TEST(parallel_for_rethrows) {
  ThreadPool pool(2);
  CHECK_THROWS(pool.parallelFor(100, 1,
                                [](size_t b, size_t) {
                                  if (b >= 50) throw std::runtime_error("boom");
                                }),
               std::runtime_error);
}
