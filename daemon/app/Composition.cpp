#include "app/Composition.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "app/Commands.h"
#include "app/ExitCodes.h"
#include "cluster/LeaseManager.h"
#include "cluster/PgLedgerStore.h"
#include "cluster/Schema.h"
#include "log/Log.h"
#include "state/SqliteStateStore.h"
#include "state/StateDir.h"

namespace bulkwarden::app {
namespace fs = std::filesystem;
namespace {

// An audit sink that keeps nothing: `plan` is read-only and must not touch the audit trail.
class NullAudit : public audit::AuditSink {
 public:
  uint64_t append(std::string_view, std::string_view, const audit::Fields&, Sync) override {
    return ++seq_;
  }
  void sync() override {}

 private:
  std::atomic<uint64_t> seq_{0};
};

}  // namespace

bool writes(Mode mode) { return mode != Mode::Plan; }

Composition::Composition() = default;

Composition::~Composition() = default;

engine::SchedulerOptions Composition::schedulerOptions() const {
  const auto& c = rt->config;
  engine::SchedulerOptions so;
  so.dryRun = dryRun;
  so.concurrency = c.concurrency;
  so.workers = c.workers;  // the fixed pool that runs every org's pass
  so.maxJobsPerListing = c.maxJobsPerListing;
  so.state = state.get();
  so.actionsPerMinute = c.actionsPerMinute;
  so.apiUsageShare = c.apiUsageShare;
  so.limitPause = c.limitPause;
  so.followUpPrecision = c.followUpPrecision;
  // `run --once --dry-run` is a rehearsal: the daemon's schedule does not follow it.
  so.recordOncePasses = !dryRunFlag;
  for (const auto& b : rt->budgets) so.budgets[b->org()] = b.get();  // the API budget per org
  return so;
}

void reportConfigError(const config::ConfigError& e, Mode mode) {
  for (const auto& d : e.diagnostics()) {
    if (mode == Mode::Service) {
      log::error("{}", d.str());
    } else {
      fmt::print(stderr, "{}\n", log::outside(d.str(), log::kMaxLineBytes));
    }
  }
}

std::unique_ptr<Composition> Composer::clients(Mode mode, const std::string& configPath,
                                               bool dryRunFlag, int& exitCode,
                                               void (*adjust)(config::Config&)) {
  auto config = loadOrReport(configPath);
  if (!config) {
    exitCode = kExitConfig;
    return nullptr;
  }
  if (adjust != nullptr) adjust(*config);
  return clients(mode, std::move(*config), dryRunFlag, exitCode);
}

std::unique_ptr<Composition> Composer::clients(Mode mode, config::Config config, bool dryRunFlag,
                                               int& exitCode) {
  auto c = std::make_unique<Composition>();
  c->mode = mode;
  try {
    c->rt = Runtime::create(std::move(config));
  } catch (const config::ConfigError& e) {
    reportConfigError(e, mode);
    exitCode = kExitConfig;
    return nullptr;
  }
  c->dryRunFlag = dryRunFlag;
  c->dryRun = mode == Mode::Plan || dryRunFlag || c->rt->config.dryRun;
  return c;
}

bool Composer::audit(Composition& c, int& exitCode, const std::shared_ptr<audit::AuditLog>& reuse) {
  if (!writes(c.mode)) {
    c.nullSink_ = std::make_unique<NullAudit>();
    c.sink = c.nullSink_.get();
    return true;
  }
  const auto& cfg = c.rt->config;
  if (reuse && reuse->path() == cfg.auditLog) {
    c.auditLog = reuse;  // one writer per file: the chain continues
    c.sink = c.auditLog.get();
    return true;
  }
  try {
    // The records' times from the one clock (app/Runtime.h).
    c.auditLog = std::make_shared<audit::AuditLog>(cfg.auditLog, c.rt->auditOptions,
                                                   [clock = c.rt->clock] { return clock->now(); });
  } catch (const audit::AuditError& e) {
    log::error("{}", e.what());
    exitCode = exitCodeFor(e, cfg.auditLog);
    return false;
  }
  c.sink = c.auditLog.get();
  if (!c.auditLog->anchorNote().empty()) {
    log::notice("audit anchor {}/audit.anchor: {}", cfg.stateDir, c.auditLog->anchorNote());
  }
  if (c.auditLog->recoveredBytes() > 0) {
    log::warning("audit log {}: cut off a torn last record of {} bytes", c.auditLog->path(),
                 c.auditLog->recoveredBytes());
  }
  return true;
}

bool Composer::state(Composition& c, int& exitCode, const std::shared_ptr<state::StateStore>& reuse,
                     const std::string& reuseDir) {
  const auto& cfg = c.rt->config;
  std::string stateFile = cfg.stateDir + "/state.sqlite";
  if (!writes(c.mode)) {
    c.state = ledgerState(cfg, readOnlyState(cfg));
    return attachBudgets(c, exitCode);
  }
  // A reload reuses the local store under the shared ledger of the generation before.
  std::shared_ptr<state::StateStore> local = reuse;
  if (auto* shared = dynamic_cast<cluster::PgLedgerStore*>(reuse.get())) local = shared->local();
  if (local && reuseDir == cfg.stateDir) {
    c.state = local;  // one SQLite connection per file
  } else {
    try {
      // The service's and --once's InstanceLock made the folder (0700) and checked it; a reload
      // may name another, and the demo has no lock.
      state::StateDir::open(cfg.stateDir, true);
      c.state = std::make_shared<state::SqliteStateStore>(stateFile);
    } catch (const state::StateError& e) {
      log::error("{}", e.what());
      exitCode = stateExitCode(e);
      return false;
    }
  }
  if (cfg.cluster) {
    // Cluster mode: the API budget's ledger is shared by the nodes in PostgreSQL, so that an org
    // that moves keeps its calls of the last 24 hours (docs/scaling.md); the rest stays local.
    const auto& cl = *cfg.cluster;
    try {
      auto timeout = std::max(
          std::chrono::milliseconds(300),
          cluster::fenceMargin(std::chrono::duration_cast<std::chrono::milliseconds>(cl.lease)) /
              4);
      std::string password = cl.password ? cl.password->resolve() : std::string();
      {
        // The table must exist before the budgets read it (ClusterNode checks the others again).
        cluster::PgConnection db(cl.conninfo, password, std::chrono::seconds(10));
        cluster::ensureSchema(db);
      }
      c.state = std::make_shared<cluster::PgLedgerStore>(c.state, cl.conninfo, std::move(password),
                                                         cl.node, timeout);
    } catch (const cluster::PgError& e) {
      log::error("cluster: {}", e.what());
      exitCode = kExitUnavailable;
      return false;
    } catch (const config::ConfigError& e) {
      reportConfigError(e, c.mode);
      exitCode = kExitConfig;
      return false;
    }
  }
  return attachBudgets(c, exitCode);
}

bool Composer::attachBudgets(Composition& c, int& exitCode) {
  // The API budgets keep their ledger in the state store (Plan: the daemon's, read-only), so that
  // neither a restart nor `plan` takes an org over its budget.
  try {
    for (const auto& b : c.rt->budgets) b->attach(*c.state);
  } catch (const state::StateError& e) {
    log::error("{}", e.what());
    exitCode = stateExitCode(e);
    return false;
  }
  return true;
}

namespace {
std::shared_ptr<state::StateStore> localLedgerState(const config::Config& cfg,
                                                    std::shared_ptr<state::StateStore> snapshot) {
  std::string stateFile = cfg.stateDir + "/state.sqlite";
  std::error_code ec;
  if (cfg.stateDir.empty() || !fs::exists(stateFile, ec)) {
    log::notice(
        "no state store in {} yet: the API calls of this command are not in the API budget's "
        "ledger (the daemon has not run here)",
        cfg.stateDir);
    return snapshot;
  }
  try {
    // A copy: when the ledger cannot be opened, the snapshot is still what this command reads.
    return std::make_shared<state::LedgerStateStore>(stateFile, snapshot);
  } catch (const state::StateError& e) {
    log::warning(
        "cannot write the API budget's ledger ({}): the API calls of this command are not "
        "counted against the budget (run it as the daemon's user)",
        e.what());
    return snapshot;
  }
}
}  // namespace

std::shared_ptr<state::StateStore> ledgerState(const config::Config& cfg,
                                               std::shared_ptr<state::StateStore> snapshot) {
  auto local = localLedgerState(cfg, std::move(snapshot));
  if (!cfg.cluster) return local;
  // Cluster mode: the ledger the nodes share (the daemon's own reads the local one too), where
  // whichever node holds the org counts these calls. Only read and written, never created: when
  // the database or its table cannot be used, the local ledger as without cluster:.
  const auto& cl = *cfg.cluster;
  try {
    std::string password = cl.password ? cl.password->resolve() : std::string();
    {
      cluster::PgConnection db(cl.conninfo, password, std::chrono::seconds(10));
      db.exec("SELECT 1 FROM bw_api_calls LIMIT 0");
    }
    return std::make_shared<cluster::PgLedgerStore>(local, cl.conninfo, std::move(password),
                                                    cl.node, std::chrono::seconds(10), true);
  } catch (const cluster::PgError& e) {
    log::warning(
        "cannot use the cluster's API budget ledger in PostgreSQL ({}): the API calls of this "
        "command are counted on this node only",
        e.what());
  } catch (const config::ConfigError&) {
    log::warning(
        "cannot use the cluster's API budget ledger in PostgreSQL (the password cannot be "
        "read): the API calls of this command are counted on this node only");
  }
  return local;
}

std::shared_ptr<state::StateStore> readOnlyState(const config::Config& cfg) {
  // in-state-for needs the daemon's first-seen times, the budget its ledger: read through a
  // read-only open of its database (never created, never written); none yet: from nothing.
  std::string stateFile = cfg.stateDir + "/state.sqlite";
  std::error_code ec;
  if (!cfg.stateDir.empty() && fs::exists(stateFile, ec)) {
    try {
      size_t rows = static_cast<size_t>(cfg.maxJobsPerListing) * 2 * cfg.orgs.size();
      return state::readStateReadOnly(stateFile, std::max<size_t>(rows, 1));
    } catch (const state::StateError& e) {
      log::warning("cannot read the state store ({}); in-state-for counts from now", e.what());
    }
  }
  return std::make_shared<state::MemoryStateStore>();
}

}  // namespace bulkwarden::app
