#include "engine/Scheduler.h"

#include <fmt/format.h>

#include <thread>

#include "log/Log.h"

namespace bulkwarden::engine {

Scheduler::Scheduler(std::vector<OrgTarget> orgs, std::vector<const policy::Policy*> policies,
                     SchedulerOptions options, audit::AuditSink& audit, const Clock& clock,
                     StopSignal& stop, PassListener* listener)
    : orgs_(std::move(orgs)),
      policies_(std::move(policies)),
      options_(options),
      audit_(audit),
      clock_(clock),
      stop_(stop),
      listener_(listener) {}

std::string summaryLine(const PassSummary& s) {
  std::string outcomes;
  for (auto& [o, n] : s.outcomes) {
    outcomes += fmt::format("{}{} {}", outcomes.empty() ? "" : ", ", n, toString(o));
  }
  std::string line =
      fmt::format("{} {}: {} jobs in {} pages, {} matched, {} acted{}{}, {} API calls, {:.1f}s",
                  s.org, model::resourceName(s.resource), s.jobsSeen, s.pages, s.matched, s.acted,
                  outcomes.empty() ? "" : " (" + outcomes + ")",
                  s.skipped ? fmt::format(", {} records skipped", s.skipped) : "", s.apiCalls,
                  static_cast<double>(s.duration.count()) / 1000.0);
  if (s.listingError) line += "; listing failed: " + s.listingError->describe();
  if (s.auditError) line += "; audit trail failed: " + *s.auditError;
  if (s.stopped) line += "; stopped before every action ran";
  return line;
}

std::vector<PassSummary> Scheduler::runDue(const OrgTarget& org,
                                           const std::vector<const policy::Policy*>& due) {
  std::vector<PassSummary> out;
  for (auto resource : {model::ResourceKind::Query, model::ResourceKind::Ingest}) {
    PassOptions po;
    po.org = org.name;
    po.resource = resource;
    po.dryRun = options_.dryRun;
    po.concurrency = options_.concurrency;
    for (const auto* p : due) {
      if (p->resource == resource && p->appliesTo(org.name)) po.policies.push_back(p);
    }
    if (po.policies.empty() || stop_.requested()) continue;
    po.runId = newRunId(clock_.now());
    Pass pass(std::move(po), *org.jobs, audit_, clock_, stop_.flag(), listener_);
    PassSummary s = pass.run();
    if (s.ok()) {
      log::info("{}", summaryLine(s));
    } else {
      log::error("{}", summaryLine(s));
    }
    if (listener_) listener_->onPassEnd(s);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<PassSummary> Scheduler::runOnce() {
  std::vector<std::vector<PassSummary>> perOrg(orgs_.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < orgs_.size(); ++i) {
    threads.emplace_back([this, i, &perOrg] { perOrg[i] = runDue(orgs_[i], policies_); });
  }
  for (auto& t : threads) t.join();
  std::vector<PassSummary> all;
  for (auto& v : perOrg) {
    for (auto& s : v) all.push_back(std::move(s));
  }
  return all;
}

void Scheduler::orgLoop(const OrgTarget& org) {
  using Steady = std::chrono::steady_clock;
  std::vector<const policy::Policy*> mine;
  for (const auto* p : policies_) {
    if (p->appliesTo(org.name)) mine.push_back(p);
  }
  if (mine.empty()) return;
  // Every policy is due at start; then every `every`, on a fixed grid from the start so that a
  // long pass does not make the schedule drift.
  std::vector<Steady::time_point> next(mine.size(), Steady::now());
  auto beat = [&](bool inPass) {
    std::lock_guard lock(mutex_);
    auto& p = progress_[org.name];
    p.org = org.name;
    p.lastBeat = Steady::now();
    p.passStarted = inPass ? std::optional(p.lastBeat) : std::nullopt;
  };
  while (!stop_.requested()) {
    beat(false);
    auto now = Steady::now();
    std::vector<const policy::Policy*> due;
    std::vector<size_t> ran;
    for (size_t i = 0; i < mine.size(); ++i) {
      if (next[i] <= now) {
        due.push_back(mine[i]);
        ran.push_back(i);
      }
    }
    if (!due.empty()) {
      beat(true);
      runDue(org, due);
      beat(false);
    }
    now = Steady::now();
    for (size_t i : ran) {
      auto every = std::chrono::duration_cast<Steady::duration>(mine[i]->schedule.every);
      next[i] += every;
      int64_t missed = 0;
      while (next[i] <= now) {  // ticks that fell inside the pass: skipped, not queued
        next[i] += every;
        ++missed;
      }
      if (missed > 0) {
        std::lock_guard lock(mutex_);
        skipped_[org.name] += missed;
        log::warning("{}: policy {} skipped {} tick(s): the previous pass was still running",
                     org.name, mine[i]->name, missed);
      }
    }
    auto wake = *std::min_element(next.begin(), next.end());
    if (options_.heartbeat.count() > 0) wake = std::min(wake, Steady::now() + options_.heartbeat);
    if (stop_.waitUntil(wake)) break;
  }
}

void Scheduler::runUntilStopped() {
  std::vector<std::thread> threads;
  for (const auto& org : orgs_) {
    threads.emplace_back([this, &org] { orgLoop(org); });
  }
  for (auto& t : threads) t.join();
}

std::vector<OrgProgress> Scheduler::progress() const {
  std::lock_guard lock(mutex_);
  std::vector<OrgProgress> out;
  for (const auto& [name, p] : progress_) out.push_back(p);
  return out;
}

std::map<std::string, int64_t> Scheduler::skippedTicks() const {
  std::lock_guard lock(mutex_);
  return skipped_;
}

}  // namespace bulkwarden::engine
