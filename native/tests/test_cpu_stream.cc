#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

#include "kiln/device.h"
#include "kiln/fault_injection.h"
#include "kiln_test.h"

using namespace kiln;

TEST(work_runs_in_order) {
  auto stream = deviceByName("cpu").createStream();
  std::vector<int> order;
  for (int i = 0; i < 100; ++i) stream->hostTask([&order, i] { order.push_back(i); });
  stream->synchronize();
  bool sorted = order.size() == 100;
  for (int i = 0; i < 100 && sorted; ++i) sorted = order[i] == i;
  CHECK(sorted);
}

TEST(copy_and_memset) {
  Device& cpu = deviceByName("cpu");
  auto a = cpu.allocate(1024);
  auto b = cpu.allocate(1024);
  auto stream = cpu.createStream();
  stream->memset(a->data(), 7, 1024);
  stream->copy(b->data(), a->data(), 1024);
  stream->synchronize();
  const auto* p = static_cast<const unsigned char*>(b->data());
  CHECK(p[0] == 7 && p[1023] == 7);
}

TEST(failure_skips_later_work_and_reaches_notify_once) {
  auto stream = deviceByName("cpu").createStream();
  std::atomic<int> ran{0};
  stream->hostTask([&] { ran++; });
  stream->hostTask([] { throw Error(ErrorCode::kInvalidArgument, "bad thing"); });
  stream->hostTask([&] { ran++; });  // skipped: it may depend on the failed work
  std::promise<Status> first;
  stream->notify([&](const Status& s) { first.set_value(s); });
  stream->hostTask([&] { ran++; });  // runs: the failure has been reported
  std::promise<Status> second;
  stream->notify([&](const Status& s) { second.set_value(s); });
  const Status s1 = first.get_future().get();
  const Status s2 = second.get_future().get();
  CHECK(!s1.ok);
  CHECK(s1.code == ErrorCode::kInvalidArgument);
  CHECK(s1.message == "bad thing");
  CHECK(s2.ok);
  CHECK_EQ(ran.load(), 2);
}

TEST(injected_fault_surfaces_on_synchronize) {
  auto stream = deviceByName("cpu").createStream();
  injectFault("stream.task", 1);
  stream->memset(deviceByName("cpu").allocate(16)->data(), 0, 0);
  CHECK_THROWS(stream->synchronize(), Error);
  stream->synchronize();  // the error was consumed
}

TEST(events_complete_and_time) {
  Device& cpu = deviceByName("cpu");
  auto stream = cpu.createStream();
  auto start = cpu.createEvent();
  auto end = cpu.createEvent();
  CHECK(start->query());  // never recorded counts as complete
  CHECK_THROWS(end->elapsedSince(*start), Error);
  stream->record(*start);
  stream->hostTask([] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); });
  stream->record(*end);
  CHECK(!end->query());
  std::promise<void> done;
  end->onComplete([&] { done.set_value(); });
  done.get_future().get();
  CHECK(end->query());
  const double ms = end->elapsedSince(*start);
  CHECK(ms >= 19.0);
}

TEST(keep_alive_holds_until_done) {
  auto stream = deviceByName("cpu").createStream();
  auto owner = std::make_shared<int>(5);
  std::weak_ptr<int> weak = owner;
  std::promise<void> gate;
  auto gateFuture = gate.get_future().share();
  stream->hostTask([gateFuture] { gateFuture.wait(); });
  stream->keepAlive(owner);
  owner.reset();
  CHECK(!weak.expired());
  gate.set_value();
  stream->synchronize();
  CHECK(weak.expired());
}

TEST(unknown_device_lists_known_ones) {
  bool ok = false;
  try {
    deviceByName("tpu:0");
  } catch (const Error& e) {
    ok = e.code() == ErrorCode::kNotFound && std::string(e.what()).find("cpu") != std::string::npos;
  }
  CHECK(ok);
}
