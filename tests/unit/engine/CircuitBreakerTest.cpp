#include "engine/CircuitBreaker.h"

#include <gtest/gtest.h>

namespace bulkwarden::engine {
namespace {

using std::chrono::seconds;

model::Timestamp at(int s) { return model::Timestamp(std::chrono::seconds(1'800'000'000 + s)); }

TEST(CircuitBreaker, OpensAfterThresholdFailuresThenProbesOnceAfterTheCooldown) {
  CircuitBreaker b(3, seconds(60));
  EXPECT_TRUE(b.allow(at(0)));
  b.onFailure(at(0));
  b.onFailure(at(1));
  EXPECT_EQ(b.state(), CircuitBreaker::State::Closed);
  EXPECT_TRUE(b.allow(at(2)));
  b.onFailure(at(2));
  EXPECT_EQ(b.state(), CircuitBreaker::State::Open);
  EXPECT_FALSE(b.allow(at(3)));
  EXPECT_FALSE(b.allow(at(61)));  // cooldown counts from the failure that opened it
  EXPECT_TRUE(b.allow(at(62)));   // the one probe
  EXPECT_EQ(b.state(), CircuitBreaker::State::HalfOpen);
  EXPECT_FALSE(b.allow(at(63)));  // no second probe while the first is out
  b.onFailure(at(64));            // the probe failed: open again, a fresh cooldown
  EXPECT_EQ(b.state(), CircuitBreaker::State::Open);
  EXPECT_FALSE(b.allow(at(100)));
  EXPECT_TRUE(b.allow(at(124)));
  b.onSuccess();
  EXPECT_EQ(b.state(), CircuitBreaker::State::Closed);
  EXPECT_TRUE(b.allow(at(125)));
  EXPECT_EQ(b.consecutiveFailures(), 0);
}

TEST(CircuitBreaker, ASuccessResetsTheCount) {
  CircuitBreaker b(2, seconds(10));
  b.onFailure(at(0));
  b.onSuccess();
  b.onFailure(at(1));
  EXPECT_EQ(b.state(), CircuitBreaker::State::Closed);
}

}  // namespace
}  // namespace bulkwarden::engine
