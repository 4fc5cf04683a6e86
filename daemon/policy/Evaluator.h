// The pure evaluator: (jobs, policies, now) -> decisions. No I/O and no clock inside, so the
// policy language is testable table by table and fast enough to benchmark. Thread-safe (stateless).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/Job.h"
#include "policy/Policy.h"

namespace bulkwarden::policy {

// True when `filter` holds for `job` at `now`. `since`: when bulkwarden first saw the job in its
// current state (for in-state-for); the 3-argument form takes `now` (just seen).
bool matches(const Filter& filter, const model::Job& job, model::Timestamp now,
             model::Timestamp since);
bool matches(const Filter& filter, const model::Job& job, model::Timestamp now);

// Why `filter` holds for `job`, in words an admin reads in the audit trail and the demo:
// "state InProgress in [InProgress, UploadComplete]; createdDate 2h13m ago > 30m".
// Only meaningful when matches() is true.
std::string explain(const Filter& filter, const model::Job& job, model::Timestamp now);
std::string explain(const Filter& filter, const model::Job& job, model::Timestamp now,
                    model::Timestamp since);

// Deadline precision: the earliest time in (now, before) at which `filter` starts to hold for
// `job` as it was last seen, when that happens because an age threshold (older-than,
// in-state-for) is crossed. nullopt when it does not within the span.
// Whether the tree has an older-than or in-state-for node (whether nextMatch can find anything).
bool hasAgeFilter(const Filter& filter);
// Whether the tree has an in-state-for node (whether it needs first-seen-in-state times).
bool usesInStateFor(const Filter& filter);
std::optional<model::Timestamp> nextMatch(const Filter& filter, const model::Job& job,
                                          model::Timestamp now, model::Timestamp since,
                                          model::Timestamp before);

struct Decision {
  const Policy* policy = nullptr;
  size_t job = 0;  // index into the jobs span
};

// Every (policy, job) pair where the policy matches, in job order, then policy order. The caller
// has already chosen the policies that apply (org, resource, due now).
// `since[i]`: first seen in its current state, for jobs[i] (missing entries: now).
std::vector<Decision> evaluate(std::span<const model::Job> jobs,
                               std::span<const Policy* const> policies, model::Timestamp now,
                               std::span<const model::Timestamp> since = {});

}  // namespace bulkwarden::policy
