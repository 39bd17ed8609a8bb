#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
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

// Each participant runs its own contiguous part front to back, then takes what is left of the
// others' from the back: the caller starts at chunk 0 and the helper at the middle, whatever the
// timing (a slow caller only makes the helper take more from the back of the caller's part).
TEST(parallel_for_gives_each_thread_its_own_contiguous_part) {
  ThreadPool pool(2);
  const std::thread::id caller = std::this_thread::get_id();
  std::mutex mutex;
  std::vector<size_t> mine, theirs;
  pool.parallelFor(8, 1, [&](size_t b, size_t) {
    const bool onCaller = std::this_thread::get_id() == caller;
    if (onCaller) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::lock_guard<std::mutex> lock(mutex);
    (onCaller ? mine : theirs).push_back(b);
  });
  // A run of ascending chunks from `first`, then descending ones taken from another part.
  const auto ownThenStolen = [](const std::vector<size_t>& seq, size_t first) {
    if (seq.empty() || seq[0] != first) return false;
    size_t i = 1;
    while (i < seq.size() && seq[i] == seq[i - 1] + 1) ++i;
    for (++i; i < seq.size(); ++i)
      if (seq[i] >= seq[i - 1]) return false;
    return true;
  };
  CHECK_EQ(mine.size() + theirs.size(), 8u);
  CHECK(ownThenStolen(mine, 0));
  if (!theirs.empty()) CHECK(ownThenStolen(theirs, 4));
  std::vector<int> hits(8, 0);
  for (size_t c : mine) ++hits[c];
  for (size_t c : theirs) ++hits[c];
  for (int h : hits) CHECK_EQ(h, 1);
}
