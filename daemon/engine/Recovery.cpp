#include "engine/Recovery.h"

#include "salesforce/CallGate.h"

#include "log/Log.h"

namespace bulkwarden::engine {

using salesforce::ApiError;

ReconcileSummary reconcile(const std::vector<OpenIntent>& intents,
                           const std::map<std::string, salesforce::BulkJobs*>& orgs,
                           audit::AuditSink& audit) {
  ReconcileSummary summary;
  for (const auto& i : intents) {
    auto org = orgs.find(i.org);
    if (org == orgs.end()) {
      log::warning("recovery: intent seq {} ({} {}) is for org {}, which is no longer configured",
                   i.seq, i.action, i.jobId, i.org);
      ++summary.unresolved;
      continue;
    }
    salesforce::PurposeScope purpose(salesforce::CallPurpose::Recovery);  // the API budget's count
    auto got = i.classic ? org->second->getClassic(i.jobId) : org->second->get(i.kind, i.jobId);
    audit::Outcome outcome;
    std::string observed;
    if (got.ok()) {
      observed = std::string(model::toString(got.value().state));
      // Abort leads to Aborted; a job that finished on its own was not aborted by us. A job that
      // still exists after a delete was not deleted.
      bool applied = i.action == "abort" && got.value().state == model::JobState::Aborted;
      outcome = applied ? audit::Outcome::Confirmed : audit::Outcome::NotApplied;
    } else if (got.error().kind == ApiError::Kind::NotFound) {
      observed = "gone";
      // Gone after a delete: the delete happened. Gone after an abort: it cannot have been
      // aborted and deleted by that one request, so the abort's effect is unknown; record what
      // is known (the job no longer exists).
      outcome = i.action == "delete" ? audit::Outcome::Confirmed : audit::Outcome::NotFound;
    } else {
      log::warning("recovery: cannot settle intent seq {} ({} {}): {}; will try at next start",
                   i.seq, i.action, i.jobId, got.error().describe());
      ++summary.unresolved;
      continue;
    }
    audit::ReconciledResultRecord r;
    r.subject = audit::Subject{i.org, i.policy, i.action, i.mode, nullptr, i.jobJson};
    r.intent = i.seq;
    r.outcome = outcome;
    r.observedState = observed;
    r.intentRun = i.run;
    audit::write(audit, "recovery", r);
    (outcome == audit::Outcome::Confirmed ? summary.confirmed : summary.notApplied)++;
    log::notice("recovery: intent seq {} ({} {} by {}): {} (job is {})", i.seq, i.action, i.jobId,
                i.policy, audit::toString(outcome), observed);
  }
  return summary;
}

}  // namespace bulkwarden::engine
