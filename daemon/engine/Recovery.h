// Crash recovery for actions: an intent in the audit trail without a result means the process
// stopped between announcing an action and recording its outcome. Each such intent is settled by
// GETting the job (never by sending the action again) and recorded as a `result` with outcome
// `confirmed` (the job is in the state the action leads to) or `not-applied`. Single-threaded;
// run at startup before any pass. The trail is read in audit/ (audit::findOpenIntents); this
// file reads jobs and writes typed results, no file and no JSON.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "audit/AuditSink.h"
#include "audit/Records.h"
#include "model/Job.h"
#include "salesforce/BulkJobs.h"

namespace bulkwarden::engine {

// Intents without a result, as the trail's reader found them (audit::findOpenIntents).
using OpenIntent = audit::OpenIntent;

struct ReconcileSummary {
  int confirmed = 0;
  int notApplied = 0;
  int unresolved = 0;  // the GET failed, or the org is gone from the config: left open
};

ReconcileSummary reconcile(const std::vector<OpenIntent>& intents,
                           const std::map<std::string, salesforce::BulkJobs*>& orgs,
                           audit::AuditSink& audit);

}  // namespace bulkwarden::engine
