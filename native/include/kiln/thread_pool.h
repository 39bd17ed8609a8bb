// The core's worker threads: stream queues and parallel kernels share them, so the process
// never runs more busy threads than the machine has cores.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()); }

  // Runs `task` on a worker; tasks may themselves call parallelFor.
  void submit(std::function<void()> task);

  // Calls fn(begin, end) over [0, n) in chunks of at least `grain`. The calling thread takes
  // chunks too, so a worker that calls it cannot deadlock waiting for busy peers.
  void parallelFor(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn);

 private:
  void workerLoop();

  std::vector<std::thread> workers_;
  std::deque<std::function<void()>> queue_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<size_t> queued_{0};  // queue_.size(), readable without the lock while spinning
  std::atomic<bool> stopping_{false};
};

// The process-wide pool, sized by KILN_NUM_THREADS or the number of logical cores.
ThreadPool& globalThreadPool();

}  // namespace kiln
