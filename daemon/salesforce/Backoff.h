// Retry timing at the Salesforce boundary (docs/reliability.md): full-jitter exponential backoff,
// sleep = random(0, min(cap, base * 2^attempt)), and Retry-After (delta-seconds or an HTTP date)
// which, when present, is a floor. Pure functions; the random source is passed in.
#pragma once

#include <optional>
#include <random>
#include <string_view>

#include "model/Time.h"

namespace bulkwarden::salesforce {

struct BackoffPolicy {
  int maxAttempts = 3;  // total tries of one idempotent request (SRE book: at most 3)
  model::Duration base{500};
  model::Duration cap{8000};
};

// The delay before retry number `attempt` (0 = the first retry).
model::Duration fullJitter(const BackoffPolicy& policy, int attempt, std::mt19937_64& rng);

// Seconds ("7") or an IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT") relative to `now`;
// nullopt for anything else. Negative waits become zero; waits are capped at one hour.
std::optional<model::Duration> parseRetryAfter(std::string_view header, model::Timestamp now);

}  // namespace bulkwarden::salesforce
