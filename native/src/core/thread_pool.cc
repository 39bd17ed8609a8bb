#include "kiln/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <memory>
#include <thread>

#include "kiln/cpu_features.h"

namespace kiln {

namespace {
// Idle threads spin this long before sleeping on a condition variable. A kernel splits one
// layer into parallel parts many times per inference; waking a sleeping thread costs tens of
// microseconds (a futex and a reschedule), which small layers and small models pay on every
// call. The caller waiting for its helpers spins the same way.
constexpr auto kSpin = std::chrono::microseconds(200);

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until ready() or kSpin has passed; returns ready().
template <typename Ready>
bool spinUntil(Ready ready) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      cpuRelax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return ready();
    // Let another runnable thread have this core between bursts: on a machine shared with
    // other processes, a spinning helper otherwise pushes the thread it waits for off the
    // cores. With a core to spare, yield returns at once.
    std::this_thread::yield();
  }
}
}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads < 1) threads = 1;
  workers_.reserve(threads);
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(task));
    queued_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_one();
}

void ThreadPool::workerLoop() {
  for (;;) {
    spinUntil([this] {
      return queued_.load(std::memory_order_acquire) > 0 ||
             stopping_.load(std::memory_order_relaxed);
    });
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
      queued_.fetch_sub(1, std::memory_order_relaxed);
    }
    task();
  }
}

namespace {
// Shared between the caller and the helpers it recruited for one parallelFor.
struct ParallelJob {
  std::atomic<size_t> next{0};
  std::atomic<size_t> finished{0};
  size_t n = 0;
  size_t chunk = 1;
  size_t chunks = 0;
  const std::function<void(size_t, size_t)>* fn = nullptr;
  std::mutex mutex;
  std::condition_variable done;
  std::exception_ptr error;

  // Takes chunks until none are left; returns after finishing the last one it took.
  void work() {
    for (;;) {
      const size_t c = next.fetch_add(1);
      if (c >= chunks) return;
      const size_t begin = c * chunk;
      const size_t end = std::min(n, begin + chunk);
      try {
        (*fn)(begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
      }
      if (finished.fetch_add(1) + 1 == chunks) {
        std::lock_guard<std::mutex> lock(mutex);
        done.notify_all();
      }
    }
  }
};
}  // namespace

void ThreadPool::parallelFor(size_t n, size_t grain,
                             const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  grain = std::max<size_t>(grain, 1);
  const size_t maxChunks = static_cast<size_t>(size()) * 4;
  const size_t chunks = std::min(maxChunks, (n + grain - 1) / grain);
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  auto job = std::make_shared<ParallelJob>();
  job->n = n;
  job->chunk = (n + chunks - 1) / chunks;
  job->chunks = (n + job->chunk - 1) / job->chunk;
  job->fn = &fn;
  // Helpers that start after the caller finished find no chunk left and return without
  // touching `fn`; the shared_ptr keeps the job itself alive for them.
  // The caller works too, so size() - 1 helpers keep the busy threads at the pool's size.
  const size_t helpers = std::min<size_t>(job->chunks - 1, static_cast<size_t>(size()) - 1);
  for (size_t i = 0; i < helpers; ++i) submit([job] { job->work(); });
  job->work();
  spinUntil([&] { return job->finished.load(std::memory_order_acquire) == job->chunks; });
  std::unique_lock<std::mutex> lock(job->mutex);
  job->done.wait(lock, [&] { return job->finished.load() == job->chunks; });
  if (job->error) std::rethrow_exception(job->error);
}

ThreadPool& globalThreadPool() {
  static ThreadPool pool([] {
    if (const char* env = std::getenv("KILN_NUM_THREADS")) {
      const int n = std::atoi(env);
      if (n > 0) return n;
    }
    return cpuFeatures().logicalCores;
  }());
  return pool;
}

}  // namespace kiln
