// Text helpers of the simulated org: Salesforce timestamps, 18-character ids, JSON string escaping.
// Free functions without shared state; thread-safe (the RNG passed in belongs to the caller).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace bulkwarden::sim {

// Milliseconds since the Unix epoch as `2018-12-18T16:15:31.000+0000` (UTC, no colon in the
// offset).
std::string formatTimestamp(int64_t epochMs);
void appendTimestamp(std::string& out, int64_t epochMs);

// Appends `text` to `out` as the body of a JSON string (without the quotes).
void appendJsonEscaped(std::string& out, std::string_view text);
// `text` as a quoted JSON string.
std::string jsonString(std::string_view text);

// The 3-character case-safety suffix that turns a 15-character Salesforce id into 18 characters.
std::string idChecksum(std::string_view id15);
// A realistic 18-character id: `prefix` (3 chars) + `pod` (2 chars) + "0000" + 6 random base-62
// characters + checksum, e.g. 750R00000zlh9IAA-like ids for jobs (prefix "750").
std::string makeSalesforceId(std::string_view prefix, std::string_view pod, std::mt19937_64& rng);
// A session id shaped like a real one: `00D` + 15 alphanumerics + `!` + 42 chars of [A-Za-z0-9._].
std::string makeSessionToken(std::mt19937_64& rng);

}  // namespace bulkwarden::sim
