#include "engine/RateLimiter.h"

#include <algorithm>
#include <thread>

namespace bulkwarden::engine {

RateLimiter::RateLimiter(double perMinute, double burst, Now now)
    : perMinute_(std::max(perMinute, 1e-6)),
      burst_(std::max(burst, 1.0)),
      now_(std::move(now)),
      tokens_(burst_),
      last_(now_()) {}

RateLimiter::Steady::duration RateLimiter::reserve() {
  model::MutexLock lock(mutex_);
  auto t = now_();
  double minutes = std::chrono::duration<double, std::ratio<60>>(t - last_).count();
  last_ = t;
  tokens_ = std::min(burst_, tokens_ + minutes * perMinute_);
  tokens_ -= 1.0;
  if (tokens_ >= 0) return Steady::duration::zero();
  return std::chrono::duration_cast<Steady::duration>(
      std::chrono::duration<double, std::ratio<60>>(-tokens_ / perMinute_));
}

bool RateLimiter::acquire(const std::atomic<bool>& stop) {
  auto deadline = Steady::now() + reserve();
  while (Steady::now() < deadline) {
    if (stop.load()) return false;
    std::this_thread::sleep_for(
        std::min<Steady::duration>(deadline - Steady::now(), std::chrono::milliseconds(100)));
  }
  return !stop.load();
}

}  // namespace bulkwarden::engine
