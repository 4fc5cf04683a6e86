// The one clock of the process, behind an interface so that tests can inject their own
// (tests/support/ManualClock.h): the time (`now`) and every wait a data-path thread makes
// (`sleepUntil`, which a stop request ends at once). The engine, the audit log, the token
// providers, the Salesforce client's retries, the action rate cap and the action backoff all use
// the one object the composition root (app/Runtime) builds. Implementations are thread-safe.
#pragma once

#include <chrono>

#include "model/StopSignal.h"
#include "model/Time.h"

namespace bulkwarden::model {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
  // Waits until now() reaches `deadline` or `stop` is requested, whichever comes first; true if
  // stop was requested (at once, without waiting, if it already was).
  [[nodiscard]] virtual bool sleepUntil(Timestamp deadline, const StopSignal& stop) const = 0;
  // sleepUntil(now() + d, stop).
  [[nodiscard]] bool sleepFor(Duration d, const StopSignal& stop) const {
    return sleepUntil(now() + d, stop);
  }
  // How long a wait of `d` on this clock lasts on the steady clock: for timers that wait on the
  // steady clock themselves (engine/PassExecutor's queue, fed by the scheduler). `d` itself,
  // except on a test's scaled clock (model/TestClock.h).
  virtual std::chrono::steady_clock::duration steadyFor(Duration d) const { return d; }
};

// The system's clock. Waits are timer waits on the steady clock for the time left, so that a
// wall-clock step during a wait neither cuts it short nor stretches it.
class SystemClock : public Clock {
 public:
  Timestamp now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
  }
  bool sleepUntil(Timestamp deadline, const StopSignal& stop) const override {
    const auto left = deadline - now();
    if (left <= Duration::zero()) return stop.requested();
    return stop.waitUntil(std::chrono::steady_clock::now() + left);
  }
};

}  // namespace bulkwarden::model
