// IANA time zones read from the system tz database (TZif files, tzfile(5)) without touching the
// process-wide TZ variable, and cron-style conversions between UTC and local wall time.
// A TimeZone is immutable once loaded and safe to share between threads; load() caches by name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bulkwarden::policy {

class TimeZone {
 public:
  // "UTC", "Europe/Paris", ... Reads $TZDIR (default /usr/share/zoneinfo). Returns nullptr and
  // sets `error` when the name is malformed, unknown, or its file is not a valid TZif file.
  static std::shared_ptr<const TimeZone> load(std::string_view name, std::string* error = nullptr);
  // Parses TZif bytes (tests, or a tz database elsewhere). nullptr on malformed input.
  static std::shared_ptr<const TimeZone> fromTzif(std::string name, std::string_view bytes);
  static std::shared_ptr<const TimeZone> utc();

  const std::string& name() const { return name_; }
  // Offset from UTC in seconds at UTC instant `utc` (seconds since the epoch).
  int32_t offsetAt(int64_t utc) const;

  // The UTC instants at which the local wall time `local` (seconds since the epoch, read as if
  // UTC) happens: none (inside a spring-forward gap), one, or two (a fall-back overlap), earliest
  // first.
  std::vector<int64_t> instantsOf(int64_t local) const;
  // The first UTC instant after `utc` at which the offset changes, bounded by `limit`.
  int64_t nextChangeAfter(int64_t utc, int64_t limit) const;

 private:
  std::string name_;
  std::vector<int64_t> transitions_;  // UTC seconds, ascending
  std::vector<int32_t> offsets_;      // offset in effect from transitions_[i]
  int32_t initialOffset_ = 0;         // before the first transition
};

}  // namespace bulkwarden::policy
