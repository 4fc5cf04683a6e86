#include "policy/Cron.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <chrono>
#include <vector>

namespace bulkwarden::policy {

namespace {

constexpr std::array<std::string_view, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                                      "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kDays = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct FieldSpec {
  std::string_view name;
  int lo, hi;
  const std::string_view* names;  // names[i] is value nameBase + i
  int nameCount;
  int nameBase;
};

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = text.find(sep, start);
    out.push_back(text.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

std::optional<int> value(std::string_view t, const FieldSpec& spec) {
  if (t.empty() || t.size() > 9) return std::nullopt;
  if (std::isalpha(static_cast<unsigned char>(t[0]))) {
    std::string lower;
    for (char c : t)
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    for (int i = 0; i < spec.nameCount; ++i) {
      if (spec.names[i] == lower) return spec.nameBase + i;
    }
    return std::nullopt;
  }
  int v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// One field -> the set of accepted values (bit i = value i). Day-of-week accepts 7 for Sunday.
template <size_t N>
bool parseField(std::string_view text, const FieldSpec& spec, std::bitset<N>& out,
                std::string* error) {
  auto fail = [&](std::string_view why) {
    if (error) *error = fmt::format("{} field '{}': {}", spec.name, text, why);
    return false;
  };
  int hi = spec.hi == 6 ? 7 : spec.hi;  // dow: 7 = Sunday as well
  for (std::string_view part : split(text, ',')) {
    if (part.empty()) return fail("empty list item");
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string_view::npos) {
      auto s = value(part.substr(slash + 1), FieldSpec{spec.name, 1, 1000, nullptr, 0, 0});
      if (!s || *s < 1 || *s > spec.hi + 1) return fail("bad step");
      step = *s;
      part = part.substr(0, slash);
    }
    int a, b;
    if (part == "*") {
      a = spec.lo;
      b = spec.hi;
    } else if (auto dash = part.find('-'); dash != std::string_view::npos) {
      auto x = value(part.substr(0, dash), spec);
      auto y = value(part.substr(dash + 1), spec);
      if (!x || !y) return fail("bad range");
      a = *x;
      b = *y;
      if (a > b) return fail("range goes backwards");
    } else {
      auto x = value(part, spec);
      if (!x) return fail(fmt::format("'{}' is not a number or name", part));
      a = *x;
      // "5/15" means 5-max/15, as in Vixie cron.
      b = step > 1 ? spec.hi : *x;
    }
    if (a < spec.lo || b > hi) return fail(fmt::format("out of range {}-{}", spec.lo, spec.hi));
    for (int v = a; v <= b; v += step) out.set(static_cast<size_t>(spec.hi == 6 ? v % 7 : v));
  }
  return true;
}

}  // namespace

std::optional<std::bitset<7>> parseDays(std::string_view text, std::string* error) {
  std::bitset<7> days;
  FieldSpec spec{"days", 0, 6, kDays.data(), 7, 0};
  if (!parseField(text, spec, days, error)) return std::nullopt;
  return days;
}

std::optional<Cron> Cron::parse(std::string_view text, std::string* error) {
  std::string_view expr = text;
  while (!expr.empty() && expr.front() == ' ') expr.remove_prefix(1);
  while (!expr.empty() && expr.back() == ' ') expr.remove_suffix(1);
  if (expr == "@hourly")
    expr = "0 * * * *";
  else if (expr == "@daily" || expr == "@midnight")
    expr = "0 0 * * *";
  else if (expr == "@weekly")
    expr = "0 0 * * 0";
  else if (expr == "@monthly")
    expr = "0 0 1 * *";
  else if (expr == "@yearly" || expr == "@annually")
    expr = "0 0 1 1 *";
  std::vector<std::string_view> fields;
  for (std::string_view f : split(expr, ' ')) {
    if (!f.empty()) fields.push_back(f);
  }
  if (fields.size() != 5) {
    if (error) {
      *error = fmt::format("expected 5 fields (minute hour day-of-month month day-of-week), got {}",
                           fields.size());
    }
    return std::nullopt;
  }
  Cron c;
  c.text_ = std::string(text);
  if (!parseField(fields[0], FieldSpec{"minute", 0, 59, nullptr, 0, 0}, c.minutes_, error) ||
      !parseField(fields[1], FieldSpec{"hour", 0, 23, nullptr, 0, 0}, c.hours_, error) ||
      !parseField(fields[2], FieldSpec{"day-of-month", 1, 31, nullptr, 0, 0}, c.doms_, error) ||
      !parseField(fields[3], FieldSpec{"month", 1, 12, kMonths.data(), 12, 1}, c.months_, error) ||
      !parseField(fields[4], FieldSpec{"day-of-week", 0, 6, kDays.data(), 7, 0}, c.dows_, error)) {
    return std::nullopt;
  }
  c.minuteStar_ = fields[0].front() == '*';
  c.hourStar_ = fields[1].front() == '*';
  c.domStar_ = fields[2].front() == '*';
  c.dowStar_ = fields[4].front() == '*';
  return c;
}

bool Cron::dayMatches(int dom, unsigned month, int dow) const {
  if (!months_.test(month)) return false;
  bool d = doms_.test(static_cast<size_t>(dom));
  bool w = dows_.test(static_cast<size_t>(dow));
  if (domStar_ || dowStar_) return d && w;
  return d || w;
}

std::optional<int64_t> Cron::nextSeconds(int64_t after, const TimeZone& zone) const {
  using namespace std::chrono;
  // Wall times are visited in order, but across a fall-back overlap wall order and instant order
  // differ (the second 02:10 comes after the first 02:50): when the candidate found is a second
  // occurrence, later wall times within kOverlapScan may still give an earlier instant, so the
  // smallest is kept.
  constexpr int64_t kOverlapScan = 3 * 3600;  // longer than any offset change in the tz database
  std::optional<int64_t> best;
  std::optional<int64_t> stopAt;  // wall time beyond which nothing earlier can come
  int64_t local = after + zone.offsetAt(after);
  int64_t firstDay = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  for (int64_t day = firstDay; day < firstDay + 366 * 30; ++day) {
    if (stopAt && day * 86400 > *stopAt) break;
    sys_days sd{days{day}};
    year_month_day ymd{sd};
    int dow = static_cast<int>(weekday{sd}.c_encoding());
    if (!dayMatches(static_cast<int>(unsigned(ymd.day())), unsigned(ymd.month()), dow)) continue;
    for (int h = 0; h < 24; ++h) {
      if (!hours_.test(static_cast<size_t>(h))) continue;
      int64_t hourStart = day * 86400 + h * 3600;
      if (hourStart + 3600 + 26 * 3600 < after) continue;  // surely in the past whatever the offset
      for (int m = 0; m < 60; ++m) {
        if (!minutes_.test(static_cast<size_t>(m))) continue;
        int64_t wall = hourStart + m * 60;
        if (stopAt && wall > *stopAt) return best;
        std::optional<int64_t> candidate;
        bool second = false;  // the second occurrence of a repeated wall time
        auto instants = zone.instantsOf(wall);
        if (instants.empty()) {
          // Inside a spring-forward gap. As cronie: a fixed time runs once, right after the
          // change; a wildcard schedule just goes on at the next time that exists.
          if (!wildcard()) {
            int64_t end = zone.nextChangeAfter(wall - 2 * 86400, wall + 2 * 86400);
            if (end > after) candidate = end;
          }
        } else {
          // In a fall-back overlap a fixed time runs at its first occurrence only; a wildcard
          // schedule runs in both, as cronie does ("0 * * * *" stays hourly).
          size_t uses = wildcard() ? instants.size() : 1;
          for (size_t i = 0; i < uses && !candidate; ++i) {
            if (instants[i] > after) {
              candidate = instants[i];
              second = i > 0;
            }
          }
        }
        if (!candidate) continue;
        if (!best || *candidate < *best) best = candidate;
        // Only a second occurrence can be beaten by a later wall time (a first occurrence of
        // the same repeated hour); any other candidate is the answer.
        if (!stopAt) stopAt = second ? wall + kOverlapScan : wall;
      }
    }
  }
  return best;
}

std::optional<model::Timestamp> Cron::next(model::Timestamp after, const TimeZone& zone) const {
  using namespace std::chrono;
  auto secs = floor<seconds>(after).time_since_epoch().count();
  auto n = nextSeconds(secs, zone);
  if (!n) return std::nullopt;
  return model::Timestamp(seconds(*n));
}

}  // namespace bulkwarden::policy
