#pragma once

#include <memory>

#include "kiln/device.h"

namespace kiln {

struct CpuStreamState;

// An ordered queue whose items are run one at a time by a worker of the global pool.
class CpuStream : public Stream {
 public:
  CpuStream();
  ~CpuStream() override;

  void copy(void* dst, const void* src, size_t bytes) override;
  void memset(void* dst, int value, size_t bytes) override;
  void hostTask(std::function<void()> task) override;
  void keepAlive(std::shared_ptr<const void> owner) override;
  void notify(std::function<void(const Status&)> done) override;
  void synchronize() override;
  void record(Event& event) override;

 private:
  // Shared with the draining worker so a stream dropped with work queued stays valid.
  std::shared_ptr<CpuStreamState> state_;
};

class CpuEvent : public Event {
 public:
  CpuEvent();
  bool query() const override;
  void onComplete(std::function<void()> done) override;
  double elapsedSince(const Event& start) const override;

  struct State;
  std::shared_ptr<State> state() const { return state_; }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace kiln
