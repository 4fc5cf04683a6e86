#include "engine/Recovery.h"

#include "salesforce/CallGate.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <fstream>
#include <sstream>

#include "log/Log.h"

namespace bulkwarden::engine {

using salesforce::ApiError;

std::vector<OpenIntent> findOpenIntents(const std::vector<std::string>& trailFiles) {
  std::map<uint64_t, OpenIntent> open;
  Poco::JSON::Parser parser;
  for (const auto& path : trailFiles) {
    std::ifstream in(path, std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("\"type\":\"intent\"") == std::string::npos &&
          line.find("\"type\":\"result\"") == std::string::npos) {
        continue;  // cheap filter: most records are decisions
      }
      Poco::JSON::Object::Ptr obj;
      try {
        parser.reset();
        obj = parser.parse(line).extract<Poco::JSON::Object::Ptr>();
        auto type = obj->getValue<std::string>("type");
        if (type == "result") {
          if (obj->has("intent")) open.erase(obj->getValue<uint64_t>("intent"));
          continue;
        }
        if (type != "intent") continue;
        OpenIntent i;
        i.seq = obj->getValue<uint64_t>("seq");
        i.run = obj->getValue<std::string>("run");
        i.org = obj->getValue<std::string>("org");
        i.policy = obj->getValue<std::string>("policy");
        i.action = obj->getValue<std::string>("action");
        i.mode = obj->optValue<std::string>("mode", "enforce");
        auto job = obj->getObject("job");
        i.jobId = job->getValue<std::string>("id");
        i.kind = job->optValue<std::string>("kind", "query") == "ingest"
                     ? model::ResourceKind::Ingest
                     : model::ResourceKind::Query;
        i.classic = job->optValue<std::string>("jobType", "") == "Classic";
        std::ostringstream js;
        Poco::JSON::Stringifier::condense(job, js);
        i.jobJson = js.str();
        open[i.seq] = std::move(i);
      } catch (const Poco::Exception& e) {
        // `audit verify` is the place to diagnose a damaged line; recovery skips it.
        log::warning("recovery: skipped an unreadable audit line in {}: {}", path, e.displayText());
      }
    }
  }
  std::vector<OpenIntent> out;
  for (auto& [_, i] : open) out.push_back(std::move(i));
  return out;
}

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
    std::string outcome;
    std::string observed;
    if (got.ok()) {
      observed = std::string(model::toString(got.value().state));
      // Abort leads to Aborted; a job that finished on its own was not aborted by us. A job that
      // still exists after a delete was not deleted.
      bool applied = i.action == "abort" && got.value().state == model::JobState::Aborted;
      outcome = applied ? "confirmed" : "not-applied";
    } else if (got.error().kind == ApiError::Kind::NotFound) {
      observed = "gone";
      // Gone after a delete: the delete happened. Gone after an abort: it cannot have been
      // aborted and deleted by that one request, so the abort's effect is unknown; record what
      // is known (the job no longer exists).
      outcome = i.action == "delete" ? "confirmed" : "not-found";
    } else {
      log::warning("recovery: cannot settle intent seq {} ({} {}): {}; will try at next start",
                   i.seq, i.action, i.jobId, got.error().describe());
      ++summary.unresolved;
      continue;
    }
    audit::Fields f;
    f.add("org", i.org)
        .add("policy", i.policy)
        .add("action", i.action)
        .add("mode", i.mode)
        .addRaw("job", i.jobJson)
        .add("intent", static_cast<int64_t>(i.seq))
        .add("outcome", outcome)
        .add("reconciled", true)
        .add("observed_state", observed)
        .add("intent_run", i.run);
    audit.append("result", "recovery", f, audit::AuditSink::Sync::Durable);
    (outcome == "confirmed" ? summary.confirmed : summary.notApplied)++;
    log::notice("recovery: intent seq {} ({} {} by {}): {} (job is {})", i.seq, i.action, i.jobId,
                i.policy, outcome, observed);
  }
  return summary;
}

}  // namespace bulkwarden::engine
