// Five-field cron expressions (minute hour day-of-month month day-of-week) with lists, ranges,
// steps, names (jan, mon) and the @hourly/@daily/@weekly/@monthly/@yearly shorthands, and their
// next fire time in an IANA time zone. Vixie rules: when both day-of-month and day-of-week are
// restricted (neither starts with '*'), a day matches when either does.
//
// Daylight saving time, as cronie: a schedule whose minute or hour field starts with '*' (a
// "wildcard" schedule such as "*/15 * * * *" or "0 * * * *") runs at the wall times that exist:
// in both occurrences of a repeated (fall-back) hour, and not for wall times inside a
// spring-forward gap. A fixed-time schedule ("30 2 * * *") runs once a day whatever happens: at
// the first occurrence of a repeated time, and right after the change for a time that does not
// exist (02:30 in Europe/Paris on the last Sunday of March fires at 03:00 CEST, 01:00 UTC).
// Immutable; thread-safe.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model/Time.h"
#include "policy/TimeZone.h"

namespace bulkwarden::policy {

class Cron {
 public:
  // nullopt and a message naming the field at fault when `text` is not a valid expression.
  static std::optional<Cron> parse(std::string_view text, std::string* error = nullptr);

  // The first fire time strictly after `after`, in `zone`. nullopt when it never fires within 30
  // years (e.g. "0 0 30 2 *").
  std::optional<model::Timestamp> next(model::Timestamp after, const TimeZone& zone) const;
  std::optional<int64_t> nextSeconds(int64_t after, const TimeZone& zone) const;

  const std::string& text() const { return text_; }
  // The minute or hour field starts with '*' (cronie's MIN_STAR/HR_STAR): see DST above.
  bool wildcard() const { return minuteStar_ || hourStar_; }

 private:
  bool dayMatches(int dom, unsigned month, int dow) const;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> doms_;    // 1..31
  std::bitset<13> months_;  // 1..12
  std::bitset<7> dows_;     // 0 = Sunday
  bool minuteStar_ = false;
  bool hourStar_ = false;
  bool domStar_ = false;
  bool dowStar_ = false;
};

// Parses day-of-week sets for windows: "mon-fri", "sat,sun", "*", "mon". Bit 0 = Sunday.
std::optional<std::bitset<7>> parseDays(std::string_view text, std::string* error = nullptr);

}  // namespace bulkwarden::policy
