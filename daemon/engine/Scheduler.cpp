#include "engine/Scheduler.h"

#include <malloc.h>

#include <fmt/format.h>

#include <algorithm>
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
      listener_(listener) {
  if (!options_.state) options_.state = &memoryState_;
  for (const auto& org : orgs_) {
    guards_.emplace(org.name,
                    OrgGuard{CircuitBreaker(options_.breakerThreshold, options_.breakerCooldown),
                             std::nullopt, std::nullopt});
    if (options_.actionsPerMinute > 0) {
      // A burst of a tenth of a minute's allowance (at least 1) smooths the start of a pass.
      rates_[org.name] = std::make_unique<RateLimiter>(
          options_.actionsPerMinute, std::max(1.0, options_.actionsPerMinute / 10.0));
    }
  }
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
  if (!last) {
    if (schedule.cron) {
      auto n = schedule.nextAfter(now);
      return n ? *n : now + std::chrono::days(7);
    }
    return now;
  }
  auto n = schedule.nextAfter(*last);
  if (!n || *n <= now) return now;  // missed one or more ticks: one catch-up pass now
  return *n;
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
    // A retry's backoff is a timer wait on the stop signal: SIGTERM ends it at once.
    po.retry.wait = [this](std::chrono::milliseconds delay, const std::atomic<bool>&) {
      return !stop_.waitUntil(std::chrono::steady_clock::now() + delay);
    };
    for (const auto* p : due) {
      if (p->resource == resource && p->appliesTo(org.name)) po.policies.push_back(p);
    }
    if (po.policies.empty() || stop_.requested()) continue;
    OrgGuard& guard = guards_.at(org.name);
    if (auto why = refusal(org, guard)) {
      PassSummary s;
      s.org = org.name;
      s.resource = resource;
      s.notRun = *why;
      log::warning("{} {}: pass skipped, no call made: {}", org.name, model::resourceName(resource),
                   *why);
      out.push_back(std::move(s));
      continue;
    }
    po.runId = newRunId(clock_.now());
    Pass pass(std::move(po), *org.jobs, audit_, clock_, stop_.flag(), listener_);
    PassSummary s = pass.run();
    learn(org, guard, s);
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

std::optional<std::string> Scheduler::refusal(const OrgTarget& org, OrgGuard& guard) {
  model::Timestamp now = clock_.now();
  if (guard.pausedUntil && now < *guard.pausedUntil) {
    return fmt::format("Salesforce refused with REQUEST_LIMIT_EXCEEDED; the org is paused until {}",
                       model::formatRfc3339(*guard.pausedUntil));
  }
  guard.pausedUntil.reset();
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
    log::error("{}: REQUEST_LIMIT_EXCEEDED: no call to this org until {}", org.name,
               model::formatRfc3339(*guard.pausedUntil));
    return;
  }
  if (s.listingComplete) {
    guard.breaker.onSuccess();
  } else if (s.listingError) {
    guard.breaker.onFailure(now);
    if (guard.breaker.state() == CircuitBreaker::State::Open) {
      log::error("{}: circuit open after {} failed passes in a row: no call until {}", org.name,
                 guard.breaker.consecutiveFailures(),
                 model::formatRfc3339(guard.breaker.reopensAt()));
    }
  }
}

std::vector<PassSummary> Scheduler::runOnce() {
  std::vector<std::vector<PassSummary>> perOrg(orgs_.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < orgs_.size(); ++i) {
    threads.emplace_back([this, i, &perOrg] {
      model::Timestamp started = clock_.now();
      perOrg[i] = runDue(orgs_[i], policies_);
      recordPasses(orgs_[i], policies_, started);
    });
  }
  for (auto& t : threads) t.join();
  std::vector<PassSummary> all;
  for (auto& v : perOrg) {
    for (auto& s : v) all.push_back(std::move(s));
  }
  return all;
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

void Scheduler::orgLoop(const OrgTarget& org) {
  std::vector<const policy::Policy*> mine;
  for (const auto* p : policies_) {
    if (p->appliesTo(org.name)) mine.push_back(p);
  }
  if (mine.empty()) return;
  model::Timestamp start = clock_.now();
  std::vector<model::Timestamp> next(mine.size());
  std::vector<std::optional<model::Timestamp>> followUp(mine.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    std::optional<model::Timestamp> last;
    try {
      last = options_.state->lastPass(org.name, mine[i]->name);
    } catch (const state::StateError& e) {
      log::error("{}: cannot read the last pass of {}: {}", org.name, mine[i]->name, e.what());
    }
    next[i] = firstTick(mine[i]->schedule, last, start);
    if (last && next[i] == start) {
      log::info("{}: policy {} missed its schedule since {}: one catch-up pass now", org.name,
                mine[i]->name, model::formatRfc3339(*last));
    }
  }
  auto beat = [&](bool inPass) {
    std::lock_guard lock(mutex_);
    auto& p = progress_[org.name];
    p.org = org.name;
    p.lastBeat = std::chrono::steady_clock::now();
    p.passStarted = inPass ? std::optional(p.lastBeat) : std::nullopt;
  };
  while (!stop_.requested()) {
    beat(false);
    model::Timestamp now = clock_.now();
    std::vector<const policy::Policy*> due;
    std::vector<size_t> ran, followed;
    for (size_t i = 0; i < mine.size(); ++i) {
      if (next[i] <= now) {
        due.push_back(mine[i]);
        ran.push_back(i);
      } else if (followUp[i] && *followUp[i] <= now) {
        due.push_back(mine[i]);
        followed.push_back(i);
      }
    }
    if (!due.empty()) {
      // Each policy's next scheduled pass: crossings before it get a follow-up.
      std::map<std::string, model::Timestamp> horizon;
      for (size_t i = 0; i < mine.size(); ++i) {
        horizon[mine[i]->name] =
            next[i] <= now ? advance(mine[i]->schedule, next[i], now).next : next[i];
      }
      for (size_t i : followed) {
        log::info("{}: follow-up pass for {}: a job crosses its age threshold now", org.name,
                  mine[i]->name);
        followUp[i].reset();
      }
      beat(true);
      auto summaries = runDue(org, due, horizon);
      // A pass's worker threads leave freed pages in their malloc arenas; hand them back so that
      // the daemon idles small between passes (issue 7: idle RSS under 15 MB).
      malloc_trim(0);
      beat(false);
      std::vector<const policy::Policy*> scheduled;
      for (size_t i : ran) scheduled.push_back(mine[i]);
      recordPasses(org, scheduled, now);
      for (const auto& s : summaries) {
        for (const auto& [name, t] : s.crossings) {
          for (size_t i = 0; i < mine.size(); ++i) {
            if (mine[i]->name != name) continue;
            if (!followUp[i] || t < *followUp[i]) followUp[i] = t;
          }
        }
      }
    }
    model::Timestamp after = clock_.now();
    for (size_t i : ran) {
      NextTick t = advance(mine[i]->schedule, next[i], after);
      next[i] = t.next;
      if (followUp[i] && *followUp[i] >= next[i]) followUp[i].reset();  // the pass comes first
      if (t.missed > 0) {
        std::lock_guard lock(mutex_);
        skipped_[org.name] += t.missed;
        log::warning("{}: policy {} skipped {} tick(s): the previous pass was still running",
                     org.name, mine[i]->name, t.missed);
      }
    }
    model::Timestamp wake = *std::min_element(next.begin(), next.end());
    for (const auto& f : followUp) {
      if (f && *f < wake) wake = *f;
    }
    // Waits on the steady clock, at most a minute at a time, so that a wall-clock step (NTP,
    // suspend) is noticed within a minute.
    auto wait = std::clamp<model::Duration>(wake - clock_.now(), model::Duration(0),
                                            std::chrono::minutes(1));
    if (options_.heartbeat.count() > 0) wait = std::min<model::Duration>(wait, options_.heartbeat);
    if (stop_.waitUntil(std::chrono::steady_clock::now() + wait)) break;
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
