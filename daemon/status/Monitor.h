// What the daemon has done, for /metrics, /status and /readyz: Prometheus counters, gauges and
// histograms (prometheus-cpp), plus a small snapshot of the last passes and recent actions.
// It is the engine's PassListener, ScheduleObserver and MeterListener and the audit log's
// WriteObserver: everything it shows is told to it through those hooks, so status/ needs nothing
// from salesforce/ and sits in no data path. Thread-safe: engine threads record, HTTP threads read;
// every lock here is held only to copy a few values, never across I/O, and the engine holds none of
// them while it waits on Salesforce.
#pragma once

#include <Poco/JSON/Array.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/WriteObserver.h"
#include "engine/ApiBudget.h"
#include "engine/Metering.h"
#include "engine/Pass.h"
#include "engine/Scheduler.h"
#include "model/Job.h"
#include "model/ThreadSafety.h"
#include "policy/Policy.h"

namespace bulkwarden::status {

struct PassRecord {
  engine::PassSummary summary;
  model::Timestamp finished{};
};

struct ActionRecord {
  model::Timestamp at{};
  std::string org, policy, action, jobId, outcome;
  int http = 0;
};

struct PolicyInfo {
  std::string name, description, resource, action, mode;
  std::chrono::milliseconds every{0};  // an interval schedule; 0 for cron
  std::string cron, timezone;          // a cron schedule
  std::chrono::milliseconds startingDeadline{0};
  std::vector<std::string> orgs;  // empty: every org
  bool appliesTo(const std::string& org) const;
};

struct Snapshot {
  bool configLoaded = false;
  bool auditWritable = true;
  std::string auditError;
  std::string configPath;
  bool dryRun = false;
  model::Timestamp started{};
  std::vector<std::string> orgs;
  std::vector<PolicyInfo> policies;
  std::map<std::string, std::map<std::string, PassRecord>> lastPass;  // org -> resource -> pass
  std::deque<ActionRecord> recentActions;                             // newest last
  // Each policy's next scheduled pass per org, as the scheduler keeps it: policy -> org -> time.
  std::map<std::string, std::map<std::string, model::Timestamp>> nextPass;

  // The next scheduled pass of `org` for `resource` (the earliest of its policies'); none before
  // the scheduler has started.
  std::optional<model::Timestamp> nextPassOf(const std::string& org,
                                             const std::string& resource) const;
};

// The `policies` array of /status: schedule (cron with its time zone and starting deadline, or
// the interval), description, and the next pass (the earliest over the policy's orgs).
Poco::JSON::Array::Ptr policiesJson(const Snapshot& s);

class Monitor : public engine::PassListener,
                public engine::ScheduleObserver,
                public engine::MeterListener,
                public audit::WriteObserver {
 public:
  static constexpr size_t kRecentActions = 50;

  Monitor();

  // A config became active (startup or reload): orgs and policies.
  void setConfig(const std::string& path, bool dryRun, const std::vector<std::string>& orgs,
                 const std::vector<const policy::Policy*>& policies);
  // Each org's API budget, read at each scrape (bulkwarden_api_budget*, by purpose). Replaces
  // those of the config before.
  void setBudgets(std::vector<std::shared_ptr<const engine::ApiBudget>> budgets);
  void setConfigLoaded(bool loaded);
  void configReload(bool ok);

  void onDecision(const engine::PassSummary& s, const engine::Decision& d) override;
  void onResult(const engine::PassSummary& s, const engine::Decision& d) override;
  void onSkipped(const engine::PassSummary& s, const salesforce::SkippedRecord& r) override;
  void onPassEnd(const engine::PassSummary& s) override;
  void onNextPass(const std::string& org, const std::string& policy,
                  model::Timestamp next) override;

  // engine::MeterListener (engine/Metering.h): jobs by state, errors by kind, API usage.
  void onJobsListed(const std::string& org, model::ResourceKind kind,
                    const std::map<model::JobState, int64_t>& byState) override;
  void onApiError(const std::string& org, std::string_view kind, int http,
                  std::string_view code) override;
  void onApiUsage(const std::string& org, int64_t used, int64_t max) override;
  // audit::WriteObserver: write latency by kind; a failure makes /readyz fail until a write
  // succeeds.
  void onAuditWrite(audit::WriteKind kind, std::chrono::nanoseconds took, bool ok,
                    const std::string& error) override;

  Snapshot snapshot() const;
  // The Prometheus text exposition format (version 0.0.4).
  std::string metricsText() const;
  // Empty when ready; else why not, one reason a line.
  std::vector<std::string> notReadyReasons() const;

 private:
  void error(const std::string& kind);
  void refreshBudgets() const;  // the budget metrics from the budgets, at a scrape

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& passes_;
  prometheus::Family<prometheus::Histogram>& passDuration_;
  prometheus::Family<prometheus::Gauge>& lastPassTime_;
  prometheus::Family<prometheus::Gauge>& jobsSeen_;
  prometheus::Family<prometheus::Counter>& skipped_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Family<prometheus::Counter>& actions_;
  prometheus::Family<prometheus::Counter>& apiCalls_;
  prometheus::Family<prometheus::Gauge>& apiUsage_;
  prometheus::Family<prometheus::Histogram>& auditLatency_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Family<prometheus::Counter>& reloads_;
  prometheus::Family<prometheus::Gauge>& ready_;
  prometheus::Family<prometheus::Gauge>& info_;
  prometheus::Family<prometheus::Counter>& callsByPurpose_;
  prometheus::Family<prometheus::Gauge>& budget_;
  prometheus::Family<prometheus::Counter>& budgetWarnings_;
  prometheus::Family<prometheus::Counter>& budgetDeferred_;

  mutable model::Mutex mutex_;
  Snapshot snap_ GUARDED_BY(mutex_);
  // The budgets, and what each org's counters last took from its budget (a new budget after a
  // reload starts again from zero).
  mutable model::Mutex budgetMutex_;
  std::vector<std::shared_ptr<const engine::ApiBudget>> budgets_ GUARDED_BY(budgetMutex_);
  struct BudgetSeen {
    const engine::ApiBudget* budget = nullptr;
    salesforce::CallCounts calls{};
    engine::ApiBudget::Stats stats;
  };
  mutable std::map<std::string, BudgetSeen> budgetSeen_ GUARDED_BY(budgetMutex_);
};

}  // namespace bulkwarden::status
