// The one place that builds, for every mode (the service, `run --once`, `plan`, `demo`), what a
// loaded configuration asks for: the clients (Runtime), the audit sink, the state store and the
// scheduler options, and that prints what goes wrong one way (log lines with the path; the exit
// code of app/ExitCodes.h). The modes differ only by the flags of Mode:
//   Service, Once  the audit log (anchor, rotation, audit-key) and state-dir/state.sqlite; with
//                  `cluster:`, the API budget's ledger in PostgreSQL (cluster/PgLedgerStore.h)
//   Plan           read-only: no audit record (a sink that keeps nothing), the daemon's state
//                  read through a read-only open, so nothing of the schedule is created or
//                  written; only its API calls go to the budget's ledger (ledgerState)
//   Demo           as Once, on the in-process simulated org the demo wrote the config for
// Not thread-safe; built and owned by one command.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "app/Runtime.h"
#include "audit/AuditLog.h"
#include "audit/AuditSink.h"
#include "engine/Scheduler.h"
#include "state/StateStore.h"

namespace bulkwarden::app {

enum class Mode { Service, Once, Plan, Demo };

// Whether the mode writes the audit trail and the state store (every mode but Plan).
bool writes(Mode mode);

struct Composition {
  Mode mode = Mode::Once;
  std::unique_ptr<Runtime> rt;
  // The trail (Service, Once, Demo); null for Plan, whose sink is `sink`.
  std::shared_ptr<audit::AuditLog> auditLog;
  audit::AuditSink* sink = nullptr;  // auditLog, or a sink that keeps nothing (Plan)
  std::shared_ptr<state::StateStore> state;
  bool dryRun = false;      // --dry-run or the config's dry-run (Plan: always)
  bool dryRunFlag = false;  // --dry-run itself

  Composition();
  ~Composition();
  Composition(const Composition&) = delete;
  Composition& operator=(const Composition&) = delete;

  // The scheduler options of the config, this mode and this state store.
  engine::SchedulerOptions schedulerOptions() const;

 private:
  friend class Composer;
  std::unique_ptr<audit::AuditSink> nullSink_;
};

// Builds a Composition step by step, each step printing its own error and giving its exit code.
class Composer {
 public:
  // Loads `configPath` and builds the clients; 78 on a configuration error (diagnostics with
  // file:line:col). `adjust` may change the loaded config first (the demo forces enforce).
  static std::unique_ptr<Composition> clients(Mode mode, const std::string& configPath,
                                              bool dryRunFlag, int& exitCode,
                                              void (*adjust)(config::Config&) = nullptr);
  // Builds the clients from a loaded config (a reload); 78 on error.
  static std::unique_ptr<Composition> clients(Mode mode, config::Config config, bool dryRunFlag,
                                              int& exitCode);
  // Opens the audit sink: the trail with its options (anchor and audit-key), reusing `reuse`
  // when it is the same file (a reload: one writer per file). Plan gets a sink that keeps
  // nothing. False (logged) with 78, 75 or 74 in exitCode.
  static bool audit(Composition& c, int& exitCode,
                    const std::shared_ptr<audit::AuditLog>& reuse = nullptr);
  // Opens the state store, reusing `reuse` when state-dir is the same. Plan: state.sqlite
  // opened read-only (or an empty store in memory); never fails. False (logged) with the exit code.
  static bool state(Composition& c, int& exitCode, const std::shared_ptr<state::StateStore>& reuse,
                    const std::string& reuseDir);

 private:
  // Gives the API budgets the state store for their ledger (state() does it). False (logged)
  // with the exit code.
  static bool attachBudgets(Composition& c, int& exitCode);
};

// The daemon's state (first-seen times, last passes, the API budget's ledger) read through a
// read-only open of state-dir/state.sqlite; an empty store when there is none or it cannot be
// read (a warning). For plan and validate, which write nothing.
std::shared_ptr<state::StateStore> readOnlyState(const config::Config& cfg);

// The store `plan` and `validate --connect` use: `snapshot` (readOnlyState) for the schedule's
// state, which they leave alone, and the daemon's state.sqlite for the API budget's ledger, to
// which their calls are added (state::LedgerStateStore): the ledger is a record of calls made,
// whoever made them. `snapshot` alone (a note or a warning logged) when there is no database
// yet or it cannot be written by this user. With `cluster:`, the ledger the nodes share in
// PostgreSQL (cluster/PgLedgerStore.h) over that store, when its table can be used.
std::shared_ptr<state::StateStore> ledgerState(const config::Config& cfg,
                                               std::shared_ptr<state::StateStore> snapshot);

// Prints a configuration error's diagnostics, one escaped line each: as log lines (with their
// journal priority) in the service, as plain lines on stderr in the commands, the way
// loadOrReport prints the loader's.
void reportConfigError(const config::ConfigError& e, Mode mode);

}  // namespace bulkwarden::app
