#include "app/OpenIntents.h"

#include <map>

#include "engine/Recovery.h"
#include "log/Log.h"

namespace bulkwarden::app {

bool recoverOpenIntents(Runtime& runtime, audit::AuditLog& audit) {
  auto open = engine::findOpenIntents(audit::trailFiles(audit.path()));
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
