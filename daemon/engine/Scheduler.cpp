#include "engine/Scheduler.h"

#include <malloc.h>

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "engine/FollowUp.h"
#include "engine/Metering.h"
#include "log/Log.h"

namespace bulkwarden::engine {

Scheduler::Scheduler(std::vector<OrgTarget> orgs, std::vector<const policy::Policy*> policies,
                     SchedulerOptions options, audit::AuditSink& audit, const model::Clock& clock,
                     model::StopSignal& stop, PassListener* listener)
    : orgs_(std::move(orgs)),
      policies_(std::move(policies)),
      options_(options),
      audit_(audit),
      clock_(clock),
      stop_(stop),
      listener_(listener) {
  if (!options_.state) options_.state = &memoryState_;
  for (const auto& org : orgs_) {
    guards_.emplace(org.name,
                    OrgGuard{CircuitBreaker(options_.breakerThreshold, options_.breakerCooldown),
                             std::nullopt, std::nullopt});
    if (options_.actionsPerMinute > 0) {
      // A burst of a tenth of a minute's allowance (at least 1) smooths the start of a pass.
      rates_[org.name] = std::make_unique<RateLimiter>(
          options_.actionsPerMinute, std::max(1.0, options_.actionsPerMinute / 10.0), clock_);
    }
  }
}

void Scheduler::tellUsage(const OrgTarget& org) const {
  if (!options_.meter) return;
  auto u = org.jobs->usage();  // the client's own lock, held for a copy
  if (u.max > 0) options_.meter->onApiUsage(org.name, u.used, u.max);
}

NextTick advance(const policy::Schedule& schedule, model::Timestamp tick, model::Timestamp now) {
  NextTick out;
  auto next = schedule.nextAfter(tick);
  // A cron that never fires again (checked at load, so only in theory): a week from now.
  auto far = now + std::chrono::days(7);
  out.next = next ? *next : far;
  while (out.next <= now) {
    ++out.missed;
    auto n = schedule.nextAfter(out.next);
    out.next = n ? *n : far;
  }
  return out;
}

model::Timestamp firstTick(const policy::Schedule& schedule, std::optional<model::Timestamp> last,
                           model::Timestamp now) {
  return schedule.firstDue(last, now);
}

namespace {
// An interval tick more than one interval ahead was counted on a clock since stepped back (NTP,
// `date -s`, during or after a pass): waiting for it would leave the org ungoverned for the size
// of the step (in cluster mode while this node keeps its lease). One interval from now instead.
void boundToClock(const policy::Schedule& schedule, model::Timestamp& next, model::Timestamp now) {
  if (!schedule.cron && next - now > schedule.every) next = now + schedule.every;
}
}  // namespace

Timetable::Timetable(std::vector<const policy::Policy*> policies,
                     const std::vector<std::optional<model::Timestamp>>& last, model::Timestamp now,
                     model::Duration precision)
    : policies_(std::move(policies)),
      pending_(policies_.size()),
      precision_(std::max(precision, model::Duration(0))) {
  for (size_t i = 0; i < policies_.size(); ++i) {
    next_.push_back(
        firstTick(policies_[i]->schedule, i < last.size() ? last[i] : std::nullopt, now));
  }
}

Timetable::Due Timetable::take(model::Timestamp now) {
  Due due;
  for (size_t i = 0; i < policies_.size(); ++i) {
    const auto& schedule = policies_[i]->schedule;
    boundToClock(schedule, next_[i], now);
    if (next_[i] <= now) {
      if (schedule.cron && now - next_[i] > schedule.startingDeadline) {
        due.expired.emplace_back(i, next_[i]);
        auto n = schedule.nextAfter(now);
        next_[i] = n ? *n : now + std::chrono::days(7);
        continue;
      }
      due.scheduled.push_back(i);
      // This pass lists every job: it covers the crossings pending and reports them again.
      pending_[i].clear();
    } else if (auto f = followUp(i); f && *f <= now) {
      due.followUps.push_back(i);
      auto& ids = due.followUpJobs[i];
      auto end = pending_[i].upper_bound(now);
      for (auto it = pending_[i].begin(); it != end; ++it) ids.push_back(it->second);
      pending_[i].erase(pending_[i].begin(), end);
    }
  }
  return due;
}

std::map<std::string, model::Timestamp> Timetable::horizons(const Due& due,
                                                            model::Timestamp now) const {
  std::map<std::string, model::Timestamp> out;
  for (size_t i = 0; i < policies_.size(); ++i) {
    const auto& schedule = policies_[i]->schedule;
    if (schedule.cron) continue;
    bool scheduled =
        std::find(due.scheduled.begin(), due.scheduled.end(), i) != due.scheduled.end();
    out[policies_[i]->name] = scheduled ? advance(schedule, next_[i], now).next : next_[i];
  }
  return out;
}

std::optional<model::Timestamp> Timetable::followUp(size_t i) const {
  const auto& p = pending_[i];
  if (p.empty()) return std::nullopt;
  // Read together: every crossing within precision of the earliest, once the last has crossed.
  auto last = p.upper_bound(p.begin()->first + precision_);
  return std::prev(last)->first;
}

void Timetable::crossing(const std::string& name, model::Timestamp at, const std::string& job) {
  for (size_t i = 0; i < policies_.size(); ++i) {
    const auto& p = *policies_[i];
    if (p.name != name || p.schedule.cron) continue;
    if (at >= next_[i]) return;  // the scheduled pass comes first
    // A follow-up exists to act at the crossing; while the windows are closed it could only
    // record held decisions, so it waits for them to open.
    if (!p.windows.empty()) {
      auto open = p.windows.nextOpen(at, next_[i]);
      if (!open) return;
      at = *open;
    }
    auto& pending = pending_[i];
    if (pending.size() >= kCrossingJobsKept) {
      if (at >= std::prev(pending.end())->first) return;  // the scheduled pass handles it
      pending.erase(std::prev(pending.end()));
    }
    pending.emplace(at, job);
    return;
  }
}

std::vector<std::pair<size_t, int64_t>> Timetable::ran(const Due& due, model::Timestamp after) {
  std::vector<std::pair<size_t, int64_t>> skipped;
  for (size_t i : due.scheduled) {
    NextTick t = advance(policies_[i]->schedule, next_[i], after);
    next_[i] = t.next;
    boundToClock(policies_[i]->schedule, next_[i], after);
    pending_[i].erase(pending_[i].lower_bound(next_[i]), pending_[i].end());
    if (t.missed > 0) skipped.emplace_back(i, t.missed);
  }
  return skipped;
}

model::Timestamp Timetable::wake() const {
  model::Timestamp wake = model::Timestamp::max();
  for (size_t i = 0; i < policies_.size(); ++i) {
    wake = std::min(wake, next_[i]);
    if (auto f = followUp(i)) wake = std::min(wake, *f);
  }
  return wake;
}

std::string summaryLine(const PassSummary& s) {
  std::string outcomes;
  for (auto& [o, n] : s.outcomes) {
    outcomes += fmt::format("{}{} {}", outcomes.empty() ? "" : ", ", n, toString(o));
  }
  std::string line = fmt::format(
      "{} {}: {} jobs in {} page{}, {} matched, {} acted{}{}, {} API calls, {:.1f}s", s.org,
      model::resourceName(s.resource), s.jobsSeen, s.pages, s.pages == 1 ? "" : "s", s.matched,
      s.acted, outcomes.empty() ? "" : " (" + outcomes + ")",
      s.skipped ? fmt::format(", {} records skipped", s.skipped) : "", s.apiCalls,
      static_cast<double>(s.duration.count()) / 1000.0);
  if (s.listingError) line += "; listing failed: " + s.listingError->describe();
  if (s.auditError) line += "; audit trail failed: " + *s.auditError;
  if (s.unauthorized) line += "; stopped acting: unauthorized even after renewing the token";
  if (s.stopped) line += "; stopped before every action ran";
  if (s.notRun) {
    return fmt::format("{} {}: pass skipped: {}", s.org, model::resourceName(s.resource),
                       *s.notRun);
  }
  return line;
}

std::vector<PassSummary> Scheduler::runDue(const OrgTarget& org,
                                           const std::vector<const policy::Policy*>& due,
                                           std::map<std::string, model::Timestamp> nextPass) {
  std::vector<PassSummary> out;
  for (auto resource : {model::ResourceKind::Query, model::ResourceKind::Ingest}) {
    PassOptions po;
    po.org = org.name;
    po.resource = resource;
    po.dryRun = options_.dryRun;
    po.concurrency = options_.concurrency;
    po.maxJobsPerListing = options_.maxJobsPerListing;
    po.state = options_.state;
    po.nextPass = nextPass;
    if (auto it = rates_.find(org.name); it != rates_.end()) po.rate = it->second.get();
    for (const auto* p : due) {
      if (p->resource == resource && p->appliesTo(org.name)) po.policies.push_back(p);
    }
    if (po.policies.empty() || stop_.requested()) continue;
    OrgGuard& guard = guards_.at(org.name);
    // Cluster hook (engine/OrgGate.h): another node may hold the org's lease. Routine in a
    // cluster (every node skips each org it does not hold, every tick): debug level.
    std::optional<std::string> why;
    const bool byGate = options_.gate && (why = options_.gate->refuse(org.name)).has_value();
    if (!why) why = refusal(org, guard);
    // API budget hook (engine/ApiBudget.h): a listing it cannot afford, or a pass sooner than a
    // low budget's pace, does not start.
    ApiBudget* budget = budgetOf(org);
    const bool byBudget = !why && budget && (why = budget->passRefusal(resource));
    if (why) {
      PassSummary s;
      s.org = org.name;
      s.resource = resource;
      s.notRun = *why;
      // The budget warns once when it runs low (ApiBudget); each pass it spaces out is info.
      auto level = byGate ? log::Level::Debug : byBudget ? log::Level::Info : log::Level::Warning;
      if (log::enabled(level)) {
        log::write(level, fmt::format("{} {}: pass skipped, no call made: {}", org.name,
                                      model::resourceName(resource), *why));
      }
      out.push_back(std::move(s));
      continue;
    }
    po.runId = newRunId(clock_.now());
    po.budget = budget;
    Pass pass(std::move(po), *org.jobs, audit_, clock_, stop_, listener_);
    PassSummary s = pass.run();
    learn(org, guard, s);
    if (s.listingComplete) guard.lastListed = s.jobsSeen;
    if (s.listingComplete && budget) budget->listed(resource, s.pages);
    if (s.ok()) {
      log::info("{}", summaryLine(s));
    } else {
      log::error("{}", summaryLine(s));
    }
    if (listener_) listener_->onPassDecisions(s, pass.decisions());
    tellUsage(org);
    if (listener_) listener_->onPassEnd(s);
    out.push_back(std::move(s));
  }
  return out;
}

ApiBudget* Scheduler::budgetOf(const OrgTarget& org) const {
  auto it = options_.budgets.find(org.name);
  return it == options_.budgets.end() ? nullptr : it->second;
}

std::optional<std::string> Scheduler::refusal(const OrgTarget& org, OrgGuard& guard) {
  model::Timestamp now = clock_.now();
  if (guard.pausedUntil && now < *guard.pausedUntil) {
    return fmt::format(
        "Salesforce refused with REQUEST_LIMIT_EXCEEDED (daily allowance); the org is paused "
        "until {}",
        model::formatRfc3339(*guard.pausedUntil));
  }
  if (guard.pausedUntil) {
    // The allowance is a rolling 24 h window: only the org can say whether it has room again.
    // One call now; passes resume only when it shows usage under the maximum.
    auto probe = org.jobs->probeUsage();
    std::optional<std::string> still;
    if (!probe.ok() && probe.error().kind == salesforce::ApiError::Kind::LimitExceeded) {
      still = probe.error().describe();
    } else if (probe.ok() && probe.value().max > 0 && probe.value().used >= probe.value().max) {
      still = fmt::format("API usage {}/{}", probe.value().used, probe.value().max);
    }
    if (still) {
      guard.pausedUntil = now + options_.limitPause;
      log::warning("{}: daily API allowance still used up ({}); next probe at {}", org.name, *still,
                   model::formatRfc3339(*guard.pausedUntil));
      return fmt::format(
          "the daily API allowance is still used up ({}); the org is paused until {}", *still,
          model::formatRfc3339(*guard.pausedUntil));
    }
    log::info("{}: the daily API allowance has room again ({}); passes resume", org.name,
              probe.ok() ? fmt::format("API usage {}/{}", probe.value().used, probe.value().max)
                         : "the probe failed: " + probe.error().describe());
    guard.pausedUntil.reset();
  }
  auto usage = org.jobs->usage();
  if (options_.apiUsageShare > 0 && options_.apiUsageShare < 1 && usage.max > 0 &&
      static_cast<double>(usage.used) >= options_.apiUsageShare * static_cast<double>(usage.max)) {
    if (!guard.budgetSkippedSince) guard.budgetSkippedSince = now;
    if (now < *guard.budgetSkippedSince + kBudgetRecheck) {
      return fmt::format("API usage {}/{} is at or above {:.0f}% of the daily allowance",
                         usage.used, usage.max, options_.apiUsageShare * 100);
    }
    guard.budgetSkippedSince = now;  // this pass runs, and refreshes what we know
  } else {
    guard.budgetSkippedSince.reset();
  }
  if (!guard.breaker.allow(now)) {
    return fmt::format("circuit open after {} failed passes in a row; next try at {}",
                       guard.breaker.consecutiveFailures(),
                       model::formatRfc3339(guard.breaker.reopensAt()));
  }
  return std::nullopt;
}

void Scheduler::learn(const OrgTarget& org, OrgGuard& guard, const PassSummary& s) {
  model::Timestamp now = clock_.now();
  bool limited =
      s.limitExceeded ||
      (s.listingError && s.listingError->kind == salesforce::ApiError::Kind::LimitExceeded);
  if (limited) {
    guard.pausedUntil = now + options_.limitPause;
    log::error(
        "{}: REQUEST_LIMIT_EXCEEDED, the daily API allowance is used up: no call to this org "
        "until {}, then one call to learn its usage",
        org.name, model::formatRfc3339(*guard.pausedUntil));
    return;
  }
  if (s.listingComplete) {
    guard.breaker.onSuccess();
  } else if (s.listingError && s.listingError->code != salesforce::kBudgetErrorCode) {
    // (A listing the API budget stopped says nothing about the org's health.)
    guard.breaker.onFailure(now);
    if (guard.breaker.state() == CircuitBreaker::State::Open) {
      log::error("{}: circuit open after {} failed passes in a row: no call until {}", org.name,
                 guard.breaker.consecutiveFailures(),
                 model::formatRfc3339(guard.breaker.reopensAt()));
    }
  }
}

int defaultWorkers() {
  unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(n == 0 ? 2u : n, 2u, 16u));
}

size_t Scheduler::workerCount() const {
  return static_cast<size_t>(options_.workers > 0 ? options_.workers : defaultWorkers());
}

std::vector<PassSummary> Scheduler::runOnce() {
  std::vector<std::vector<PassSummary>> perOrg(orgs_.size());
  // The same fixed pool as the daemon's: `run --once` over many orgs starts no thread per org.
  PassExecutor executor(workerCount(), stop_);
  for (size_t i = 0; i < orgs_.size(); ++i) {
    executor.add(
        orgs_[i].name,
        [this, i, &perOrg]() -> std::optional<SteadyTime> {
          model::Timestamp started = clock_.now();
          perOrg[i] = runDue(orgs_[i], policies_);
          if (options_.recordOncePasses) recordPasses(orgs_[i], policies_, started);
          orgs_[i].jobs->closeIdleConnections();
          return std::nullopt;
        },
        std::chrono::steady_clock::now());
  }
  executor.run();
  std::vector<PassSummary> all;
  for (auto& v : perOrg) {
    for (auto& s : v) all.push_back(std::move(s));
  }
  return all;
}

std::vector<PassSummary> Scheduler::runFollowUps(
    const OrgTarget& org,
    const std::vector<std::pair<const policy::Policy*, std::vector<std::string>>>& work,
    const std::map<std::string, model::Timestamp>& nextPass) {
  std::vector<PassSummary> out;
  for (auto resource : {model::ResourceKind::Query, model::ResourceKind::Ingest}) {
    PassOptions po;
    std::vector<std::string> ids;
    for (const auto& [p, jobs] : work) {
      if (p->resource != resource || !p->appliesTo(org.name)) continue;
      po.policies.push_back(p);
      ids.insert(ids.end(), jobs.begin(), jobs.end());
    }
    if (po.policies.empty() || ids.empty() || stop_.requested()) continue;
    OrgGuard& guard = guards_.at(org.name);
    std::optional<std::string> why;
    const bool byGate = options_.gate && (why = options_.gate->refuse(org.name)).has_value();
    if (!why) why = refusal(org, guard);
    // API budget hook: a follow-up waits for the next scheduled pass while the budget is low.
    ApiBudget* budget = budgetOf(org);
    const bool byBudget = !why && budget && (why = budget->followUpRefusal(ids.size()));
    if (why) {
      auto level = byGate ? log::Level::Debug : byBudget ? log::Level::Info : log::Level::Warning;
      if (log::enabled(level)) {
        log::write(level, fmt::format("{} {}: follow-up skipped, no call made: {}; the next "
                                      "scheduled pass decides",
                                      org.name, model::resourceName(resource), *why));
      }
      continue;
    }
    po.org = org.name;
    po.resource = resource;
    po.dryRun = options_.dryRun;
    po.concurrency = options_.concurrency;
    po.maxJobsPerListing = options_.maxJobsPerListing;
    po.state = options_.state;
    po.nextPass = nextPass;
    po.followUp = true;
    if (guard.lastListed > 0) po.listedForLimits = guard.lastListed;
    if (auto it = rates_.find(org.name); it != rates_.end()) po.rate = it->second.get();
    po.runId = newRunId(clock_.now());
    po.budget = budget;
    FollowUpReads reads(*org.jobs, std::move(ids), options_.concurrency);
    Pass pass(std::move(po), reads, audit_, clock_, stop_, listener_);
    PassSummary s = pass.run();
    learn(org, guard, s);
    log::info("follow-up: {}", summaryLine(s));
    if (listener_) listener_->onPassDecisions(s, pass.decisions());
    tellUsage(org);
    if (listener_) listener_->onPassEnd(s);
    out.push_back(std::move(s));
  }
  return out;
}

void Scheduler::recordPasses(const OrgTarget& org, const std::vector<const policy::Policy*>& ran,
                             model::Timestamp when) {
  for (const auto* p : ran) {
    if (!p->appliesTo(org.name)) continue;
    try {
      options_.state->recordPass(org.name, p->name, when);
    } catch (const state::StateError& e) {
      log::error("{}: cannot record the last pass of {}: {}", org.name, p->name, e.what());
    }
  }
}

void Scheduler::publish(OrgRun& run) {
  if (!options_.observer) return;
  for (size_t i = 0; i < run.mine.size(); ++i) {
    if (run.published[i] == run.table->next(i)) continue;
    run.published[i] = run.table->next(i);
    options_.observer->onNextPass(run.org->name, run.mine[i]->name, run.table->next(i));
  }
}

std::optional<SteadyTime> Scheduler::orgStep(OrgRun& run) {
  const OrgTarget& org = *run.org;
  const auto& mine = run.mine;
  if (!run.table) {
    model::Timestamp start = clock_.now();
    std::vector<std::optional<model::Timestamp>> last(mine.size());
    for (size_t i = 0; i < mine.size(); ++i) {
      try {
        last[i] = options_.state->lastPass(org.name, mine[i]->name);
      } catch (const state::StateError& e) {
        log::error("{}: cannot read the last pass of {}: {}", org.name, mine[i]->name, e.what());
      }
    }
    run.table.emplace(mine, last, start, options_.followUpPrecision);
    run.published.assign(mine.size(), std::nullopt);
    for (size_t i = 0; i < mine.size(); ++i) {
      if (last[i] && run.table->next(i) == start) {
        log::info("{}: policy {} missed its schedule ({}) since {}: one catch-up pass now",
                  org.name, mine[i]->name, mine[i]->schedule.describe(),
                  model::formatRfc3339(*last[i]));
      }
    }
    publish(run);
  }
  Timetable& table = *run.table;
  model::Timestamp now = clock_.now();
  Timetable::Due due = table.take(now);
  for (const auto& [i, fire] : due.expired) {
    log::warning(
        "{}: policy {} missed its fire time {} by more than its starting-deadline {}: skipped; "
        "next at {}",
        org.name, mine[i]->name, model::formatRfc3339(fire),
        model::formatDuration(mine[i]->schedule.startingDeadline),
        model::formatRfc3339(table.next(i)));
  }
  if (!due.empty() && !stop_.requested()) {
    // Each policy's next scheduled pass: crossings before it get a follow-up.
    auto horizon = table.horizons(due, now);
    std::vector<const policy::Policy*> scheduled;
    for (size_t i : due.scheduled) scheduled.push_back(mine[i]);
    std::vector<std::pair<const policy::Policy*, std::vector<std::string>>> followUps;
    for (size_t i : due.followUps) {
      auto& ids = due.followUpJobs[i];
      log::info("{}: follow-up for {}: {} job(s) cross its age threshold now", org.name,
                mine[i]->name, ids.size());
      followUps.emplace_back(mine[i], std::move(ids));
    }
    std::vector<PassSummary> summaries;
    if (!scheduled.empty()) summaries = runDue(org, scheduled, horizon);
    for (auto& s : runFollowUps(org, followUps, horizon)) summaries.push_back(std::move(s));
    // The org is idle until its next pass: it holds no kept-alive socket meanwhile, so open
    // connections follow the passes running, not the number of orgs (docs/design.md).
    org.jobs->closeIdleConnections();
    // A pass's worker threads leave freed pages in their malloc arenas; hand them back so that
    // the daemon idles small between passes (issue 7: idle RSS under 15 MB).
    malloc_trim(0);
    recordPasses(org, scheduled, now);
    for (const auto& [i, missed] : table.ran(due, clock_.now())) {
      std::lock_guard lock(mutex_);
      skipped_[org.name] += missed;
      log::warning("{}: policy {} skipped {} tick(s): the previous pass was still running",
                   org.name, mine[i]->name, missed);
    }
    for (const auto& s : summaries) {
      for (const auto& [name, jobs] : s.crossingJobs) {
        for (const auto& [t, id] : jobs) table.crossing(name, t, id);
      }
    }
  }
  publish(run);
  if (stop_.requested()) return std::nullopt;
  // Due again on the steady clock, at most a minute ahead, so that a wall-clock step (NTP,
  // suspend) is noticed within a minute.
  auto wait = std::clamp<model::Duration>(table.wake() - clock_.now(), model::Duration(0),
                                          std::chrono::minutes(1));
  if (options_.heartbeat.count() > 0) wait = std::min<model::Duration>(wait, options_.heartbeat);
  return std::chrono::steady_clock::now() + clock_.steadyFor(wait);
}

void Scheduler::runUntilStopped() {
  std::vector<OrgRun> runs;
  runs.reserve(orgs_.size());
  for (const auto& org : orgs_) {
    OrgRun run;
    run.org = &org;
    for (const auto* p : policies_) {
      if (p->appliesTo(org.name)) run.mine.push_back(p);
    }
    if (!run.mine.empty()) runs.push_back(std::move(run));
  }
  auto executor = std::make_unique<PassExecutor>(workerCount(), stop_, options_.heartbeat);
  auto start = std::chrono::steady_clock::now();
  for (auto& run : runs) {
    executor->add(
        run.org->name, [this, &run] { return orgStep(run); }, start);
  }
  {
    std::lock_guard lock(mutex_);
    executor_ = std::move(executor);
  }
  executor_->run();
  std::lock_guard lock(mutex_);
  executor_.reset();
}

size_t Scheduler::workerThreads() const {
  std::lock_guard lock(mutex_);
  return executor_ ? executor_->threads() : 0;
}

std::vector<OrgProgress> Scheduler::progress() const {
  std::lock_guard lock(mutex_);
  std::vector<OrgProgress> out;
  if (!executor_) return out;
  auto now = std::chrono::steady_clock::now();
  bool allBusy = executor_->busy() >= executor_->threads();
  auto created = executor_->lastIdleWake();
  for (const auto& t : executor_->state()) {
    OrgProgress p;
    p.org = t.name;
    if (t.runningSince) {
      p.lastBeat = *t.runningSince;
      p.passStarted = t.runningSince;
    } else {
      p.lastBeat = t.lastStepEnd.value_or(created);
      // Overdue only because every worker runs another org's pass: waiting, not hung.
      if (t.due && *t.due <= now && allBusy) p.lastBeat = now;
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::map<std::string, int64_t> Scheduler::skippedTicks() const {
  std::lock_guard lock(mutex_);
  return skipped_;
}

}  // namespace bulkwarden::engine
