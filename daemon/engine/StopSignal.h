// A stop request that sleeping threads can wait on: set once (SIGTERM), seen by every loop.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace bulkwarden::engine {

class StopSignal {
 public:
  void request() {
    {
      std::lock_guard lock(mutex_);
      stop_.store(true);
    }
    cv_.notify_all();
  }
  bool requested() const { return stop_.load(); }
  const std::atomic<bool>& flag() const { return stop_; }

  // Sleeps until `deadline` or a stop request, whichever comes first; true if stop was requested.
  // A timer wait, not a poll: an idle daemon does not wake up between passes.
  bool waitUntil(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    return cv_.wait_until(lock, deadline, [this] { return stop_.load(); });
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
};

}  // namespace bulkwarden::engine
