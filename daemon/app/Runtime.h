// Builds the concrete objects a loaded Config asks for: one Salesforce client per org, the audit
// log, and the list of policies. Owned by the command that runs them; not shared.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "audit/AuditLog.h"
#include "config/Config.h"
#include "engine/ApiBudget.h"
#include "engine/Scheduler.h"
#include "model/Clock.h"
#include "model/StopSignal.h"
#include "salesforce/BulkJobs.h"

namespace bulkwarden::app {

struct Runtime {
  // The one clock (model/Clock.h) of everything built here: the engine, the audit log, the token
  // providers, the clients' retries, the action rate cap and backoff. Declared first: the
  // objects below keep references to it and to `stop`; shared, since the audit log may outlive
  // this Runtime (a reload keeps the trail).
  std::shared_ptr<const model::Clock> clock = std::make_shared<model::SystemClock>();
  // The stop request of this configuration's clients and scheduler: it ends every wait they make
  // (a retry's backoff, the rate cap, the scheduler's timer). Requested at SIGTERM or when a
  // reload retires this configuration.
  model::StopSignal stop;
  config::Config config;
  std::vector<std::unique_ptr<salesforce::BulkJobs>> clients;  // same order as config.orgs
  std::vector<engine::OrgTarget> orgs;
  std::vector<const policy::Policy*> policies;
  audit::AuditOptions auditOptions;  // rotation, reserve, anchor in state-dir, audit-key
  // Each org's API budget (`api-budget`), same order as config.orgs: every client asks it before
  // each call. In memory until the composition root (Composer::state) gives it the state store.
  std::vector<std::shared_ptr<engine::ApiBudget>> budgets;

  // Resolves secrets and builds a client per org. Throws config::ConfigError.
  static std::unique_ptr<Runtime> create(config::Config config);
};

// The audit log's options from the config: the anchor state-dir/audit.anchor, audit-key resolved
// (throws config::ConfigError when it cannot be read).
audit::AuditOptions auditOptionsFor(const config::Config& config);

// Loads the config; on error prints every diagnostic and returns nullptr (the caller exits 78).
std::unique_ptr<config::Config> loadOrReport(const std::string& path);

}  // namespace bulkwarden::app
