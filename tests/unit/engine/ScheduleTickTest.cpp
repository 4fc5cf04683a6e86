// Schedule arithmetic of the scheduler: skipped ticks, and exactly one catch-up after downtime.
#include <gtest/gtest.h>

#include "engine/Scheduler.h"

namespace bulkwarden::engine {
namespace {

model::Timestamp t(const char* text) { return *model::parseTimestamp(text); }

policy::Schedule every(std::chrono::minutes m) {
  policy::Schedule s;
  s.every = m;
  return s;
}

policy::Schedule cron(const char* expr, const char* zone = "UTC") {
  policy::Schedule s;
  s.cron = policy::Cron::parse(expr);
  s.zone = policy::TimeZone::load(zone);
  return s;
}

TEST(ScheduleTick, EveryKeepsAFixedGridAndCountsTicksSkippedDuringAPass) {
  auto s = every(std::chrono::minutes(5));
  auto a = advance(s, t("2026-11-29T10:00:00Z"), t("2026-11-29T10:01:00Z"));
  EXPECT_EQ(a.next, t("2026-11-29T10:05:00Z"));
  EXPECT_EQ(a.missed, 0);
  auto b = advance(s, t("2026-11-29T10:00:00Z"), t("2026-11-29T10:12:00Z"));  // a 12-minute pass
  EXPECT_EQ(b.next, t("2026-11-29T10:15:00Z"));
  EXPECT_EQ(b.missed, 2);
}

TEST(ScheduleTick, CronSkipsTicksThatFellInsideAPass) {
  auto s = cron("*/10 * * * *");
  auto a = advance(s, t("2026-11-29T10:00:00Z"), t("2026-11-29T10:25:00Z"));
  EXPECT_EQ(a.next, t("2026-11-29T10:30:00Z"));
  EXPECT_EQ(a.missed, 2);
}

TEST(ScheduleTick, ExactlyOneCatchUpAfterDowntime) {
  auto now = t("2026-11-29T12:00:00Z");
  // Down for 3 hours with a 5-minute schedule: one pass now, not 36.
  EXPECT_EQ(firstTick(every(std::chrono::minutes(5)), t("2026-11-29T09:00:00Z"), now), now);
  // Restarted before the next tick: wait for it.
  EXPECT_EQ(firstTick(every(std::chrono::minutes(5)), t("2026-11-29T11:58:00Z"), now),
            t("2026-11-29T12:03:00Z"));
  // Cron: a missed 11:00 run gives one catch-up now; none missed: the next fire time.
  EXPECT_EQ(firstTick(cron("0 * * * *"), t("2026-11-29T10:00:00Z"), now), now);
  EXPECT_EQ(firstTick(cron("0 * * * *"), t("2026-11-29T11:00:00Z"), t("2026-11-29T11:30:00Z")),
            t("2026-11-29T12:00:00Z"));
  // Never ran: `every` runs now, cron waits for its first fire time.
  EXPECT_EQ(firstTick(every(std::chrono::minutes(5)), std::nullopt, now), now);
  EXPECT_EQ(firstTick(cron("30 * * * *"), std::nullopt, now), t("2026-11-29T12:30:00Z"));
}

}  // namespace
}  // namespace bulkwarden::engine
