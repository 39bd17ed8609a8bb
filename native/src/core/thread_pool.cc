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
//
// Participant p (the caller is 0, helpers number themselves as they start) owns a contiguous
// run of chunks and takes them front to back; one that runs out takes chunks from the back of
// another's run. Kernels split a layer along its pixels or rows in order, so the same thread
// then handles the same part of the data layer after layer, and a layer mostly reads what its
// own thread just wrote, from its own core's caches. Taking chunks from one shared counter
// handed them out by arrival, so about half of every layer's input came from the other core
// (reading 400 KB another core wrote measured 3-4x slower than reading it back on the core that
// wrote it). Stealing from the back keeps the threads busy when one is delayed.
struct ParallelJob {
  std::atomic<size_t> finished{0};
  std::atomic<size_t> nextParticipant{1};
  size_t n = 0;
  size_t chunk = 1;
  size_t chunks = 0;
  size_t participants = 1;
  // Per participant: its remaining chunks [begin, end), packed as begin << 32 | end.
  std::unique_ptr<std::atomic<uint64_t>[]> runs;
  const std::function<void(size_t, size_t)>* fn = nullptr;
  std::mutex mutex;
  std::condition_variable done;
  std::exception_ptr error;

  void init(size_t parts) {
    participants = parts;
    runs.reset(new std::atomic<uint64_t>[parts]);
    for (size_t p = 0; p < parts; ++p) {
      const uint64_t b = p * chunks / parts, e = (p + 1) * chunks / parts;
      runs[p].store(b << 32 | e, std::memory_order_relaxed);
    }
  }

  // Takes one chunk from run p, from the front (its owner) or the back (a thief); returns
  // false when the run is empty.
  bool take(size_t p, bool front, size_t* c) {
    uint64_t v = runs[p].load(std::memory_order_relaxed);
    for (;;) {
      const uint64_t b = v >> 32, e = v & 0xFFFFFFFFu;
      if (b >= e) return false;
      const uint64_t next = front ? (b + 1) << 32 | e : b << 32 | (e - 1);
      if (runs[p].compare_exchange_weak(v, next, std::memory_order_acq_rel)) {
        *c = static_cast<size_t>(front ? b : e - 1);
        return true;
      }
    }
  }

  // Runs chunks until none are left anywhere; returns after finishing the last one it took.
  void work(size_t self) {
    for (;;) {
      size_t c = 0;
      bool got = take(self, true, &c);
      for (size_t i = 1; !got && i < participants; ++i)
        got = take((self + i) % participants, false, &c);
      if (!got) return;
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
  job->init(helpers + 1);
  for (size_t i = 0; i < helpers; ++i)
    submit([job] { job->work(job->nextParticipant.fetch_add(1)); });
  job->work(0);
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
