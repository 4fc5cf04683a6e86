// A clock that moves only when a test moves it: the model::Clock seam of unit tests. Its waits
// never sleep in real time. Each sleepUntil is recorded (sleeps(): how long it asked to wait),
// then, as the test chose (sleepMode):
//   Instant  returns at once without moving the time (the default: a test that counts waits)
//   Advance  moves the time to the deadline and returns (a test that follows time)
//   Block    waits until set()/advance() reach the deadline or the stop is requested (a test of
//            what ends a wait); sleepers() counts the threads waiting
// Every mode returns true when the stop is requested. Thread-safe.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

#include "model/Clock.h"
#include "model/StopSignal.h"
#include "model/Time.h"

namespace bulkwarden::testing {

class ManualClock : public model::Clock {
 public:
  enum class SleepMode { Instant, Advance, Block };

  explicit ManualClock(model::Timestamp start = *model::parseTimestamp("2026-11-29T12:00:00Z"))
      : now_(start) {}
  explicit ManualClock(const char* iso) : ManualClock(*model::parseTimestamp(iso)) {}

  model::Timestamp now() const override {
    std::lock_guard lock(mutex_);
    return now_;
  }
  void set(model::Timestamp t) {
    {
      std::lock_guard lock(mutex_);
      now_ = t;
    }
    moved_.notify_all();
  }
  void advance(model::Duration d) {
    {
      std::lock_guard lock(mutex_);
      now_ += d;
    }
    moved_.notify_all();
  }

  void sleepMode(SleepMode mode) {
    std::lock_guard lock(mutex_);
    mode_ = mode;
  }
  // Called (outside the clock's lock) at each sleep, before it ends: a test's hook into a wait.
  void onSleep(std::function<void(model::Duration)> hook) {
    std::lock_guard lock(mutex_);
    onSleep_ = std::move(hook);
  }
  // How long each sleep asked to wait, in the order asked.
  std::vector<model::Duration> sleeps() const {
    std::lock_guard lock(mutex_);
    return sleeps_;
  }
  // Threads waiting in sleepUntil now (Block mode).
  int sleepers() const {
    std::lock_guard lock(mutex_);
    return sleepers_;
  }

  bool sleepUntil(model::Timestamp deadline, const model::StopSignal& stop) const override {
    std::function<void(model::Duration)> hook;
    {
      std::lock_guard lock(mutex_);
      sleeps_.push_back(deadline - now_);
      hook = onSleep_;
    }
    if (hook) hook(deadline - now());
    {
      std::lock_guard lock(mutex_);
      if (mode_ == SleepMode::Advance && now_ < deadline) now_ = deadline;
      if (mode_ != SleepMode::Block) return stop.requested();
    }
    // Woken by the stop request as well as by set()/advance(). Subscribed outside mutex_:
    // request() calls the waker under the signal's own lock.
    const int id = stop.subscribe([this] {
      { std::lock_guard inner(mutex_); }
      moved_.notify_all();
    });
    {
      std::unique_lock lock(mutex_);
      ++sleepers_;
      moved_.wait(lock, [&] { return stop.requested() || now_ >= deadline; });
      --sleepers_;
    }
    stop.unsubscribe(id);
    return stop.requested();
  }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable moved_;
  mutable model::Timestamp now_;  // moved by sleepUntil in Advance mode
  SleepMode mode_ = SleepMode::Instant;
  std::function<void(model::Duration)> onSleep_;
  mutable std::vector<model::Duration> sleeps_;
  mutable int sleepers_ = 0;
};

}  // namespace bulkwarden::testing
