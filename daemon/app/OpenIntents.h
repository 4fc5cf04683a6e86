// Startup recovery of the audit trail's open intents (see engine/Recovery.h), wired to the
// configured orgs. Returns false when some intents could not be settled (they stay open and are
// retried at the next start; the daemon still runs: a job is never acted on twice, because a
// settled or unsettled intent never leads to a second request by itself).
#pragma once

#include "app/Runtime.h"
#include "audit/AuditLog.h"

namespace bulkwarden::app {

bool recoverOpenIntents(Runtime& runtime, audit::AuditLog& audit);

}  // namespace bulkwarden::app
