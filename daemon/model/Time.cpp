#include "model/Time.h"

#include <fmt/format.h>

#include <cstdint>

namespace bulkwarden::model {
namespace {

// Reads exactly `n` digits at `pos`; the hand-rolled reader keeps page mapping free of locale and
// allocation (it runs once per listed job).
bool digits(std::string_view s, size_t& pos, int n, int& out) {
  if (pos + static_cast<size_t>(n) > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[pos + static_cast<size_t>(i)];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += static_cast<size_t>(n);
  out = v;
  return true;
}

bool expect(std::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::optional<Timestamp> parseTimestamp(std::string_view s) {
  using namespace std::chrono;
  size_t pos = 0;
  int y, mo, d, h, mi, sec;
  if (!digits(s, pos, 4, y) || !expect(s, pos, '-') || !digits(s, pos, 2, mo) ||
      !expect(s, pos, '-') || !digits(s, pos, 2, d) || !expect(s, pos, 'T') ||
      !digits(s, pos, 2, h) || !expect(s, pos, ':') || !digits(s, pos, 2, mi) ||
      !expect(s, pos, ':') || !digits(s, pos, 2, sec)) {
    return std::nullopt;
  }
  int millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int count = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (count < 3) millis = millis * 10 + (s[pos] - '0');
      ++count;
      ++pos;
    }
    if (count == 0 || count > 9) return std::nullopt;
    for (int i = count; i < 3; ++i) millis *= 10;
  }
  int offsetMinutes = 0;
  if (pos >= s.size()) return std::nullopt;  // an offset is required: never guess local time
  if (s[pos] == 'Z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int oh, om;
    if (!digits(s, pos, 2, oh)) return std::nullopt;
    if (pos < s.size() && s[pos] == ':') ++pos;
    if (!digits(s, pos, 2, om)) return std::nullopt;
    if (oh > 23 || om > 59) return std::nullopt;
    offsetMinutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  if (h > 23 || mi > 59 || sec > 59) return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  auto t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec} + milliseconds{millis} -
           minutes{offsetMinutes};
  return time_point_cast<milliseconds>(t);
}

namespace {
std::string format(Timestamp t, std::string_view zone) {
  using namespace std::chrono;
  auto days = floor<std::chrono::days>(t);
  year_month_day ymd{days};
  hh_mm_ss<milliseconds> tod{t - days};
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}{}", int(ymd.year()),
                     unsigned(ymd.month()), unsigned(ymd.day()), tod.hours().count(),
                     tod.minutes().count(), tod.seconds().count(), tod.subseconds().count(), zone);
}
}  // namespace

std::string formatSalesforce(Timestamp t) { return format(t, "+0000"); }
std::string formatRfc3339(Timestamp t) { return format(t, "Z"); }

std::optional<Duration> parseDuration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t total = 0;
  size_t pos = 0;
  int lastRank = 100;  // units must appear largest first, each once: "1h30m", never "30m1h"
  while (pos < s.size()) {
    if (s[pos] < '0' || s[pos] > '9') return std::nullopt;
    int64_t n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      n = n * 10 + (s[pos] - '0');
      if (n > 1'000'000'000) return std::nullopt;
      ++pos;
    }
    size_t unitStart = pos;
    while (pos < s.size() && ((s[pos] >= 'a' && s[pos] <= 'z'))) ++pos;
    std::string_view unit = s.substr(unitStart, pos - unitStart);
    int64_t factor;
    int rank;
    if (unit == "w") {
      factor = 7LL * 86'400'000, rank = 6;
    } else if (unit == "d") {
      factor = 86'400'000, rank = 5;
    } else if (unit == "h") {
      factor = 3'600'000, rank = 4;
    } else if (unit == "m") {
      factor = 60'000, rank = 3;
    } else if (unit == "s") {
      factor = 1'000, rank = 2;
    } else if (unit == "ms") {
      factor = 1, rank = 1;
    } else {
      return std::nullopt;
    }
    if (rank >= lastRank) return std::nullopt;
    lastRank = rank;
    total += n * factor;
    if (total > 100LL * 365 * 86'400'000) return std::nullopt;  // a century is surely a typo
  }
  if (total <= 0) return std::nullopt;
  return Duration{total};
}

std::string formatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  const std::pair<int64_t, const char*> units[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1'000, "s"}, {1, "ms"}};
  for (auto [factor, name] : units) {
    if (ms >= factor) {
      out += fmt::format("{}{}", ms / factor, name);
      ms %= factor;
    }
  }
  return out;
}

}  // namespace bulkwarden::model
