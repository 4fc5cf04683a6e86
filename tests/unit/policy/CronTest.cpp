// Cron next-fire times against a reference list, in UTC and across DST changes in Europe/Paris
// and America/New_York (system tz database), and refused expressions.
#include "policy/Cron.h"

#include <gtest/gtest.h>

#include <vector>

#include "policy/Policy.h"

namespace bulkwarden::policy {
namespace {

model::Timestamp t(const char* text) { return *model::parseTimestamp(text); }

struct Case {
  const char* expr;
  const char* zone;
  const char* after;
  const char* next;  // nullptr: never fires
};

class CronNext : public ::testing::TestWithParam<Case> {};

TEST_P(CronNext, FiresAtTheReferenceTime) {
  const Case& c = GetParam();
  std::string error;
  auto cron = Cron::parse(c.expr, &error);
  ASSERT_TRUE(cron) << c.expr << ": " << error;
  auto zone = TimeZone::load(c.zone, &error);
  ASSERT_TRUE(zone) << c.zone << ": " << error;
  auto next = cron->next(t(c.after), *zone);
  if (!c.next) {
    EXPECT_FALSE(next) << c.expr;
    return;
  }
  ASSERT_TRUE(next) << c.expr;
  EXPECT_EQ(model::formatRfc3339(*next), model::formatRfc3339(t(c.next)))
      << c.expr << " in " << c.zone << " after " << c.after;
}

const Case kCases[] = {
    // Plain UTC.
    {"*/5 * * * *", "UTC", "2026-01-01T00:02:00Z", "2026-01-01T00:05:00Z"},
    {"*/5 * * * *", "UTC", "2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z"},  // strictly after
    {"*/5 * * * *", "UTC", "2026-01-01T00:04:59.999Z", "2026-01-01T00:05:00Z"},
    {"* * * * *", "UTC", "2026-12-31T23:59:30Z", "2027-01-01T00:00:00Z"},
    {"0 0 1 1 *", "UTC", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z"},
    {"0 9 * * mon-fri", "UTC", "2026-11-28T10:00:00Z", "2026-11-30T09:00:00Z"},
    {"0 9 * * MON-FRI", "UTC", "2026-11-30T09:00:00Z", "2026-12-01T09:00:00Z"},
    {"0 0 13 * fri", "UTC", "2026-11-01T00:00:00Z", "2026-11-06T00:00:00Z"},  // dom OR dow
    {"0 0 13 * fri", "UTC", "2026-11-06T00:00:00Z", "2026-11-13T00:00:00Z"},
    {"0 0 13 * *", "UTC", "2026-11-01T00:00:00Z", "2026-11-13T00:00:00Z"},
    {"0 0 * * 7", "UTC", "2026-11-29T01:00:00Z", "2026-12-06T00:00:00Z"},  // 7 = Sunday
    {"0 0 * * 0", "UTC", "2026-11-29T01:00:00Z", "2026-12-06T00:00:00Z"},
    {"0 0 */10 * *", "UTC", "2026-11-01T00:00:00Z", "2026-11-11T00:00:00Z"},
    {"15 14 1 * *", "UTC", "2026-11-29T00:00:00Z", "2026-12-01T14:15:00Z"},
    {"0 0 29 2 *", "UTC", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
    {"0 0 30 2 *", "UTC", "2026-03-01T00:00:00Z", nullptr},
    {"5/15 * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"},
    {"5/15 * * * *", "UTC", "2026-01-01T00:50:00Z", "2026-01-01T01:05:00Z"},
    {"0 0 * jan,jul *", "UTC", "2026-02-01T00:00:00Z", "2026-07-01T00:00:00Z"},
    {"0 8-10/2 * * *", "UTC", "2026-01-01T08:00:00Z", "2026-01-01T10:00:00Z"},
    {"0 8-10/2 * * *", "UTC", "2026-01-01T10:00:00Z", "2026-01-02T08:00:00Z"},
    {"1,2,59 * * * *", "UTC", "2026-01-01T00:02:00Z", "2026-01-01T00:59:00Z"},
    {"@hourly", "UTC", "2026-01-01T00:30:00Z", "2026-01-01T01:00:00Z"},
    {"@daily", "UTC", "2026-01-01T00:30:00Z", "2026-01-02T00:00:00Z"},
    {"@weekly", "UTC", "2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z"},
    {"@monthly", "UTC", "2026-11-29T00:00:00Z", "2026-12-01T00:00:00Z"},
    {"@yearly", "UTC", "2026-11-29T00:00:00Z", "2027-01-01T00:00:00Z"},
    // Zones without DST changes in the span.
    {"0 12 * * *", "Europe/Paris", "2026-06-01T00:00:00Z", "2026-06-01T10:00:00Z"},
    {"0 12 * * *", "Europe/Paris", "2026-01-10T00:00:00Z", "2026-01-10T11:00:00Z"},
    {"0 0 * * *", "Asia/Kolkata", "2026-01-10T00:00:00Z", "2026-01-10T18:30:00Z"},
    {"0 9 * * *", "America/New_York", "2026-07-01T00:00:00Z", "2026-07-01T13:00:00Z"},
    // Europe/Paris spring forward: 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z).
    {"30 2 * * *", "Europe/Paris", "2026-03-28T02:00:00Z", "2026-03-29T01:00:00Z"},  // gap: end
    {"30 2 * * *", "Europe/Paris", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},  // once
    {"0 2 * * *", "Europe/Paris", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
    {"*/30 * * * *", "Europe/Paris", "2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z"},
    {"*/30 * * * *", "Europe/Paris", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"},  // no double
    {"0 3 * * *", "Europe/Paris", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
    {"30 1 * * *", "Europe/Paris", "2026-03-28T12:00:00Z", "2026-03-29T00:30:00Z"},
    // Europe/Paris fall back: 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z); 02:xx happens twice.
    {"30 2 * * *", "Europe/Paris", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"},  // first
    {"30 2 * * *", "Europe/Paris", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},  // not twice
    {"30 2 * * *", "Europe/Paris", "2026-10-25T01:10:00Z", "2026-10-26T01:30:00Z"},
    {"*/30 * * * *", "Europe/Paris", "2026-10-25T00:15:00Z", "2026-10-25T00:30:00Z"},
    // A wildcard schedule runs in both occurrences of the repeated hour (cronie).
    {"*/30 * * * *", "Europe/Paris", "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z"},
    {"*/30 * * * *", "Europe/Paris", "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z"},
    {"0 * * * *", "Europe/Paris", "2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z"},
    {"0 * * * *", "Europe/Paris", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"},
    {"* 2 * * *", "Europe/Paris", "2026-10-25T00:59:00Z", "2026-10-25T01:00:00Z"},
    {"0 4 * * *", "Europe/Paris", "2026-10-24T12:00:00Z", "2026-10-25T03:00:00Z"},
    // America/New_York spring forward: 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z).
    {"30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z"},
    {"30 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"},
    {"0 3 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z"},
    {"59 1 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T06:59:00Z"},
    // America/New_York fall back: 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z); 01:xx twice.
    {"30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z"},
    {"30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
    {"30 1 * * *", "America/New_York", "2026-11-01T06:10:00Z", "2026-11-02T06:30:00Z"},
    {"0 * * * *", "America/New_York", "2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z"},
    {"0 * * * *", "America/New_York", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"},
    {"*/15 * * * *", "America/New_York", "2026-11-01T05:45:00Z", "2026-11-01T06:00:00Z"},
    {"30 1 * * *", "America/New_York", "2026-11-01T05:31:00Z", "2026-11-02T06:30:00Z"},
    // New York spring forward, a wildcard hour: 02:30 does not exist, 03:30 EDT comes next.
    {"30 * * * *", "America/New_York", "2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z"},
    {"0 2 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T07:00:00Z"},
};

INSTANTIATE_TEST_SUITE_P(Reference, CronNext, ::testing::ValuesIn(kCases));

// Every fire time from `from` to `to`, in order.
std::vector<model::Timestamp> fires(const char* expr, const char* zone, const char* from,
                                    const char* to) {
  auto cron = Cron::parse(expr);
  auto z = TimeZone::load(zone);
  std::vector<model::Timestamp> out;
  for (auto n = cron->next(t(from), *z); n && *n < t(to); n = cron->next(*n, *z)) {
    out.push_back(*n);
  }
  return out;
}

TEST(CronDst, AWildcardScheduleRunsThroughTheRepeatedHour) {
  // Paris, 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00Z. From 00:00Z (02:00 CEST) to
  // 02:00Z (03:00 CET) two real hours pass: "*/15" runs 8 times, 15 minutes apart (no pass
  // for 75 minutes before the fix), "0 * * * *" twice.
  auto q = fires("*/15 * * * *", "Europe/Paris", "2026-10-24T23:59:00Z", "2026-10-25T02:00:00Z");
  ASSERT_EQ(q.size(), 8u);
  for (size_t i = 1; i < q.size(); ++i) EXPECT_EQ(q[i] - q[i - 1], std::chrono::minutes(15));
  auto h = fires("0 * * * *", "Europe/Paris", "2026-10-24T23:59:00Z", "2026-10-25T02:00:00Z");
  EXPECT_EQ(h,
            (std::vector<model::Timestamp>{t("2026-10-25T00:00:00Z"), t("2026-10-25T01:00:00Z")}));
  // New York, 2026-11-01: 02:00 EDT becomes 01:00 EST at 06:00Z; 01:xx happens twice.
  auto ny =
      fires("*/15 * * * *", "America/New_York", "2026-11-01T04:59:00Z", "2026-11-01T07:00:00Z");
  ASSERT_EQ(ny.size(), 8u);
  for (size_t i = 1; i < ny.size(); ++i) EXPECT_EQ(ny[i] - ny[i - 1], std::chrono::minutes(15));
}

TEST(CronDst, AFixedTimeRunsOnceOnBothChangeDays) {
  // Autumn: "30 1" (New York) and "30 2" (Paris) run once, at the first occurrence.
  EXPECT_EQ(fires("30 1 * * *", "America/New_York", "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"),
            std::vector<model::Timestamp>{t("2026-11-01T05:30:00Z")});
  EXPECT_EQ(fires("30 2 * * *", "Europe/Paris", "2026-10-24T22:00:00Z", "2026-10-25T22:00:00Z"),
            std::vector<model::Timestamp>{t("2026-10-25T00:30:00Z")});
  // Spring: 02:30 does not exist; it runs once, right after the change (03:00 local).
  EXPECT_EQ(fires("30 2 * * *", "Europe/Paris", "2026-03-28T22:00:00Z", "2026-03-29T22:00:00Z"),
            std::vector<model::Timestamp>{t("2026-03-29T01:00:00Z")});
  EXPECT_EQ(fires("30 2 * * *", "America/New_York", "2026-03-08T05:00:00Z", "2026-03-09T05:00:00Z"),
            std::vector<model::Timestamp>{t("2026-03-08T07:00:00Z")});
  // A wildcard schedule inside the gap just goes on: "*/15" 01:45 CET, then 03:00 CEST.
  EXPECT_EQ(fires("*/15 * * * *", "Europe/Paris", "2026-03-29T00:40:00Z", "2026-03-29T01:20:00Z"),
            (std::vector<model::Timestamp>{t("2026-03-29T00:45:00Z"), t("2026-03-29T01:00:00Z"),
                                           t("2026-03-29T01:15:00Z")}));
}

TEST(Cron, RefusesBadExpressionsNamingTheField) {
  const std::pair<const char*, const char*> bad[] = {
      {"60 * * * *", "minute"},
      {"* 24 * * *", "hour"},
      {"* * 0 * *", "day-of-month"},
      {"* * 32 * *", "day-of-month"},
      {"* * * 13 *", "month"},
      {"* * * * 8", "day-of-week"},
      {"*/0 * * * *", "bad step"},
      {"5-1 * * * *", "backwards"},
      {"a * * * *", "minute"},
      {"* * * *", "expected 5 fields"},
      {"* * * * * *", "expected 5 fields"},
      {"1,,2 * * * *", "empty list item"},
      {"* * * foo *", "month"},
      {"", "expected 5 fields"},
      {"@reboot", "expected 5 fields"},
      {"-1 * * * *", "minute"},
  };
  for (auto [expr, why] : bad) {
    std::string error;
    EXPECT_FALSE(Cron::parse(expr, &error)) << expr;
    EXPECT_NE(error.find(why), std::string::npos) << expr << ": " << error;
  }
}

TEST(TimeZone, RefusesUnknownAndHostileNames) {
  std::string error;
  EXPECT_FALSE(TimeZone::load("Europe/Pariss", &error));
  EXPECT_FALSE(TimeZone::load("../../etc/passwd", &error));
  EXPECT_FALSE(TimeZone::load("/etc/localtime", &error));
  EXPECT_FALSE(TimeZone::load("", &error));
  EXPECT_FALSE(TimeZone::fromTzif("x", "not a tzif file"));
  EXPECT_FALSE(TimeZone::fromTzif("x", std::string("TZif2") + std::string(60, '\0')));
}

TEST(TimeZone, NonexistentAndAmbiguousLocalTimes) {
  auto paris = TimeZone::load("Europe/Paris");
  ASSERT_TRUE(paris);
  auto local = [](const char* text) {
    return std::chrono::floor<std::chrono::seconds>(t(text)).time_since_epoch().count();
  };
  auto utc = [&](const char* text) { return local(text); };
  // 2026-03-29 02:30 does not exist in Paris.
  EXPECT_TRUE(paris->instantsOf(local("2026-03-29T02:30:00Z")).empty());
  // 2026-10-25 02:30 happens twice: CEST (00:30Z) then CET (01:30Z).
  auto twice = paris->instantsOf(local("2026-10-25T02:30:00Z"));
  ASSERT_EQ(twice.size(), 2u);
  EXPECT_EQ(twice[0], utc("2026-10-25T00:30:00Z"));
  EXPECT_EQ(twice[1], utc("2026-10-25T01:30:00Z"));
  auto once = paris->instantsOf(local("2026-07-01T12:00:00Z"));
  ASSERT_EQ(once.size(), 1u);
  EXPECT_EQ(once[0], utc("2026-07-01T10:00:00Z"));
  EXPECT_EQ(paris->offsetAt(utc("2026-01-01T00:00:00Z")), 3600);
  EXPECT_EQ(paris->offsetAt(utc("2026-07-01T00:00:00Z")), 7200);
}

TEST(Windows, OpenInsideAllowAndOutsideDeny) {
  Windows w;
  w.zone = TimeZone::load("Europe/Paris");
  Window weekdays;
  weekdays.days = *parseDays("mon-fri");
  weekdays.from = 8 * 60;
  weekdays.to = 18 * 60;
  w.allow.push_back(weekdays);
  // Monday 2026-11-30 09:00 Paris = 08:00Z: open; 07:30 Paris: closed; Saturday: closed.
  EXPECT_TRUE(w.open(t("2026-11-30T08:00:00Z")));
  EXPECT_FALSE(w.open(t("2026-11-30T06:30:00Z")));
  EXPECT_FALSE(w.open(t("2026-11-28T10:00:00Z")));
  EXPECT_FALSE(w.open(t("2026-11-30T17:00:00Z")));  // 18:00 Paris: `to` is exclusive
  Window lunch;
  lunch.days = *parseDays("*");
  lunch.from = 12 * 60;
  lunch.to = 13 * 60;
  w.deny.push_back(lunch);
  EXPECT_FALSE(w.open(t("2026-11-30T11:30:00Z")));  // 12:30 Paris
  // A window over midnight: fri 22:00 -> sat 02:00.
  Windows night;
  Window fri;
  fri.days = *parseDays("fri");
  fri.from = 22 * 60;
  fri.to = 2 * 60;
  night.allow.push_back(fri);
  EXPECT_TRUE(night.open(t("2026-11-27T23:00:00Z")));
  EXPECT_TRUE(night.open(t("2026-11-28T01:00:00Z")));
  EXPECT_FALSE(night.open(t("2026-11-28T03:00:00Z")));
  EXPECT_FALSE(night.open(t("2026-11-26T23:00:00Z")));
}

}  // namespace
}  // namespace bulkwarden::policy
