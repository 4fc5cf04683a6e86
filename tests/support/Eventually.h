// Waiting in tests for an observable event instead of sleeping a fixed time.
//   eventually(pred, timeout)  polls pred until it holds (true) or the timeout passes (false)
//   holdsFor(pred, window)     polls pred through a window and fails at once when it stops
//                              holding: the observation behind "X must not happen while Y"
// Polls every 10 ms. Thread-safe as far as pred is.
#pragma once

#include <chrono>
#include <thread>

namespace bulkwarden::testing {

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

template <class Pred>
bool holdsFor(Pred pred, std::chrono::milliseconds window) {
  auto end = std::chrono::steady_clock::now() + window;
  while (std::chrono::steady_clock::now() < end) {
    if (!pred()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

}  // namespace bulkwarden::testing
