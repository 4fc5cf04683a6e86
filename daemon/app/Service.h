// `bulkwarden run` as a long-running service: the scheduler on a thread of its own, and this
// thread supervising it. It tells systemd when it is ready, what each pass did (STATUS=), pings
// the watchdog only while every org loop shows progress, reloads the configuration on SIGHUP
// (a bad one keeps the old) and stops on SIGTERM after the actions in flight. It also serves the
// HTTP endpoint. Not thread-safe: one Service per process, driven by run().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/ActionLog.h"
#include "app/Commands.h"
#include "app/Composition.h"
#include "app/ExitCodes.h"
#include "app/InstanceLock.h"
#include "app/Notify.h"
#include "app/Runtime.h"
#include "audit/AuditLog.h"
#include "cluster/ClusterNode.h"
#include "engine/Scheduler.h"
#include "notify/Notifications.h"
#include "state/SqliteStateStore.h"
#include "status/Monitor.h"
#include "status/StatusServer.h"

namespace bulkwarden::app {

// Stop and reload requests from the signal thread to the supervising loop. Thread-safe.
class Control {
 public:
  enum class Event { None, Stop, Reload, Reopen };
  void requestStop();
  void requestReload();
  void requestReopen();
  // Waits up to `timeout` for a request; a stop wins over a reload. A reload is consumed.
  Event waitFor(std::chrono::steady_clock::duration timeout);

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool reload_ = false;
  bool reopen_ = false;
};

class Service {
 public:
  // How long one pass may run before the watchdog stops being pinged (then systemd restarts us).
  // BULKWARDEN_WATCHDOG_PASS_LIMIT (a duration such as 45m) overrides it.
  static constexpr std::chrono::minutes kDefaultPassLimit{30};
  static constexpr std::chrono::milliseconds kJoinPoll{50};

  explicit Service(RunOptions options);
  ~Service();

  // Runs until SIGTERM/SIGINT with a signal thread of its own; returns the exit code. The same
  // as startUp(), supervise(), shutDown() (the order ServerApp follows, see docs/design.md).
  int run();

  // Start-up, in order: config, state-dir lock, HTTP endpoint, clients, audit trail and state
  // store, recovery of open intents, the startup record, READY=1, the scheduler thread. Returns
  // 0 or the exit code (logged). Called once, on the main thread, before supervise().
  int startUp();
  // The supervising loop: watchdog pings, reloads and audit reopens as requested, until a stop
  // request (0) or no configuration can run (74). Runs on one thread.
  int supervise();
  // Thread-safe requests to supervise(); from a signal thread or the main thread.
  void requestStop();
  void requestReload();
  void requestReopen();
  // Shut-down, in order: STOPPING=1, not ready, the scheduler stops after the actions in flight
  // (watchdog fed meanwhile), the HTTP endpoint, the state-dir lock. After supervise() returned;
  // idempotent.
  void shutDown();

 private:
  // One configuration at work: its clients, its policies and the scheduler running them.
  struct Generation {
    std::unique_ptr<Composition> comp;              // what the config asks for (app/Composition.h)
    Runtime* rt = nullptr;                          // comp->rt
    std::shared_ptr<audit::AuditLog> audit;         // shared across a reload when unmoved
    std::shared_ptr<state::StateStore> state;       // likewise
    std::unique_ptr<cluster::ClusterNode> cluster;  // `cluster:` only (docs/scaling.md)
    audit::AuditSink* sink = nullptr;               // the audit log, or its tee in cluster mode
    // Each org's client, metered for the Monitor (engine/Metering.h), inside the cluster fence.
    std::vector<std::unique_ptr<engine::MeteredJobs>> metered;
    std::unique_ptr<notify::Notifications> notifications;  // none when the config has none
    std::unique_ptr<engine::Scheduler> scheduler;
    std::thread thread;
    std::atomic<bool> done{false};  // the scheduler thread has returned
    bool dryRun = false;
  };

  // Listener fanning pass events out to the Monitor and STATUS=.
  class Listener : public engine::PassListener {
   public:
    Listener(status::Monitor& monitor, Notifier& notifier)
        : monitor_(monitor), notifier_(notifier) {}
    void onDecision(const engine::PassSummary& s, const engine::Decision& d) override;
    void onResult(const engine::PassSummary& s, const engine::Decision& d) override;
    void onSkipped(const engine::PassSummary& s, const salesforce::SkippedRecord& r) override;
    void onPassEnd(const engine::PassSummary& s) override;

   private:
    status::Monitor& monitor_;
    Notifier& notifier_;
    ActionLog actions_;  // one journal line per action and report
  };

  std::unique_ptr<config::Config> load();  // logs every diagnostic; nullptr on error
  // Builds a generation from a loaded config; reuses `current`'s audit log when the path is the
  // same. Logs and returns nullptr on error, with the exit code for it in `exitCode`.
  std::unique_ptr<Generation> build(std::unique_ptr<config::Config> cfg, const Generation* current,
                                    int* exitCode = nullptr);
  // Starts, moves or stops the HTTP endpoint as the config says; 0, or (logged) 75 when the
  // address is in use or not yet assigned, 78 when it is wrong.
  int startHttp(const config::Config& cfg);
  // Builds the generation's cluster parts; fences `targets` and tees `sink`. 0, 69 or 78.
  int attachCluster(Generation& g, std::vector<engine::OrgTarget>& targets,
                    audit::AuditSink*& sink);
  void start(Generation& g, std::string_view why);
  void stopGeneration(Generation& g);
  void reload();
  bool healthy(const Generation& g);
  std::string readyStatus(const Generation& g) const;

  RunOptions options_;
  Control control_;
  Notifier notifier_;
  status::Monitor monitor_;
  Listener listener_;
  std::unique_ptr<InstanceLock> lock_;
  std::unique_ptr<Generation> gen_;
  std::unique_ptr<status::StatusServer> http_;
  std::chrono::milliseconds passLimit_{kDefaultPassLimit};
  std::chrono::milliseconds heartbeat_{0};
  bool withholding_ = false;
};

}  // namespace bulkwarden::app
