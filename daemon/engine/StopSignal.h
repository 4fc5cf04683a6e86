// A stop request that sleeping threads can wait on: set once (SIGTERM), seen by every loop.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
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
    std::lock_guard lock(wakersMutex_);
    for (auto& [id, wake] : wakers_) wake();
  }
  // Also called by request(), for waiters on their own condition variable (engine/PassExecutor).
  // Returns an id for unsubscribe(), which waits for a call in progress to finish.
  int subscribe(std::function<void()> wake) {
    std::lock_guard lock(wakersMutex_);
    wakers_.emplace(++lastWaker_, std::move(wake));
    return lastWaker_;
  }
  void unsubscribe(int id) {
    std::lock_guard lock(wakersMutex_);
    wakers_.erase(id);
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
  std::mutex wakersMutex_;
  std::map<int, std::function<void()>> wakers_;
  int lastWaker_ = 0;
};

}  // namespace bulkwarden::engine
