#include "app/Service.h"

#include <fmt/format.h>

#include <cstdlib>
#include <map>

#include "app/Composition.h"
#include "app/ExitCodes.h"
#include "app/InstanceLock.h"
#include "app/OpenIntents.h"
#include "app/Signals.h"
#include "audit/Records.h"
#include "log/Log.h"
#include "model/Time.h"
#include "state/StateDir.h"

namespace bulkwarden::app {

using Steady = std::chrono::steady_clock;

void Control::requestStop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
}

void Control::requestReload() {
  {
    std::lock_guard lock(mutex_);
    reload_ = true;
  }
  cv_.notify_all();
}

void Control::requestReopen() {
  {
    std::lock_guard lock(mutex_);
    reopen_ = true;
  }
  cv_.notify_all();
}

Control::Event Control::waitFor(Steady::duration timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [this] { return stop_ || reload_ || reopen_; });
  if (stop_) return Event::Stop;
  if (reload_) {
    reload_ = false;
    return Event::Reload;
  }
  if (reopen_) {
    reopen_ = false;
    return Event::Reopen;
  }
  return Event::None;
}

void Service::Listener::onDecision(const engine::PassSummary& s, const engine::Decision& d) {
  monitor_.onDecision(s, d);
  actions_.onDecision(s, d);
}
void Service::Listener::onResult(const engine::PassSummary& s, const engine::Decision& d) {
  monitor_.onResult(s, d);
  actions_.onResult(s, d);
}
void Service::Listener::onSkipped(const engine::PassSummary& s,
                                  const salesforce::SkippedRecord& r) {
  monitor_.onSkipped(s, r);
}
void Service::Listener::onPassEnd(const engine::PassSummary& s) {
  monitor_.onPassEnd(s);
  actions_.onPassEnd(s);
  notifier_.status(engine::summaryLine(s));
}

Service::Service(RunOptions options)
    : options_(std::move(options)), listener_(monitor_, notifier_) {
  if (const char* env = std::getenv("BULKWARDEN_WATCHDOG_PASS_LIMIT")) {
    if (auto d = model::parseDuration(env); d && d->count() > 0) {
      passLimit_ = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    } else {
      log::warning("BULKWARDEN_WATCHDOG_PASS_LIMIT='{}' is not a duration such as 45m; using {}",
                   env, model::formatDuration(kDefaultPassLimit));
    }
  }
  // Ping four times per interval: systemd's advice is "under half", and a busy machine may
  // delay a wake-up.
  auto wd = std::chrono::duration_cast<std::chrono::milliseconds>(notifier_.watchdogInterval());
  if (wd.count() > 0) heartbeat_ = std::max(std::chrono::milliseconds(10), wd / 4);
}

Service::~Service() {
  if (gen_) stopGeneration(*gen_);
  if (http_) http_->stop();
}

std::unique_ptr<config::Config> Service::load() {
  try {
    return std::make_unique<config::Config>(config::loadConfig(options_.configPath));
  } catch (const config::ConfigError& e) {
    for (const auto& d : e.diagnostics()) log::error("{}", d.str());
    log::error("{} configuration error{} in {}", e.diagnostics().size(),
               e.diagnostics().size() == 1 ? "" : "s", options_.configPath);
    return nullptr;
  }
}

std::unique_ptr<Service::Generation> Service::build(std::unique_ptr<config::Config> cfg,
                                                    const Generation* current, int* exitCode) {
  auto failed = [exitCode](int code) {
    if (exitCode != nullptr) *exitCode = code;
    return nullptr;
  };
  auto g = std::make_unique<Generation>();
  int code = kExitConfig;
  g->comp = Composer::clients(Mode::Service, std::move(*cfg), options_.dryRun, code);
  if (!g->comp) return failed(code);
  g->rt = g->comp->rt.get();
  if (!Composer::audit(*g->comp, code, current ? current->audit : nullptr)) return failed(code);
  g->audit = g->comp->auditLog;
  if (!Composer::state(*g->comp, code, current ? current->state : nullptr,
                       current ? current->rt->config.stateDir : std::string())) {
    return failed(code);
  }
  g->state = g->comp->state;
  g->dryRun = g->comp->dryRun;
  const auto& c = g->rt->config;
  std::vector<engine::OrgTarget> targets;
  for (const auto& org : g->rt->orgs) {
    g->metered.push_back(std::make_unique<engine::MeteredJobs>(org.name, *org.jobs, monitor_));
    targets.push_back(engine::OrgTarget{org.name, g->metered.back().get()});
  }
  audit::AuditSink* sink = g->audit.get();
  if (c.cluster) {
    // Cluster mode (cluster/ClusterNode.h): leases gate the passes, actions are fenced.
    if (int clusterCode = attachCluster(*g, targets, sink); clusterCode != kExitOk) {
      return failed(clusterCode);
    }
  }
  // Audit writes are timed by the log itself (shared across reloads: the same Monitor).
  g->audit->setObserver(&monitor_);
  g->sink = sink;
  engine::SchedulerOptions so = g->comp->schedulerOptions();
  so.heartbeat = heartbeat_;
  so.observer = &monitor_;
  so.meter = &monitor_;
  engine::PassListener* listener = &listener_;
  if (!c.notifications.empty()) {
    try {
      g->notifications =
          std::make_unique<notify::Notifications>(c.notifications, c.stateDir, &listener_);
    } catch (const config::ConfigError& e) {
      for (const auto& d : e.diagnostics()) log::error("{}", d.str());
      return failed(kExitConfig);
    }
    listener = g->notifications.get();
  }
  if (g->cluster) so.gate = &g->cluster->gate();
  g->scheduler = std::make_unique<engine::Scheduler>(
      std::move(targets), g->rt->policies, so, *g->sink, *g->rt->clock, g->rt->stop, listener);
  return g;
}

int Service::attachCluster(Generation& g, std::vector<engine::OrgTarget>& targets,
                           audit::AuditSink*& sink) {
  std::vector<std::string> names;
  for (const auto& t : targets) names.push_back(t.name);
  try {
    g.cluster = std::make_unique<cluster::ClusterNode>(*g.rt->config.cluster, names);
  } catch (const cluster::PgError& e) {
    log::error("cluster: {}", e.what());
    return kExitUnavailable;
  } catch (const config::ConfigError& e) {
    for (const auto& d : e.diagnostics()) log::error("{}", d.str());
    return kExitConfig;
  }
  for (auto& t : targets) t.jobs = &g.cluster->fenced(t.name, *t.jobs);
  g.cluster->budgets(g.rt->budgets);
  sink = &g.cluster->tee(*g.audit);
  log::notice("cluster mode: node {}, lease {}", g.rt->config.cluster->node,
              model::formatDuration(g.rt->config.cluster->lease));
  return kExitOk;
}

int Service::startHttp(const config::Config& cfg) {
  std::string want = cfg.http ? cfg.http->listen : "";
  std::string have = http_ ? http_->configured() : "";
  if (want == have) return kExitOk;
  std::unique_ptr<status::StatusServer> next;
  if (!want.empty()) {
    try {
      // Bind before the old server stops: a reload to a busy port keeps the old endpoint (and
      // fails). Moving to another host on the same port therefore takes a restart.
      next = std::make_unique<status::StatusServer>(want, monitor_);
    } catch (const status::ListenError& e) {
      log::error("{}", e.what());
      return e.temporary() ? kExitTempFail : kExitConfig;
    }
  }
  if (http_) http_->stop();
  http_ = std::move(next);
  if (http_) {
    http_->start();
    log::notice("http endpoint on http://{} (/healthz /readyz /status /metrics)",
                http_->listenAddress());
  } else {
    log::notice("http endpoint off");
  }
  return kExitOk;
}

void Service::start(Generation& g, std::string_view why) {
  const auto& c = g.rt->config;
  std::string names;
  for (const auto* p : g.rt->policies) names += (names.empty() ? "" : ",") + p->name;
  audit::write(*g.sink, why,
               audit::ConfigRecord{c.path, static_cast<int64_t>(g.rt->orgs.size()), names, g.dryRun,
                                   BULKWARDEN_VERSION, c.policyDigest, policyFileFields(c)});
  std::vector<std::string> orgNames;
  for (const auto& org : g.rt->orgs) orgNames.push_back(org.name);
  monitor_.setConfig(c.path, g.dryRun, orgNames, g.rt->policies);
  monitor_.setBudgets({g.rt->budgets.begin(), g.rt->budgets.end()});  // the API budget metrics
  monitor_.setConfigLoaded(true);
  log::info("{} org(s), {} polic{}{}; audit trail {}", g.rt->orgs.size(), g.rt->policies.size(),
            g.rt->policies.size() == 1 ? "y" : "ies", g.dryRun ? ", dry-run forced" : "",
            g.audit->path());
  // Ready before the first pass, so that its STATUS= line follows READY=1.
  notifier_.ready(readyStatus(g));
  if (g.notifications) g.notifications->start();  // after the previous generation's stopped
  if (g.cluster) g.cluster->start();  // after the previous generation gave its leases back
  g.thread = std::thread([&g] {
    g.scheduler->runUntilStopped();
    g.done.store(true);
  });
}

void Service::stopGeneration(Generation& g) {
  g.rt->stop.request();
  if (!g.thread.joinable()) return;
  // Actions in flight may take up to their request deadline; keep the watchdog fed meanwhile,
  // under the same rule as always (a pass stuck beyond the limit is not fed).
  auto lastPing = Steady::now();
  while (heartbeat_.count() > 0 && !g.done.load()) {
    std::this_thread::sleep_for(kJoinPoll);
    if (Steady::now() - lastPing < heartbeat_ / 2) continue;
    lastPing = Steady::now();
    if (healthy(g)) notifier_.watchdog();
  }
  g.thread.join();
  if (g.cluster) g.cluster->stop();  // nothing in flight any more: the leases go back at once
  if (g.notifications) g.notifications->stop();
}

std::string Service::readyStatus(const Generation& g) const {
  const auto& rt = *g.rt;
  return fmt::format("ready: {} org(s), {} polic{}{}", rt.orgs.size(), rt.policies.size(),
                     rt.policies.size() == 1 ? "y" : "ies", g.dryRun ? ", dry-run" : "");
}

void Service::reload() {
  notifier_.reloading();
  log::notice("reloading {}", options_.configPath);
  auto fail = [this](std::string_view what) {
    monitor_.configReload(false);
    log::error("reload failed ({}); still running the previous configuration", what);
    notifier_.ready(fmt::format("{}; last reload failed: {}", readyStatus(*gen_), what));
  };
  auto cfg = load();
  if (!cfg) return fail("configuration error");
  auto next = build(std::move(cfg), gen_.get());
  if (!next) return fail("could not build the new configuration");
  if (startHttp(next->rt->config) != kExitOk) return fail("http endpoint");
  // The old scheduler finishes the actions it has sent and records them; actions it had not
  // started are dropped from its pass. The new scheduler keeps each policy's schedule (the last
  // passes are in the state store): a reload is not a reason to call Salesforce, and a cron
  // policy must not run outside its times. The dropped jobs are seen again at the next pass.
  stopGeneration(*gen_);
  auto old = std::move(gen_);
  gen_ = std::move(next);
  try {
    start(*gen_, "reload");
  } catch (const audit::AuditError& e) {
    // The new audit trail took no record: go back to the previous configuration.
    log::error("{}", e.what());
    gen_ = build(std::make_unique<config::Config>(old->rt->config), old.get());
    old.reset();
    try {
      if (gen_) start(*gen_, "reload-reverted");
    } catch (const audit::AuditError& e2) {
      log::error("{}", e2.what());
      gen_.reset();
    }
    monitor_.configReload(false);
    if (gen_)
      notifier_.ready(readyStatus(*gen_) + "; last reload failed: audit trail not writable");
    return;
  }
  old.reset();
  monitor_.configReload(true);
  log::notice("reloaded: {} org(s), {} polic{}", gen_->rt->orgs.size(), gen_->rt->policies.size(),
              gen_->rt->policies.size() == 1 ? "y" : "ies");
}

bool Service::healthy(const Generation& g) {
  auto now = Steady::now();
  for (const auto& p : g.scheduler->progress()) {
    std::string problem;
    if (p.passStarted && now - *p.passStarted > passLimit_) {
      problem = fmt::format(
          "org {}: a pass has been running for {}s (limit {})", p.org,
          std::chrono::duration_cast<std::chrono::seconds>(now - *p.passStarted).count(),
          model::formatDuration(passLimit_));
    } else if (!p.passStarted && !g.rt->stop.requested() &&
               now - p.lastBeat > 4 * heartbeat_ + std::chrono::seconds(1)) {
      // (A stopping loop no longer beats: only its pass, bounded above, matters then.)
      problem =
          fmt::format("org {}: the scheduling loop has not woken up for {}s", p.org,
                      std::chrono::duration_cast<std::chrono::seconds>(now - p.lastBeat).count());
    }
    if (!problem.empty()) {
      if (!withholding_) {
        log::error("{}; withholding the watchdog ping so that systemd restarts the service",
                   problem);
      }
      withholding_ = true;
      return false;
    }
  }
  withholding_ = false;
  return true;
}

int Service::run() {
  // Outside ServerApplication (a caller of runCommand): the signal thread takes the stop
  // signals too, and this thread supervises.
  SignalWatcher signals([this] { control_.requestStop(); }, [this] { control_.requestReload(); },
                        [this] { control_.requestReopen(); });
  if (int code = startUp(); code != kExitOk) return code;
  int code = supervise();
  shutDown();
  return code;
}

int Service::startUp() {
  auto cfg = load();
  if (!cfg) return kExitConfig;
  std::string why;
  int code = kExitTempFail;
  lock_ = InstanceLock::acquire(cfg->stateDir, why, code);
  if (!lock_) {
    log::error("{}", why);
    return code;
  }
  // Start-up failures that may clear by themselves (a port in use, a read-only or full file
  // system) exit 75, which systemd retries; only what a person must fix exits 78 (ExitCodes.h).
  if (code = startHttp(*cfg); code != kExitOk) return code;
  code = kExitConfig;
  auto g = build(std::move(cfg), nullptr, &code);
  if (!g) return code;
  gen_ = std::move(g);
  // Intents left without a result by a previous run are settled (by reading the jobs) before
  // anything new is done.
  try {
    recoverOpenIntents(*gen_->rt, *gen_->audit);
  } catch (const audit::AuditError& e) {
    log::error("{}", e.what());
    return kExitIoErr;
  }
  // Then the digests a crash kept from being queued, rebuilt from the trail (with the outcomes
  // recovery just wrote), before the outbox is loaded (docs/notifications.md).
  if (gen_->notifications) {
    gen_->notifications->recoverFromTrail(audit::trailFiles(gen_->audit->path()),
                                          gen_->rt->policies);
  }
  // Config, credentials (resolved by Runtime::create) and the audit trail are ready: start()
  // records the config, sends READY=1 and starts the scheduler.
  try {
    start(*gen_, "startup");
  } catch (const audit::AuditError& e) {
    log::error("{}", e.what());
    return kExitIoErr;
  }
  return kExitOk;
}

int Service::supervise() {
  const auto tick = heartbeat_.count() > 0 ? Steady::duration(heartbeat_) : std::chrono::hours(1);
  for (;;) {
    auto ev = control_.waitFor(tick);
    if (ev == Control::Event::Stop) return kExitOk;
    if (ev == Control::Event::Reload) reload();
    if (ev == Control::Event::Reopen && gen_) {
      // logrotate moved the file (postrotate: systemctl kill -s USR1 bulkwarden): the chain goes
      // on in a new file at the configured path.
      try {
        gen_->audit->reopen();
        log::notice("audit log {} reopened", gen_->audit->path());
      } catch (const audit::AuditError& e) {
        log::error("audit log reopen failed, no action until it can be written: {}", e.what());
      }
    }
    if (!gen_) {
      log::error("no configuration can run: the audit trail cannot be written");
      return kExitIoErr;
    }
    if (heartbeat_.count() > 0 && healthy(*gen_)) notifier_.watchdog();
  }
}

void Service::requestReload() { control_.requestReload(); }
void Service::requestReopen() { control_.requestReopen(); }
void Service::requestStop() { control_.requestStop(); }

void Service::shutDown() {
  notifier_.stopping();
  monitor_.setConfigLoaded(false);
  if (gen_) {
    stopGeneration(*gen_);
    gen_.reset();
    log::notice("stopped");
  }
  if (http_) http_->stop();
  lock_.reset();
}

}  // namespace bulkwarden::app
