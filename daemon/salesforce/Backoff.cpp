#include "salesforce/Backoff.h"

#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>

#include <algorithm>
#include <charconv>

namespace bulkwarden::salesforce {

model::Duration fullJitter(const BackoffPolicy& policy, int attempt, std::mt19937_64& rng) {
  int64_t ceiling = policy.base.count();
  for (int i = 0; i < attempt && ceiling < policy.cap.count(); ++i) ceiling *= 2;
  ceiling = std::min(ceiling, policy.cap.count());
  std::uniform_int_distribution<int64_t> pick(0, std::max<int64_t>(0, ceiling));
  return model::Duration(pick(rng));
}

std::optional<model::Duration> parseRetryAfter(std::string_view header, model::Timestamp now) {
  constexpr model::Duration kMax = std::chrono::hours(1);
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
  if (header.empty()) return std::nullopt;
  if (std::all_of(header.begin(), header.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int64_t seconds = 0;
    auto [ptr, ec] = std::from_chars(header.data(), header.data() + header.size(), seconds);
    if (ec != std::errc() || ptr != header.data() + header.size()) return kMax;  // huge
    return std::min<model::Duration>(std::chrono::seconds(seconds), kMax);
  }
  try {
    int tzd = 0;
    Poco::DateTime dt = Poco::DateTimeParser::parse(std::string(header), tzd);
    auto at = model::Timestamp(
        std::chrono::milliseconds(dt.timestamp().epochMicroseconds() / 1000 - int64_t{tzd} * 1000));
    auto wait = std::chrono::duration_cast<model::Duration>(at - now);
    return std::clamp(wait, model::Duration(0), kMax);
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

}  // namespace bulkwarden::salesforce
