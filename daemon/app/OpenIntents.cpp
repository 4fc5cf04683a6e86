#include "app/OpenIntents.h"

#include <map>

#include "audit/Records.h"
#include "engine/Recovery.h"
#include "log/Log.h"

namespace bulkwarden::app {

bool recoverOpenIntents(Runtime& runtime, audit::AuditLog& audit) {
  auto scan = audit::findOpenIntents(audit::trailFiles(audit.path()));
  if (!scan.error.empty()) {
    // A file that cannot be read may hold the results of intents in the files before it.
    log::warning("recovery: {}; open intents are not settled this start", scan.error);
    return false;
  }
  if (scan.skipped > 0) {
    log::warning(
        "recovery: skipped {} unreadable audit line(s); `bulkwarden audit verify` says "
        "what is wrong",
        scan.skipped);
  }
  auto& open = scan.open;
  if (open.empty()) return true;
  log::warning(
      "audit trail has {} intent(s) without a result (the last run stopped mid-action); "
      "settling them by reading the jobs",
      open.size());
  std::map<std::string, salesforce::BulkJobs*> orgs;
  for (const auto& o : runtime.orgs) orgs[o.name] = o.jobs;
  auto s = engine::reconcile(open, orgs, audit);
  log::notice("recovery: {} confirmed, {} not applied, {} left open", s.confirmed, s.notApplied,
              s.unresolved);
  return s.unresolved == 0;
}

}  // namespace bulkwarden::app
