// A token bucket that caps the actions (abort/delete requests) sent to one org per minute, shared
// by every pass of that org. `burst` tokens at most are saved up. Thread-safe; time is injected.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>

#include "model/ThreadSafety.h"

namespace bulkwarden::engine {

class RateLimiter {
 public:
  using Steady = std::chrono::steady_clock;
  using Now = std::function<Steady::time_point()>;

  RateLimiter(double perMinute, double burst, Now now = &Steady::now);

  // Takes one token and returns how long to wait before using it (zero when one was saved up).
  // Tokens taken ahead are owed: callers queue in the order they asked.
  Steady::duration reserve();
  // reserve(), then waits (in short slices, watching `stop`). False when stopped while waiting.
  bool acquire(const std::atomic<bool>& stop);

  double perMinute() const { return perMinute_; }

 private:
  double perMinute_;
  double burst_;
  Now now_;
  model::Mutex mutex_;
  double tokens_ GUARDED_BY(mutex_);
  Steady::time_point last_ GUARDED_BY(mutex_);
};

}  // namespace bulkwarden::engine
