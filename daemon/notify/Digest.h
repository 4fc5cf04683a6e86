// One digest per policy per pass (docs/notifications.md): what the policy aborted, deleted,
// reported or held back in one pass, and why, with a bounded list of its jobs; and the three
// renderings sent (json, Slack, email text). Plain values: safe to copy between threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/Pass.h"

namespace bulkwarden::notify {

// At most this many jobs are named in a digest; the others are counted (`jobs_omitted`).
inline constexpr size_t kDigestJobs = 50;

struct DigestJob {
  std::string id;
  std::string object;
  std::string state;
  std::string outcome;  // engine::toString(Outcome)
  std::string why;      // the match reason, or why it was held back
};

struct Digest {
  std::string policy;
  std::string org;
  std::string resource;
  std::string run;
  std::string time;  // RFC 3339, UTC
  std::string action;
  std::string mode;
  int64_t matched = 0;
  std::map<std::string, int64_t> outcomes;  // by outcome name
  std::map<std::string, int64_t> held;      // by reason
  std::vector<DigestJob> jobs;              // at most kDigestJobs
  int64_t jobsOmitted = 0;
};

// The digests of one pass: one for each policy that matched at least one job and names a
// notification (`notify:`), in the order of the policies' first decision.
std::vector<Digest> buildDigests(const engine::PassSummary& summary,
                                 const std::vector<engine::Decision>& decisions,
                                 model::Timestamp now);

// The `json` format: the documented object.
std::string renderJson(const Digest& d);
// The `slack` format: {"text": "..."} with mrkdwn (at most 20 jobs listed).
std::string renderSlack(const Digest& d);
// An email: subject (one line, no CR/LF) and a plain-text body.
std::string emailSubject(const Digest& d);
std::string emailBody(const Digest& d);

// JSON string escaping (quotes included); bytes below 0x20 as \u00XX.
std::string jsonString(std::string_view text);

}  // namespace bulkwarden::notify
