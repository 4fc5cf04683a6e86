// The pure evaluator: (jobs, policies, now) -> decisions. No I/O and no clock inside, so the
// policy language is testable table by table and fast enough to benchmark. Thread-safe (stateless).
// Three-valued (Kleene): a filter holds, does not hold, or is Unknown when a part of it could not
// be decided (a regex that cannot run). Unknown is never a match, and `not` keeps it Unknown.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/Job.h"
#include "policy/Policy.h"
#include "policy/Truth.h"

namespace bulkwarden::policy {

// Whether `filter` holds for `job` at `now`: True, False, or Unknown when it cannot be decided.
// `since`: when bulkwarden first saw the job in its current state (for in-state-for).
Truth truth(const Filter& filter, const model::Job& job, model::Timestamp now,
            model::Timestamp since);

// Why truth() is Unknown: the first undecided filter, where it was written and what failed
// ("could not decide object matches ^(a|b)*$ at p.yaml:7:20: the regex cannot run (...)").
// Empty when truth() is not Unknown.
std::string undecided(const Filter& filter, const model::Job& job, model::Timestamp now,
                      model::Timestamp since);

// True when truth() is True (Unknown is not a match). The 3-argument form takes `since` = `now`
// (just seen).
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
  // Set only for Undecided::Include: the policy's filter was Unknown for the job, and why
  // (undecided()). The policy must not act on the job; record it as held with this reason.
  std::string undecided;
};

enum class Undecided {
  Omit,     // only matches: an Unknown pair is left out, as a non-match is
  Include,  // matches, and Unknown pairs with Decision::undecided set, so they can be recorded
};

// Every (policy, job) pair where the policy matches, in job order, then policy order. The caller
// has already chosen the policies that apply (org, resource, due now).
// `since[i]`: first seen in its current state, for jobs[i] (missing entries: now).
std::vector<Decision> evaluate(std::span<const model::Job> jobs,
                               std::span<const Policy* const> policies, model::Timestamp now,
                               std::span<const model::Timestamp> since = {},
                               Undecided undecided = Undecided::Omit);

}  // namespace bulkwarden::policy
