// Crash recovery for actions: an intent in the audit trail without a result means the process
// stopped between announcing an action and recording its outcome. Each such intent is settled by
// GETting the job (never by sending the action again) and recorded as a `result` with outcome
// `confirmed` (the job is in the state the action leads to) or `not-applied`. Single-threaded;
// run at startup before any pass.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "audit/AuditSink.h"
#include "model/Job.h"
#include "salesforce/BulkJobs.h"

namespace bulkwarden::engine {

struct OpenIntent {
  uint64_t seq = 0;
  std::string run;
  std::string org;
  std::string policy;
  std::string action;  // abort | delete
  std::string mode;
  std::string jobId;
  model::ResourceKind kind = model::ResourceKind::Query;
  bool classic = false;  // a Bulk API 1.0 job (`jobType: Classic`): read through the 1.0 resource
  std::string jobJson;   // the intent's `job` object, copied into the result as it was
};

// Intents without a result, oldest first, across the trail's files (rotated first).
std::vector<OpenIntent> findOpenIntents(const std::vector<std::string>& trailFiles);

struct ReconcileSummary {
  int confirmed = 0;
  int notApplied = 0;
  int unresolved = 0;  // the GET failed, or the org is gone from the config: left open
};

ReconcileSummary reconcile(const std::vector<OpenIntent>& intents,
                           const std::map<std::string, salesforce::BulkJobs*>& orgs,
                           audit::AuditSink& audit);

}  // namespace bulkwarden::engine
