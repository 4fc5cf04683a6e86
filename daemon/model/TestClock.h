// A clock that runs faster than wall time, for soak tests against a simulated org whose clock
// runs as fast (`bulkwarden sim --time-scale X --clock-epoch MS`): at wall time w it reads
// epoch + (w - epoch) * scale, the same formula as the sim's, so that the daemon and the org agree
// on job ages, systemModstamp and token lifetimes. Waits last 1/scale as long in wall time.
//
// Built only with BULKWARDEN_FAILPOINTS (the dev, asan and tsan presets): there the daemon takes
// it from the environment, BULKWARDEN_TEST_CLOCK_SCALE=X (X > 0) and BULKWARDEN_TEST_CLOCK_EPOCH=MS
// (ms since the Unix epoch; default: the process's start). A release build has neither.
// Thread-safe (immutable after construction).
#pragma once

#ifdef BULKWARDEN_FAILPOINTS
#include <memory>

#include "model/Clock.h"

namespace bulkwarden::model {

class ScaledClock : public Clock {
 public:
  ScaledClock(double scale, Timestamp epoch);
  Timestamp now() const override;
  bool sleepUntil(Timestamp deadline, const StopSignal& stop) const override;
  std::chrono::steady_clock::duration steadyFor(Duration d) const override;

 private:
  double scale_;
  Timestamp epoch_;
  // now() counts from a steady-clock reading, so a wall-clock step does not move it.
  Timestamp wallAtStart_;
  std::chrono::steady_clock::time_point steadyAtStart_;
};

// The scaled clock the environment asks for, or nullptr when BULKWARDEN_TEST_CLOCK_SCALE is unset.
// Throws std::invalid_argument on a malformed value.
std::shared_ptr<const Clock> testClockFromEnvironment();

}  // namespace bulkwarden::model
#endif
