#include "salesforce/Backoff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace bulkwarden::salesforce {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Backoff, FullJitterStaysUnderAnExponentialCeilingCappedAtCap) {
  BackoffPolicy p{5, milliseconds(100), milliseconds(1000)};
  std::mt19937_64 rng(1);
  for (int attempt = 0; attempt < 8; ++attempt) {
    int64_t ceiling = std::min<int64_t>(100LL << attempt, 1000);
    std::vector<int64_t> seen;
    for (int i = 0; i < 2000; ++i) {
      auto d = fullJitter(p, attempt, rng).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, ceiling) << "attempt " << attempt;
      seen.push_back(d);
    }
    std::sort(seen.begin(), seen.end());
    // Spread over the whole range (jitter), not clustered at the ceiling (plain exponential).
    EXPECT_LT(seen[200], ceiling / 4) << "attempt " << attempt;
    EXPECT_GT(seen[1800], ceiling * 3 / 4) << "attempt " << attempt;
  }
}

TEST(Backoff, RetryAfterSecondsAndHttpDates) {
  auto now = *model::parseTimestamp("2015-10-21T07:28:00Z");
  EXPECT_EQ(parseRetryAfter("7", now), seconds(7));
  EXPECT_EQ(parseRetryAfter(" 120 ", now), seconds(120));
  EXPECT_EQ(parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now), seconds(30));
  EXPECT_EQ(parseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now), milliseconds(0));  // past
  EXPECT_EQ(parseRetryAfter("99999999999999999999999", now), std::chrono::hours(1));  // capped
  EXPECT_EQ(parseRetryAfter("864000", now), std::chrono::hours(1));
  EXPECT_FALSE(parseRetryAfter("", now).has_value());
  EXPECT_FALSE(parseRetryAfter("soon", now).has_value());
  EXPECT_FALSE(parseRetryAfter("-5", now).has_value());
}

}  // namespace
}  // namespace bulkwarden::salesforce
