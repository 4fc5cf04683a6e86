// The scaled clock of soak tests (model/TestClock.h): it reads the sim's formula, its waits and
// the scheduler's steady-clock timers are 1/scale as long, and the environment hook refuses
// malformed values.
#include "model/TestClock.h"

#ifdef BULKWARDEN_FAILPOINTS
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>

namespace bulkwarden::model {
namespace {

using namespace std::chrono_literals;

Timestamp wallNow() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

TEST(ScaledClock, ReadsEpochPlusScaledWallTimeSinceTheEpoch) {
  const Timestamp epoch = wallNow() - 10s;
  ScaledClock clock(60, epoch);
  const Timestamp now = clock.now();
  EXPECT_GE(now, epoch + 600s);        // 10 s of wall time are 10 minutes
  EXPECT_LT(now, epoch + 600s + 60s);  // (plus at most a second of the test's own time)
  EXPECT_EQ(clock.steadyFor(60s), std::chrono::steady_clock::duration(1s));
}

TEST(ScaledClock, AWaitLastsOneScaleThAsLongAndAStopEndsIt) {
  ScaledClock clock(1000, wallNow());
  StopSignal stop;
  const auto before = std::chrono::steady_clock::now();
  EXPECT_FALSE(clock.sleepFor(100s, stop));  // 100 ms of wall time
  const auto took = std::chrono::steady_clock::now() - before;
  EXPECT_GE(took, 99ms);
  EXPECT_LT(took, 30s);
  stop.request();
  EXPECT_TRUE(clock.sleepFor(std::chrono::hours(24 * 365), stop));
}

TEST(ScaledClock, TheEnvironmentHookIsOffUnlessAskedAndRefusesNonsense) {
  ::unsetenv("BULKWARDEN_TEST_CLOCK_SCALE");
  ::unsetenv("BULKWARDEN_TEST_CLOCK_EPOCH");
  EXPECT_EQ(testClockFromEnvironment(), nullptr);
  ::setenv("BULKWARDEN_TEST_CLOCK_SCALE", "60", 1);
  ::setenv("BULKWARDEN_TEST_CLOCK_EPOCH", "1764633600000", 1);  // 2025-12-02T00:00:00Z
  auto clock = testClockFromEnvironment();
  ASSERT_NE(clock, nullptr);
  EXPECT_GT(clock->now(), wallNow() + 24h) << "a year of wall time since the epoch, times 60";
  for (const char* bad : {"0", "-2", "x", "60x", "1e9"}) {
    ::setenv("BULKWARDEN_TEST_CLOCK_SCALE", bad, 1);
    EXPECT_THROW(testClockFromEnvironment(), std::invalid_argument) << bad;
  }
  ::setenv("BULKWARDEN_TEST_CLOCK_SCALE", "60", 1);
  ::setenv("BULKWARDEN_TEST_CLOCK_EPOCH", "soon", 1);
  EXPECT_THROW(testClockFromEnvironment(), std::invalid_argument);
  ::unsetenv("BULKWARDEN_TEST_CLOCK_SCALE");
  ::unsetenv("BULKWARDEN_TEST_CLOCK_EPOCH");
}

}  // namespace
}  // namespace bulkwarden::model
#endif
