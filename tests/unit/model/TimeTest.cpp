#include "model/Time.h"

#include <gtest/gtest.h>

namespace bulkwarden::model {
namespace {

using namespace std::chrono;

Timestamp at(int y, unsigned mo, unsigned d, int h, int mi, int s, int ms = 0) {
  return time_point_cast<milliseconds>(sys_days{year{y} / month{mo} / day{d}} + hours{h} +
                                       minutes{mi} + seconds{s} + milliseconds{ms});
}

TEST(Time, ParsesTheSalesforceForm) {
  EXPECT_EQ(parseTimestamp("2018-12-18T16:15:31.000+0000"), at(2018, 12, 18, 16, 15, 31));
  EXPECT_EQ(parseTimestamp("2018-12-18T16:15:31.042+0000"), at(2018, 12, 18, 16, 15, 31, 42));
}

TEST(Time, AcceptsZuluColonOffsetsAndOtherFractions) {
  EXPECT_EQ(parseTimestamp("2018-12-18T16:15:31Z"), at(2018, 12, 18, 16, 15, 31));
  EXPECT_EQ(parseTimestamp("2018-12-18T16:15:31.5Z"), at(2018, 12, 18, 16, 15, 31, 500));
  EXPECT_EQ(parseTimestamp("2018-12-18T16:15:31.123456789Z"), at(2018, 12, 18, 16, 15, 31, 123));
  EXPECT_EQ(parseTimestamp("2018-12-18T18:15:31.000+02:00"), at(2018, 12, 18, 16, 15, 31));
  EXPECT_EQ(parseTimestamp("2018-12-18T11:15:31.000-0500"), at(2018, 12, 18, 16, 15, 31));
  // An offset that crosses midnight lands on the previous day in UTC.
  EXPECT_EQ(parseTimestamp("2019-01-01T01:00:00.000+0200"), at(2018, 12, 31, 23, 0, 0));
}

TEST(Time, RefusesWhatIsNotATimestamp) {
  for (const char* bad :
       {"", "2018-12-18", "2018-12-18T16:15:31", "2018-12-18T16:15:31.000", "2018-13-18T16:15:31Z",
        "2018-02-30T16:15:31Z", "2018-12-18T24:00:00Z", "2018-12-18T16:60:00Z",
        "2018-12-18T16:15:31.Z", "2018-12-18T16:15:31.000+0000 ", "2018-12-18 16:15:31Z",
        "2018-12-18T16:15:31.000+2500", "x2018-12-18T16:15:31Z",
        "2018-12-18T16:15:31.0000000000Z"}) {
    EXPECT_FALSE(parseTimestamp(bad).has_value()) << bad;
  }
}

TEST(Time, LeapDay) {
  EXPECT_EQ(parseTimestamp("2024-02-29T00:00:00.000+0000"), at(2024, 2, 29, 0, 0, 0));
  EXPECT_FALSE(parseTimestamp("2023-02-29T00:00:00.000+0000").has_value());
}

TEST(Time, FormatsBothForms) {
  auto t = at(2018, 12, 18, 6, 5, 1, 7);
  EXPECT_EQ(formatSalesforce(t), "2018-12-18T06:05:01.007+0000");
  EXPECT_EQ(formatRfc3339(t), "2018-12-18T06:05:01.007Z");
  EXPECT_EQ(parseTimestamp(formatSalesforce(t)), t);
}

TEST(Duration, ParsesUnits) {
  EXPECT_EQ(parseDuration("30s"), seconds(30));
  EXPECT_EQ(parseDuration("45m"), minutes(45));
  EXPECT_EQ(parseDuration("2h"), hours(2));
  EXPECT_EQ(parseDuration("7d"), hours(24 * 7));
  EXPECT_EQ(parseDuration("1w"), hours(24 * 7));
  EXPECT_EQ(parseDuration("1h30m"), minutes(90));
  EXPECT_EQ(parseDuration("500ms"), milliseconds(500));
}

TEST(Duration, RefusesAmbiguousOrBadDurations) {
  for (const char* bad : {"", "30", "m", "0s", "-5m", "5 m", "30m1h", "1h1h", "5y", "1.5h", "h5"}) {
    EXPECT_FALSE(parseDuration(bad).has_value()) << bad;
  }
}

TEST(Duration, FormatsShortest) {
  EXPECT_EQ(formatDuration(minutes(90)), "1h30m");
  EXPECT_EQ(formatDuration(milliseconds(1500)), "1s500ms");
  EXPECT_EQ(formatDuration(hours(48)), "2d");
  EXPECT_EQ(parseDuration(formatDuration(minutes(135))), minutes(135));
}

}  // namespace
}  // namespace bulkwarden::model
