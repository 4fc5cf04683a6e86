// Policy loader: `starting-deadline` of a cron schedule (issue 16): its default, its range, and
// its place (cron only), with file:line:col.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "PolicyDiagnostics.h"
#include "config/PolicyLoader.h"

namespace bulkwarden::config {
namespace {

using ::testing::HasSubstr;

const std::string& kHead = testing::kPolicyHead;

using testing::policyErrors;

TEST(ScheduleLoader, StartingDeadlineDefaultsToAnHourAndIsRead) {
  auto ps = parsePolicies(
      kHead + "    schedule: { cron: \"0 2 * * 1-5\", timezone: Europe/Paris }\n", "p.yaml");
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].schedule.startingDeadline, std::chrono::hours(1));
  ps = parsePolicies(kHead + "    schedule: { cron: \"0 2 * * 1-5\", starting-deadline: 20m }\n",
                     "p.yaml");
  EXPECT_EQ(ps[0].schedule.startingDeadline, std::chrono::minutes(20));
  EXPECT_EQ(ps[0].schedule.describe(), "cron \"0 2 * * 1-5\" UTC, starting-deadline 20m");
}

TEST(ScheduleLoader, StartingDeadlineErrorsNameThePlace) {
  struct Bad {
    std::string line;
    int col;
    const char* text;
  };
  const Bad bad[] = {
      {"    schedule: { every: 5m, starting-deadline: 1h }\n", 28,
       "'starting-deadline' goes with 'cron'"},
      {"    schedule: { cron: \"0 2 * * *\", starting-deadline: 30s }\n", 55,
       "starting-deadline 30s is out of range"},
      {"    schedule: { cron: \"0 2 * * *\", starting-deadline: 8d }\n", 55,
       "starting-deadline 8d is out of range"},
      {"    schedule: { cron: \"0 2 * * *\", starting-deadline: soon }\n", 55,
       "bad duration 'soon'"},
      {"    schedule: { cron: \"0 2 * * *\", starting-deadline: [1h] }\n", 55, ""},
  };
  for (const auto& b : bad) {
    auto d = policyErrors(kHead + b.line);
    ASSERT_EQ(d.size(), 1u) << b.line;
    EXPECT_EQ(d[0].where.line, 6) << d[0].str();
    EXPECT_EQ(d[0].where.column, b.col) << d[0].str();
    EXPECT_THAT(d[0].message, HasSubstr(b.text)) << d[0].str();
  }
}

}  // namespace
}  // namespace bulkwarden::config
