// Time values shared by every component: UTC timestamps with millisecond precision, durations
// written as "30s 45m 2h 7d", and the formats Salesforce and the audit trail use. Pure functions.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace bulkwarden::model {

using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;
using Duration = std::chrono::milliseconds;

// Parses Salesforce's `2018-12-18T16:15:31.000+0000`. Also accepts `Z`, `+00:00` and any other
// offset (converted to UTC), and zero to nine fraction digits. Rejects anything else, including
// out-of-range fields (month 13, Feb 30, hour 24).
std::optional<Timestamp> parseTimestamp(std::string_view text);

// `2018-12-18T16:15:31.000+0000`: the form Salesforce sends.
std::string formatSalesforce(Timestamp t);
// `2018-12-18T16:15:31.000Z`: RFC 3339 with milliseconds, as the audit trail writes.
std::string formatRfc3339(Timestamp t);

// Parses "30s", "45m", "2h", "7d", "1w", "1h30m", "500ms". A bare number is refused: a unit is
// required so that "30" is never silently read as seconds or minutes. Zero and negative values
// are refused.
std::optional<Duration> parseDuration(std::string_view text);
// The shortest exact spelling: 90 minutes -> "1h30m", 1500 ms -> "1s500ms".
std::string formatDuration(Duration d);

}  // namespace bulkwarden::model
