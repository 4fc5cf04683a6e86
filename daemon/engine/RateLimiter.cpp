#include "engine/RateLimiter.h"

#include <algorithm>
#include <chrono>

namespace bulkwarden::engine {

RateLimiter::RateLimiter(double perMinute, double burst, const model::Clock& clock)
    : perMinute_(std::max(perMinute, 1e-6)),
      burst_(std::max(burst, 1.0)),
      clock_(clock),
      tokens_(burst_),
      last_(clock_.now()) {}

model::Duration RateLimiter::reserve() {
  model::MutexLock lock(mutex_);
  const auto t = clock_.now();
  // A clock stepped back refills nothing, and takes nothing back either.
  const double minutes =
      std::max(0.0, std::chrono::duration<double, std::ratio<60>>(t - last_).count());
  last_ = std::max(last_, t);
  tokens_ = std::min(burst_, tokens_ + minutes * perMinute_);
  tokens_ -= 1.0;
  if (tokens_ >= 0) return model::Duration::zero();
  return std::chrono::ceil<model::Duration>(
      std::chrono::duration<double, std::ratio<60>>(-tokens_ / perMinute_));
}

bool RateLimiter::acquire(const model::StopSignal& stop) {
  if (stop.requested()) return false;
  const model::Duration wait = reserve();
  if (wait == model::Duration::zero()) return true;
  return !clock_.sleepFor(wait, stop);
}

}  // namespace bulkwarden::engine
