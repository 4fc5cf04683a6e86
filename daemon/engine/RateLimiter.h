// A token bucket that caps the actions (abort/delete requests) sent to one org per minute, shared
// by every pass of that org. `burst` tokens at most are saved up. Thread-safe; time and waits are
// the injected clock's.
#pragma once

#include <mutex>

#include "model/Clock.h"
#include "model/StopSignal.h"
#include "model/ThreadSafety.h"
#include "model/Time.h"

namespace bulkwarden::engine {

class RateLimiter {
 public:
  // `clock` outlives the limiter.
  RateLimiter(double perMinute, double burst, const model::Clock& clock);

  // Takes one token and returns how long to wait before using it (zero when one was saved up).
  // Tokens taken ahead are owed: callers queue in the order they asked.
  [[nodiscard]] model::Duration reserve();
  // reserve(), then sleeps on the clock until the token's turn; a stop request ends the sleep.
  // False when stopped (before or while waiting).
  [[nodiscard]] bool acquire(const model::StopSignal& stop);

  double perMinute() const { return perMinute_; }

 private:
  double perMinute_;
  double burst_;
  const model::Clock& clock_;
  model::Mutex mutex_;
  double tokens_ GUARDED_BY(mutex_);
  model::Timestamp last_ GUARDED_BY(mutex_);
};

}  // namespace bulkwarden::engine
