// A circuit breaker per org (docs/reliability.md): closed; open after `threshold` consecutive
// failed passes, when passes are skipped (zero calls) for `cooldown`; then half-open, when one
// probe pass is allowed; a success closes it, a failure opens it again. Time is passed in, so
// tests need no clock. Not thread-safe: one per org loop.
#pragma once

#include <string_view>

#include "model/Time.h"

namespace bulkwarden::engine {

class CircuitBreaker {
 public:
  enum class State { Closed, Open, HalfOpen };

  CircuitBreaker(int threshold, model::Duration cooldown)
      : threshold_(threshold), cooldown_(cooldown) {}

  // May a pass run now? In half-open state only one probe runs until its outcome is known.
  bool allow(model::Timestamp now) {
    if (state_ == State::Open && now >= openedAt_ + cooldown_) {
      state_ = State::HalfOpen;
      probing_ = false;
    }
    if (state_ == State::Closed) return true;
    if (state_ == State::HalfOpen && !probing_) {
      probing_ = true;
      return true;
    }
    return false;
  }
  void onSuccess() {
    failures_ = 0;
    state_ = State::Closed;
    probing_ = false;
  }
  void onFailure(model::Timestamp now) {
    ++failures_;
    if (state_ == State::HalfOpen || failures_ >= threshold_) {
      state_ = State::Open;
      openedAt_ = now;
      probing_ = false;
    }
  }
  State state() const { return state_; }
  int consecutiveFailures() const { return failures_; }
  model::Timestamp reopensAt() const { return openedAt_ + cooldown_; }

 private:
  int threshold_;
  model::Duration cooldown_;
  State state_ = State::Closed;
  int failures_ = 0;
  bool probing_ = false;
  model::Timestamp openedAt_{};
};

inline std::string_view toString(CircuitBreaker::State s) {
  switch (s) {
    case CircuitBreaker::State::Closed:
      return "closed";
    case CircuitBreaker::State::Open:
      return "open";
    case CircuitBreaker::State::HalfOpen:
      return "half-open";
  }
  return "?";
}

}  // namespace bulkwarden::engine
