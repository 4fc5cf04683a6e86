// Runs passes on the policies' schedules. The steps of every org run on one fixed pool of worker
// threads (engine/PassExecutor: a timer queue of (due time, org)), so threads do not grow with the
// number of orgs, and one org's slow listing holds at most one worker while the others keep the
// rest on time. At each wake-up the policies due for an org are grouped by resource, and each
// group shares one listing (one pass). No overlapping passes for an org: a tick that comes while
// a pass runs is skipped and counted. Thread-safe to stop from any thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/AuditSink.h"
#include "engine/ApiBudget.h"
#include "engine/CircuitBreaker.h"
#include "engine/OrgGate.h"
#include "engine/Pass.h"
#include "engine/PassExecutor.h"
#include "engine/RateLimiter.h"
#include "model/Clock.h"
#include "model/StopSignal.h"
#include "policy/Policy.h"
#include "salesforce/BulkJobs.h"
#include "state/StateStore.h"

namespace bulkwarden::engine {

class MeterListener;

struct OrgTarget {
  std::string name;
  salesforce::BulkJobs* jobs = nullptr;
};

// Told each policy's next scheduled pass of an org whenever it changes (/status). Called from the
// org's scheduler thread; implementations must be thread-safe.
class ScheduleObserver {
 public:
  virtual ~ScheduleObserver() = default;
  virtual void onNextPass(const std::string& org, const std::string& policy,
                          model::Timestamp next) = 0;
};

struct SchedulerOptions {
  bool dryRun = false;
  // Worker threads that run the passes of every org (config `workers`); 0: defaultWorkers().
  int workers = 0;
  int concurrency = 8;
  int64_t maxJobsPerListing = kDefaultMaxJobsPerListing;  // PassOptions::maxJobsPerListing
  state::StateStore* state = nullptr;  // first-seen times and last passes; none: in memory only
  double actionsPerMinute = 0;         // per org; 0: no cap
  // If set, an idle org loop wakes at least this often to show it is alive (see progress()).
  std::chrono::milliseconds heartbeat{0};
  // Above this share of the org's daily API allowance (Sforce-Limit-Info), no new pass starts:
  // only the calls for actions already decided are made. 0 or >= 1: no threshold.
  double apiUsageShare = 0.9;
  ScheduleObserver* observer = nullptr;  // told each policy's next pass (/status)
  // Told each org's API usage after each of its passes, on the org's worker thread (/metrics;
  // engine/Metering.h).
  MeterListener* meter = nullptr;
  // After 403 REQUEST_LIMIT_EXCEEDED for the daily allowance the org is left alone this long;
  // then one probe call (BulkJobs::probeUsage) asks for its usage: passes resume when it shows
  // usage under the maximum (the allowance is a rolling 24 h window), else another pause. The
  // concurrent-request kind of the 403 never pauses (the client retries it in seconds).
  model::Duration limitPause = std::chrono::hours(1);
  // Circuit breaker per org: open after this many passes in a row whose listing failed for a
  // transient reason; then one probe pass after the cooldown.
  int breakerThreshold = 5;
  model::Duration breakerCooldown = std::chrono::minutes(5);
  // Crossings this close together are read in one follow-up (config `follow-up-precision`).
  model::Duration followUpPrecision = std::chrono::seconds(1);
  // Whether runOnce() records each policy's pass as its last (the daemon's schedule follows it).
  // `run --once --dry-run` does not: a rehearsal leaves the schedule alone.
  bool recordOncePasses = true;
  // Per org (by name), its daily API budget (engine/ApiBudget.h, config `api-budget`): asked
  // before each pass and follow-up, and handed to each pass for its actions. An org not in the
  // map: no budget.
  std::map<std::string, ApiBudget*> budgets{};
  // Cluster mode: consulted before each pass and follow-up; none: every org is this process's.
  OrgGate* gate = nullptr;
};

// The worker count when none is configured: the CPU count, at least 2 and at most 16 (a pass
// mostly waits on the network; its actions have their own `concurrency` threads).
int defaultWorkers();

// What an org loop is doing, for the watchdog and /status (read-only).
struct OrgProgress {
  std::string org;
  std::chrono::steady_clock::time_point lastBeat;  // the loop last woke up or finished a pass
  std::optional<std::chrono::steady_clock::time_point> passStarted;  // set while a pass runs
};

// Schedule arithmetic, pure so that it can be tested table by table.
struct NextTick {
  model::Timestamp next;
  int64_t missed = 0;  // scheduled ticks that fell inside the pass just run (skipped, not queued)
};
// After running the tick `tick` and finishing at `now`: the next tick after `now`.
NextTick advance(const policy::Schedule& schedule, model::Timestamp tick, model::Timestamp now);
// At start: when the policy is first due (policy::Schedule::firstDue).
model::Timestamp firstTick(const policy::Schedule& schedule, std::optional<model::Timestamp> last,
                           model::Timestamp now);

// One org's timetable: when each of its policies is next due, and the follow-up passes asked
// for by age-threshold crossings. Time is passed in, never read, so that the rules are tested
// with an injected clock. The rules:
// - a cron policy runs at its fire times; a fire time found missed (the loop was busy or the
//   clock jumped) runs late only within the policy's starting deadline, else it is skipped;
// - a cron policy gets no follow-up passes: its cron names the times it may touch Salesforce;
// - an interval policy's follow-up falls inside its windows: one due while they are closed moves
//   to their opening, and is dropped when the next scheduled pass comes first.
// Not thread-safe: owned by one org loop.
class Timetable {
 public:
  // `last[i]`: the last pass of policies[i] (none: never ran), as read from the state store.
  Timetable(std::vector<const policy::Policy*> policies,
            const std::vector<std::optional<model::Timestamp>>& last, model::Timestamp now,
            model::Duration precision = std::chrono::seconds(1));

  struct Due {
    std::vector<size_t> scheduled;  // at (or late within the deadline after) a scheduled time
    std::vector<size_t> followUps;  // follow-up passes for age-threshold crossings
    // Per follow-up policy index, the crossing jobs to read (never a relisting).
    std::map<size_t, std::vector<std::string>> followUpJobs;
    // Cron fire times missed by more than the starting deadline: skipped, not run.
    std::vector<std::pair<size_t, model::Timestamp>> expired;
    bool empty() const { return scheduled.empty() && followUps.empty(); }
  };
  // What runs at `now`. Expired fire times move on to the next one; follow-ups taken are cleared.
  Due take(model::Timestamp now);
  // Per policy (by name), the horizon before which crossings ask for a follow-up: the policy's
  // next scheduled pass. Cron policies are left out (no follow-ups).
  std::map<std::string, model::Timestamp> horizons(const Due& due, model::Timestamp now) const;
  // Job `job` crosses an age threshold of `policy` at `at`: ask for a follow-up that reads it.
  // Crossings within the precision of the earliest one pending are read together, when the
  // last of them has crossed. At most kCrossingJobsKept pending per policy (the scheduled pass
  // handles the others). A scheduled pass of the policy clears them: it lists every job.
  void crossing(const std::string& policy, model::Timestamp at, const std::string& job = {});
  // After the pass of `due` ended at `after`: the scheduled ones move to their next tick.
  // Returns, per policy index, the ticks that fell inside the pass (skipped).
  std::vector<std::pair<size_t, int64_t>> ran(const Due& due, model::Timestamp after);
  // When the loop must wake up next.
  model::Timestamp wake() const;

  size_t size() const { return policies_.size(); }
  const policy::Policy& policy(size_t i) const { return *policies_[i]; }
  model::Timestamp next(size_t i) const { return next_[i]; }
  // When the follow-up of policy i runs: the last crossing within precision of the earliest.
  std::optional<model::Timestamp> followUp(size_t i) const;

 private:
  std::vector<const policy::Policy*> policies_;
  std::vector<model::Timestamp> next_;
  std::vector<std::multimap<model::Timestamp, std::string>> pending_;
  model::Duration precision_;
};

class Scheduler {
 public:
  Scheduler(std::vector<OrgTarget> orgs, std::vector<const policy::Policy*> policies,
            SchedulerOptions options, audit::AuditSink& audit, const model::Clock& clock,
            model::StopSignal& stop, PassListener* listener = nullptr);

  // Every policy once: one pass per org and resource that has policies, orgs in parallel.
  std::vector<PassSummary> runOnce();

  // Keeps the schedule until stop is requested; passes in flight finish their actions in flight.
  void runUntilStopped();

  // Ticks skipped because the previous pass of that org was still running, per org.
  std::map<std::string, int64_t> skippedTicks() const;

  // One entry per org loop started by runUntilStopped. Thread-safe. An org waiting in the queue
  // past its due time while every worker is busy shows as awake: it waits for a worker, not on a
  // hang (passes themselves are bounded by the watchdog's pass limit).
  std::vector<OrgProgress> progress() const;

  // Worker threads running passes now (0 when not running). Thread-safe.
  size_t workerThreads() const;

 private:
  std::vector<PassSummary> runDue(const OrgTarget& org,
                                  const std::vector<const policy::Policy*>& due,
                                  std::map<std::string, model::Timestamp> nextPass = {});
  // One org's timetable and what it last told the observer; stepped by one worker at a time.
  struct OrgRun {
    const OrgTarget* org = nullptr;
    std::vector<const policy::Policy*> mine;
    std::optional<Timetable> table;
    std::vector<std::optional<model::Timestamp>> published;
  };
  // Runs what is due for the org now; returns when it is next due (never more than a minute
  // ahead, so that a wall-clock step is noticed within a minute).
  std::optional<SteadyTime> orgStep(OrgRun& run);
  void publish(OrgRun& run);
  size_t workerCount() const;
  // Follow-ups: reads the crossing jobs (engine/FollowUp.h) and runs them through a Pass.
  std::vector<PassSummary> runFollowUps(
      const OrgTarget& org,
      const std::vector<std::pair<const policy::Policy*, std::vector<std::string>>>& work,
      const std::map<std::string, model::Timestamp>& nextPass);
  void recordPasses(const OrgTarget& org, const std::vector<const policy::Policy*>& ran,
                    model::Timestamp when);

  std::vector<OrgTarget> orgs_;
  std::vector<const policy::Policy*> policies_;
  SchedulerOptions options_;
  audit::AuditSink& audit_;
  const model::Clock& clock_;
  model::StopSignal& stop_;
  PassListener* listener_;
  mutable std::mutex mutex_;
  std::map<std::string, int64_t> skipped_;
  std::map<std::string, std::unique_ptr<RateLimiter>> rates_;
  std::unique_ptr<PassExecutor> executor_;  // guarded by mutex_ (set while runUntilStopped runs)
  // Per org, fixed at construction; each is touched by one worker at a time (the executor never
  // runs two steps of an org at once).
  struct OrgGuard {
    CircuitBreaker breaker;
    std::optional<model::Timestamp> pausedUntil;  // daily allowance used up: probe after this
    // When passes began to be skipped for the API budget. The usage we know is the last
    // Sforce-Limit-Info seen, which a skipped pass cannot refresh: every kBudgetRecheck one pass
    // runs, to learn whether the rolling 24-hour window has come down.
    std::optional<model::Timestamp> budgetSkippedSince;
    int64_t lastListed = 0;  // jobs in the last complete listing: follow-ups' max-percent
  };
  std::map<std::string, OrgGuard> guards_;
  // Why a pass of `org` must not start now; nullopt: it may. The cluster gate and the API
  // budget are asked at the call sites (each logged at its own level), then this.
  std::optional<std::string> refusal(const OrgTarget& org, OrgGuard& guard);
  ApiBudget* budgetOf(const OrgTarget& org) const;  // none: the org has no budget
  void tellUsage(const OrgTarget& org) const;       // to options_.meter, after a pass
  void learn(const OrgTarget& org, OrgGuard& guard,
             const PassSummary& s);      // per org, fixed at construction
  state::MemoryStateStore memoryState_;  // when no store is given
};

// While an org is above its API budget, how often one pass runs anyway to refresh the usage.
inline constexpr model::Duration kBudgetRecheck = std::chrono::minutes(15);

// The one summary line per org per pass: jobs seen, matched, acted, outcomes, API calls, time.
std::string summaryLine(const PassSummary& s);

}  // namespace bulkwarden::engine
