// The engine's view of time, behind an interface so that tests can inject it.
#pragma once

#include <chrono>

#include "model/Time.h"

namespace bulkwarden::engine {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual model::Timestamp now() const = 0;
};

class SystemClock : public Clock {
 public:
  model::Timestamp now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
  }
};

}  // namespace bulkwarden::engine
