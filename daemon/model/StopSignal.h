// A stop request that sleeping threads can wait on: set once (SIGTERM, a reload retiring a
// configuration), seen by every loop and every wait of the clock (model/Clock.h). Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>

namespace bulkwarden::model {

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
  // Also called by request(), for waiters on their own condition variable (engine/PassExecutor,
  // a test's clock). Returns an id for unsubscribe(), which waits for a call in progress to finish.
  int subscribe(std::function<void()> wake) const {
    std::lock_guard lock(wakersMutex_);
    wakers_.emplace(++lastWaker_, std::move(wake));
    return lastWaker_;
  }
  void unsubscribe(int id) const {
    std::lock_guard lock(wakersMutex_);
    wakers_.erase(id);
  }
  bool requested() const { return stop_.load(); }

  // Sleeps until `deadline` or a stop request, whichever comes first; true if stop was requested.
  // A timer wait, not a poll: an idle daemon does not wake up between passes.
  [[nodiscard]] bool waitUntil(std::chrono::steady_clock::time_point deadline) const {
    std::unique_lock lock(mutex_);
    return cv_.wait_until(lock, deadline, [this] { return stop_.load(); });
  }

 private:
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  mutable std::mutex wakersMutex_;
  mutable std::map<int, std::function<void()>> wakers_;
  mutable int lastWaker_ = 0;
};

}  // namespace bulkwarden::model
