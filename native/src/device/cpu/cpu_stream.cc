#include "cpu_stream.h"

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include "kiln/fault_injection.h"
#include "kiln/thread_pool.h"

namespace kiln {

namespace {
enum class ItemKind {
  kWork,    // skipped after an unreported failure
  kAlways,  // bookkeeping that runs regardless (events, releasing kept-alive owners)
  kNotify,  // reports and clears the pending failure
};

struct Item {
  ItemKind kind;
  std::function<void()> run;
  std::function<void(const Status&)> notify;
};
}  // namespace

struct CpuStreamState {
  std::mutex mutex;
  std::condition_variable idle;
  std::deque<Item> queue;
  bool draining = false;
  Status failure;  // first failure since the last notify / synchronize

  static void drain(const std::shared_ptr<CpuStreamState>& self) {
    for (;;) {
      Item item;
      {
        std::lock_guard<std::mutex> lock(self->mutex);
        if (self->queue.empty()) {
          self->draining = false;
          self->idle.notify_all();
          return;
        }
        item = std::move(self->queue.front());
        self->queue.pop_front();
      }
      if (item.kind == ItemKind::kNotify) {
        Status status;
        {
          std::lock_guard<std::mutex> lock(self->mutex);
          std::swap(status, self->failure);
        }
        item.notify(status);
        continue;
      }
      if (item.kind == ItemKind::kWork) {
        {
          std::lock_guard<std::mutex> lock(self->mutex);
          if (!self->failure.ok) continue;
        }
        try {
          maybeFail("stream.task");
          item.run();
        } catch (const Error& e) {
          self->fail(Status::failure(e.code(), e.what()));
        } catch (const std::exception& e) {
          self->fail(Status::failure(ErrorCode::kInternal, e.what()));
        }
        continue;
      }
      item.run();
    }
  }

  void fail(Status status) {
    std::lock_guard<std::mutex> lock(mutex);
    if (failure.ok) failure = std::move(status);
  }

  static void push(const std::shared_ptr<CpuStreamState>& self, Item item) {
    bool start = false;
    {
      std::lock_guard<std::mutex> lock(self->mutex);
      self->queue.push_back(std::move(item));
      if (!self->draining) {
        self->draining = true;
        start = true;
      }
    }
    if (start) globalThreadPool().submit([self] { drain(self); });
  }
};

CpuStream::CpuStream() : state_(std::make_shared<CpuStreamState>()) {}
CpuStream::~CpuStream() = default;

void CpuStream::copy(void* dst, const void* src, size_t bytes) {
  CpuStreamState::push(state_, {ItemKind::kWork, [=] { std::memmove(dst, src, bytes); }, {}});
}

void CpuStream::memset(void* dst, int value, size_t bytes) {
  CpuStreamState::push(state_, {ItemKind::kWork, [=] { std::memset(dst, value, bytes); }, {}});
}

void CpuStream::hostTask(std::function<void()> task) {
  CpuStreamState::push(state_, {ItemKind::kWork, std::move(task), {}});
}

void CpuStream::keepAlive(std::shared_ptr<const void> owner) {
  // The owner is released when the item is destroyed, after everything before it ran.
  CpuStreamState::push(state_, {ItemKind::kAlways, [owner] {}, {}});
}

void CpuStream::notify(std::function<void(const Status&)> done) {
  CpuStreamState::push(state_, {ItemKind::kNotify, {}, std::move(done)});
}

void CpuStream::synchronize() {
  Status status;
  {
    std::unique_lock<std::mutex> lock(state_->mutex);
    state_->idle.wait(lock, [this] { return !state_->draining; });
    std::swap(status, state_->failure);
  }
  if (!status.ok) throw Error(status.code, status.message);
}

struct CpuEvent::State {
  std::mutex mutex;
  uint64_t generation = 0;
  bool completed = true;
  bool recorded = false;
  std::chrono::steady_clock::time_point time;
  std::vector<std::function<void()>> waiters;
};

void CpuStream::record(Event& event) {
  auto* cpuEvent = dynamic_cast<CpuEvent*>(&event);
  if (cpuEvent == nullptr) {
    throw Error(ErrorCode::kInvalidArgument,
                "an event of another device cannot be recorded on a cpu stream");
  }
  auto st = cpuEvent->state();
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(st->mutex);
    generation = ++st->generation;
    st->completed = false;
    st->recorded = true;
  }
  CpuStreamState::push(state_, {ItemKind::kAlways,
                                [st, generation] {
                                  std::vector<std::function<void()>> waiters;
                                  {
                                    std::lock_guard<std::mutex> lock(st->mutex);
                                    if (st->generation != generation) return;  // re-recorded since
                                    st->time = std::chrono::steady_clock::now();
                                    st->completed = true;
                                    waiters.swap(st->waiters);
                                  }
                                  for (auto& w : waiters) w();
                                },
                                {}});
}

CpuEvent::CpuEvent() : state_(std::make_shared<State>()) {}

bool CpuEvent::query() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->completed;
}

void CpuEvent::onComplete(std::function<void()> done) {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->completed) {
      state_->waiters.push_back(std::move(done));
      return;
    }
  }
  done();
}

double CpuEvent::elapsedSince(const Event& start) const {
  const auto* other = dynamic_cast<const CpuEvent*>(&start);
  if (other == nullptr)
    throw Error(ErrorCode::kInvalidArgument, "events of different devices cannot be compared");
  std::chrono::steady_clock::time_point t0, t1;
  {
    std::lock_guard<std::mutex> lock(other->state_->mutex);
    if (!other->state_->recorded || !other->state_->completed) {
      throw Error(ErrorCode::kInvalidState,
                  "the start event has not completed: record it and await it first");
    }
    t0 = other->state_->time;
  }
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->recorded || !state_->completed) {
      throw Error(ErrorCode::kInvalidState,
                  "the end event has not completed: record it and await it first");
    }
    t1 = state_->time;
  }
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

}  // namespace kiln
