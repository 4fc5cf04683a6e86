// The pure evaluator: (jobs, policies, now) -> decisions. No I/O and no clock inside, so the
// policy language is testable table by table and fast enough to benchmark. Thread-safe (stateless).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "model/Job.h"
#include "policy/Policy.h"

namespace bulkwarden::policy {

// True when `filter` holds for `job` at `now`.
bool matches(const Filter& filter, const model::Job& job, model::Timestamp now);

// Why `filter` holds for `job`, in words an admin reads in the audit trail and the demo:
// "state InProgress in [InProgress, UploadComplete]; createdDate 2h13m ago > 30m".
// Only meaningful when matches() is true.
std::string explain(const Filter& filter, const model::Job& job, model::Timestamp now);

struct Decision {
  const Policy* policy = nullptr;
  size_t job = 0;  // index into the jobs span
};

// Every (policy, job) pair where the policy matches, in job order, then policy order. The caller
// has already chosen the policies that apply (org, resource, due now).
std::vector<Decision> evaluate(std::span<const model::Job> jobs,
                               std::span<const Policy* const> policies, model::Timestamp now);

}  // namespace bulkwarden::policy
