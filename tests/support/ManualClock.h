// A clock that moves only when a test moves it: the engine::Clock seam of unit tests.
// Thread-safe: an engine thread may read it while the test sets it.
#pragma once

#include <mutex>

#include "engine/Clock.h"
#include "model/Time.h"

namespace bulkwarden::testing {

class ManualClock : public engine::Clock {
 public:
  explicit ManualClock(model::Timestamp start = *model::parseTimestamp("2026-11-29T12:00:00Z"))
      : now_(start) {}
  explicit ManualClock(const char* iso) : ManualClock(*model::parseTimestamp(iso)) {}

  model::Timestamp now() const override {
    std::lock_guard lock(mutex_);
    return now_;
  }
  void set(model::Timestamp t) {
    std::lock_guard lock(mutex_);
    now_ = t;
  }
  void advance(model::Duration d) {
    std::lock_guard lock(mutex_);
    now_ += d;
  }

 private:
  mutable std::mutex mutex_;
  model::Timestamp now_;
};

}  // namespace bulkwarden::testing
