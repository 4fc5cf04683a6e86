#include "engine/Pass.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <random>

#include "engine/ApiBudget.h"
#include "log/Log.h"
#include "policy/Evaluator.h"

namespace bulkwarden::engine {

using salesforce::ApiError;

namespace {

// Thrown from the page sink (collect) to stop the listing: BulkJobs::list hands it to its caller,
// Pass::run, which treats the listing as incomplete, so that the pass acts on nothing.
struct ListingRefused {
  ApiError error;
};

// A fingerprint of every field of a listed job, to tell a repeated list record from one that
// names the same job with other fields. A collision could only make a differing duplicate look
// like a repeat, which is then dropped: the pass goes on with the first record, the one a
// server could as well have sent alone.
uint64_t fingerprint(const model::Job& j, std::string& buffer) {
  buffer.clear();
  auto put = [&buffer](std::string_view text) {
    buffer += std::to_string(text.size());
    buffer += ':';
    buffer += text;
  };
  put(model::resourcePath(j.kind));
  put(j.id);
  put(j.operation);
  put(j.object);
  put(j.createdById);
  put(std::to_string(j.createdDate.time_since_epoch().count()));
  put(std::to_string(j.systemModstamp.time_since_epoch().count()));
  put(model::toString(j.state));
  put(j.concurrencyMode);
  put(j.contentType);
  put(j.apiVersion);
  put(j.jobType);
  put(j.lineEnding);
  put(j.columnDelimiter);
  return std::hash<std::string_view>{}(buffer);
}

}  // namespace

bool PassSummary::ok() const {
  auto failed = [&](Outcome o) {
    auto it = outcomes.find(o);
    return it != outcomes.end() && it->second > 0;
  };
  return listingComplete && !auditError && !stateError && !failed(Outcome::Failed) &&
         !failed(Outcome::Unknown) && !failed(Outcome::Refused) && !failed(Outcome::StillActive) &&
         !failed(Outcome::NotPermitted);
}

std::string newRunId(model::Timestamp now) {
  static std::mt19937_64 rng{std::random_device{}()};
  static std::mutex rngMutex;
  uint32_t suffix;
  {
    std::lock_guard lock(rngMutex);
    suffix = static_cast<uint32_t>(rng());
  }
  // Sortable by time, unique across restarts: 20261129T051502.123Z-1a2b3c4d
  std::string t = model::formatRfc3339(now);
  std::string compact;
  for (char c : t) {
    if (c != '-' && c != ':') compact.push_back(c);
  }
  return fmt::format("{}-{:08x}", compact, suffix);
}

Pass::Pass(PassOptions options, salesforce::BulkJobs& jobs, audit::AuditSink& audit,
           const model::Clock& clock, const model::StopSignal& stopRequested,
           PassListener* listener)
    : options_(std::move(options)),
      jobs_(jobs),
      audit_(audit),
      clock_(clock),
      stopRequested_(stopRequested),
      listener_(listener) {
  summary_.run = options_.runId;
  summary_.org = options_.org;
  summary_.resource = options_.resource;
  // First-seen-in-state times are only read by in-state-for. Without such a policy a pass neither
  // records nor prunes them: no write per listed job, no memory for the org's job count.
  if (std::none_of(options_.policies.begin(), options_.policies.end(),
                   [](const policy::Policy* p) { return policy::usesInStateFor(p->filter); })) {
    options_.state = nullptr;
  }
}

namespace {
constexpr std::string_view kChangedWhileListed =
    "listed twice with different fields (the job changed during the listing); the next pass "
    "decides";
}  // namespace

void Pass::dedupe(salesforce::Page& page) {
  size_t kept = 0;
  for (size_t i = 0; i < page.jobs.size(); ++i) {
    model::Job& j = page.jobs[i];
    IdKey key{};
    std::memcpy(key.data(), j.id.data(), std::min(j.id.size(), key.size()));
    const uint64_t print = fingerprint(j, scratch_);
    auto [it, fresh] = listed_.try_emplace(key, print);
    if (!fresh) {
      if (it->second != print) {
        // Offset paging over an org whose jobs change mid-listing repeats a job that moved: which
        // record is current is unknown, so the job is left alone this pass (applyGates holds it),
        // and the others are acted on.
        if (changed_.insert(key).second) {
          ++summary_.changedWhileListed;
          log::warning(
              "{} {}: job {} is listed twice with different fields (state {} on page {}): it "
              "changed during the listing; nothing is done to it this pass",
              options_.org, model::resourceName(options_.resource), j.id, model::toString(j.state),
              summary_.pages);
        }
        continue;
      }
      ++summary_.duplicates;  // offset paging over a changing org repeats jobs: one action each
      continue;
    }
    if (static_cast<int64_t>(listed_.size()) > options_.maxJobsPerListing) {
      throw ListingRefused{ApiError{
          ApiError::Kind::Permanent,
          0,
          {},
          fmt::format("job listing has more than {} jobs (max-jobs-per-listing); stopped listing "
                      "at page {}, nothing is acted on this pass: raise max-jobs-per-listing in "
                      "the config if the org really keeps that many jobs",
                      options_.maxJobsPerListing, summary_.pages),
          false}};
    }
    if (kept != i) page.jobs[kept] = std::move(j);
    ++kept;
  }
  page.jobs.erase(page.jobs.begin() + static_cast<std::ptrdiff_t>(kept), page.jobs.end());
}

void Pass::collect(salesforce::Page&& page) {
  ++summary_.pages;
  summary_.skipped += static_cast<int64_t>(page.skipped.size());
  for (const auto& s : page.skipped) {
    log::warning("{} {}: skipped list record {}: {}", options_.org,
                 model::resourceName(options_.resource), s.id.empty() ? "(no id)" : s.id, s.reason);
    if (listener_) listener_->onSkipped(summary_, s);
  }
  const int64_t duplicatesBefore = summary_.duplicates;
  dedupe(page);
  summary_.jobsSeen += static_cast<int64_t>(page.jobs.size());
  if (summary_.duplicates > duplicatesBefore) {
    log::warning(
        "{} {}: list page {} repeats {} job(s) listed before; each is counted and acted "
        "on once",
        options_.org, model::resourceName(options_.resource), summary_.pages,
        summary_.duplicates - duplicatesBefore);
  }
  model::Timestamp now = clock_.now();
  std::vector<model::Timestamp> since;
  if (options_.state && !summary_.stateError) {
    try {
      since = options_.state->observe(options_.org, options_.resource, page.jobs, now);
    } catch (const state::StateError& e) {
      summary_.stateError = e.what();
    }
  }
  if (since.size() != page.jobs.size()) since.assign(page.jobs.size(), now);
  // Pairs whose filter could not be decided come too: recorded as held with the reason, never
  // acted on, never the winner.
  auto matches =
      policy::evaluate(page.jobs, options_.policies, now, since, policy::Undecided::Include);
  // One action per job: the first abort/delete policy in load order that does not exempt the job
  // wins; every report policy that matches is recorded on its own, since reporting changes
  // nothing. An exempted match is recorded, held back, and leaves the job to the next policy.
  size_t i = 0;
  while (i < matches.size()) {
    size_t jobIndex = matches[i].job;
    std::optional<size_t> winner;  // index: decisions_ may grow (and move) below
    for (; i < matches.size() && matches[i].job == jobIndex; ++i) {
      const policy::Policy* p = matches[i].policy;
      if (!matches[i].undecided.empty()) {
        Decision d;
        d.policy = p;
        d.job = page.jobs[jobIndex];
        d.since = since[jobIndex];
        d.reason = matches[i].undecided;
        d.held = "undecided: " + matches[i].undecided;
        d.mode = options_.dryRun ? policy::Mode::DryRun : p->mode;
        decisions_.push_back(std::move(d));
        continue;
      }
      if (p->action != policy::Action::Report && winner) {
        decisions_[*winner].alsoMatched.push_back(p->name);
        continue;
      }
      Decision d;
      d.policy = p;
      d.job = page.jobs[jobIndex];
      d.since = since[jobIndex];
      d.reason = policy::explain(p->filter, d.job, now, d.since);
      d.mode = options_.dryRun ? policy::Mode::DryRun : p->mode;
      if (const auto* ex = p->exemptionFor(d.job, now)) {
        d.held = fmt::format("exempted by {}{}{}", ex->where.str(), ex->reason.empty() ? "" : ": ",
                             ex->reason);
      }
      decisions_.push_back(std::move(d));
      if (p->action != policy::Action::Report && decisions_.back().held.empty()) {
        winner = decisions_.size() - 1;
      }
    }
  }
  // Deadline precision: jobs that will cross an age threshold before the policy's next pass.
  for (const auto* p : options_.policies) {
    auto horizon = options_.nextPass.find(p->name);
    if (horizon == options_.nextPass.end() || !policy::hasAgeFilter(p->filter)) continue;
    for (size_t j = 0; j < page.jobs.size(); ++j) {
      // Not Classic jobs: a follow-up reads through the 2.0 job resource, which does not serve
      // them; the scheduled pass decides them.
      if (!p->governs(page.jobs[j]) || page.jobs[j].isClassic()) continue;
      if (policy::matches(p->filter, page.jobs[j], now, since[j])) continue;
      auto t = policy::nextMatch(p->filter, page.jobs[j], now, since[j], horizon->second);
      if (!t) continue;
      auto [it, fresh] = summary_.crossings.emplace(p->name, *t);
      if (!fresh && *t < it->second) it->second = *t;
      auto& ids = summary_.crossingJobs[p->name];
      ids.emplace_back(*t, page.jobs[j].id);
      if (ids.size() >= 2 * kCrossingJobsKept) {  // keep the earliest, in amortised linear time
        std::nth_element(ids.begin(), ids.begin() + kCrossingJobsKept, ids.end());
        ids.resize(kCrossingJobsKept);
      }
    }
  }
}

void Pass::applyGates() {
  model::Timestamp now = clock_.now();
  std::map<const policy::Policy*, int64_t> acting;
  for (auto& d : decisions_) {
    if (!d.held.empty()) continue;
    if (!changed_.empty()) {
      IdKey key{};
      std::memcpy(key.data(), d.job.id.data(), std::min(d.job.id.size(), key.size()));
      if (changed_.count(key) > 0) {
        d.held = std::string(kChangedWhileListed);
        continue;
      }
    }
    if (!d.policy->windows.open(now)) {
      d.held = "outside the policy's windows";
      continue;
    }
    if (d.policy->action != policy::Action::Report) ++acting[d.policy];
  }
  // max-percent counts against the jobs of the resource listed: in a follow-up (which reads a
  // few jobs, lists none) those of the last full listing, for the test and for the cap alike.
  const int64_t listed = options_.listedForLimits.value_or(summary_.jobsSeen);
  for (auto& [p, n] : acting) {
    std::string why;
    // The most this policy may act on this pass: the smaller of its limits.
    int64_t allowed = n;
    if (p->limits.maxActions) allowed = std::min(allowed, *p->limits.maxActions);
    if (p->limits.maxPercent && listed > 0) {
      auto byPercent =
          static_cast<int64_t>(*p->limits.maxPercent * static_cast<double>(listed) / 100.0);
      allowed = std::min(allowed, byPercent);
    }
    if (p->limits.maxActions && n > *p->limits.maxActions) {
      why = fmt::format("{} matches > max-actions {}", n, *p->limits.maxActions);
    } else if (p->limits.maxPercent && listed > 0 &&
               static_cast<double>(n) * 100.0 >
                   *p->limits.maxPercent * static_cast<double>(listed)) {
      why = fmt::format("{} matches of {} jobs listed{} > max-percent {}%", n, listed,
                        options_.listedForLimits ? " in the last full listing" : "",
                        *p->limits.maxPercent);
    }
    if (why.empty()) continue;
    bool cap = p->limits.onLimit == policy::Limits::OnLimit::Cap;
    std::string reason;
    if (cap) {
      // The oldest first: a capped policy works through a backlog in the order it built up, so a
      // job is never deferred forever by newer ones. Ties by id keep the choice stable.
      std::vector<Decision*> mine;
      for (auto& d : decisions_) {
        if (d.policy == p && d.held.empty()) mine.push_back(&d);
      }
      std::stable_sort(mine.begin(), mine.end(), [](const Decision* a, const Decision* b) {
        if (a->job.createdDate != b->job.createdDate) {
          return a->job.createdDate < b->job.createdDate;
        }
        return a->job.id < b->job.id;
      });
      reason = fmt::format("deferred by on-limit: cap ({}; acting on the oldest {})", why, allowed);
      for (size_t k = static_cast<size_t>(std::max<int64_t>(allowed, 0)); k < mine.size(); ++k) {
        mine[k]->held = reason;
      }
      summary_.limited.push_back(p->name + ": " + why + fmt::format(", capped to {}", allowed));
      log::warning("{} {}: policy {} acts on the oldest {} of {} this pass (on-limit: cap): {}",
                   options_.org, model::resourceName(options_.resource), p->name, allowed, n, why);
    } else {
      reason = "over its limit: " + why;
      for (auto& d : decisions_) {
        if (d.policy == p && d.held.empty()) d.held = reason;
      }
      summary_.limited.push_back(p->name + ": " + why);
      log::warning("{} {}: policy {} acts on nothing this pass: {}", options_.org,
                   model::resourceName(options_.resource), p->name, why);
    }
    // `jobs_seen`: the jobs the limits were counted against (a follow-up's own reads are in
    // `jobs_read`).
    audit::LimitRecord limit{
        options_.org, p->name,     policy::toString(p->action), n, listed, reason,
        std::nullopt, std::nullopt};
    if (options_.listedForLimits) limit.jobsRead = summary_.jobsSeen;
    if (cap) limit.capActing = std::max<int64_t>(allowed, 0);
    audit::write(audit_, options_.runId, limit);
  }
}

void Pass::recordDecisions() {
  // Jobs held back are written in bulk: a policy over its limit, or outside its windows, holds
  // back every job it matched, and one record each would make the trail as large as whatever
  // the server lists. One `held` record per policy and reason says how many, and which first.
  struct Held {
    const Decision* first;
    int64_t count = 0;
    std::vector<std::string_view> ids;
  };
  std::vector<Held> held;
  std::map<std::pair<const policy::Policy*, std::string_view>, size_t> heldIndex;
  for (auto& d : decisions_) {
    ++summary_.matched;
    if (!d.held.empty()) {
      auto [it, fresh] = heldIndex.try_emplace({d.policy, d.held}, held.size());
      if (fresh) held.push_back(Held{&d, 0, {}});
      Held& h = held[it->second];
      ++h.count;
      if (h.ids.size() < kHeldIdsShown) h.ids.push_back(d.job.id);
      continue;
    }
    std::string others;
    for (const auto& n : d.alsoMatched) others += (others.empty() ? "" : ",") + n;
    audit::write(audit_, options_.runId,
                 audit::DecisionRecord{subjectOf(options_.org, d), d.reason, others});
    if (listener_) listener_->onDecision(summary_, d);
  }
  for (const auto& h : held) {
    audit::write(audit_, options_.runId,
                 audit::HeldRecord{options_.org, h.first->policy->name,
                                   policy::toString(h.first->policy->action),
                                   policy::toString(h.first->mode), h.first->held, h.count, h.ids});
  }
}

PassSummary Pass::run() {
  auto started = std::chrono::steady_clock::now();
  int64_t callsBefore = jobs_.calls();
  const salesforce::CallCounts budgetBefore =
      options_.budget ? options_.budget->totals() : salesforce::CallCounts{};
  auto finish = [&]() -> PassSummary {
    summary_.apiCalls = jobs_.calls() - callsBefore;
    if (options_.budget) {
      const auto after = options_.budget->totals();
      for (size_t i = 0; i < after.size(); ++i) summary_.calls[i] = after[i] - budgetBefore[i];
    }
    summary_.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    return summary_;
  };

  std::string policyNames;
  for (const auto* p : options_.policies) {
    policyNames += (policyNames.empty() ? "" : ",") + p->name;
  }
  try {
    audit::write(audit_, options_.runId,
                 audit::RunStartRecord{options_.org, model::resourceName(options_.resource),
                                       policyNames, options_.dryRun, options_.followUp});
  } catch (const audit::AuditError& e) {
    summary_.auditError = e.what();
    log::error("{}: audit trail not writable, pass skipped, nothing sent: {}", options_.org,
               e.what());
    return finish();
  }

  listingStarted_ = clock_.now();
  try {
    // The 2.0 listing (jobType=V2Query|V2Ingest), and a second one of the Bulk API 1.0 jobs
    // (jobType=Classic) when a policy's job-types name Classic; both feed the same collect(), so
    // a job is still acted on at most once. A follow-up reads 2.0 jobs only (see collect()).
    bool wantV2 = options_.policies.empty();
    bool wantClassic = false;
    for (const auto* p : options_.policies) {
      wantV2 = wantV2 || p->v2Jobs;
      wantClassic = wantClassic || (p->classicJobs && !options_.followUp);
    }
    auto sink = [this](salesforce::Page&& page) { collect(std::move(page)); };
    salesforce::Result<salesforce::ListStats> listed = salesforce::ListStats{};
    if (wantV2 || options_.followUp) listed = jobs_.list(options_.resource, sink);
    if (listed.ok() && wantClassic) listed = jobs_.listClassic(options_.resource, sink);
    summary_.listingComplete = listed.ok();
    if (!listed.ok()) summary_.listingError = listed.error();
  } catch (const ListingRefused& refused) {
    summary_.listingComplete = false;
    summary_.listingError = refused.error;
  }
  listed_ = {};  // the ids are needed only while listing: give the memory back before acting
  if (summary_.listingComplete && options_.state && !summary_.stateError) {
    try {
      options_.state->prune(options_.org, options_.resource, listingStarted_);
    } catch (const state::StateError& e) {
      summary_.stateError = e.what();
    }
  }

  try {
    if (summary_.listingComplete && summary_.stateError) {
      log::error("{} {}: state store failed, no action this pass: {}", options_.org,
                 model::resourceName(options_.resource), *summary_.stateError);
      decisions_.clear();
    } else if (summary_.listingComplete) {
      applyGates();
      reserveCalls();
      recordDecisions();
      act();
    } else {
      log::error("{} {}: listing incomplete after {} pages, no action this pass: {}", options_.org,
                 model::resourceName(options_.resource), summary_.pages,
                 summary_.listingError->describe());
      decisions_.clear();
    }
  } catch (const audit::AuditError& e) {
    summary_.auditError = e.what();
  }
  if (summary_.auditError) {
    log::error("{}: audit trail failed, no further action this pass: {}", options_.org,
               *summary_.auditError);
  }
  if (options_.budget && reservedActions_ > 0) {
    // Reserved calls the actions did not use (stopped, held by the runner) go back.
    const auto sent =
        options_.budget->totals()[static_cast<size_t>(salesforce::CallPurpose::Action)] -
        budgetBefore[static_cast<size_t>(salesforce::CallPurpose::Action)];
    options_.budget->release(salesforce::CallPurpose::Action,
                             std::max<int64_t>(reservedActions_ - sent, 0));
    reservedActions_ = 0;
  }

  finish();
  try {
    audit::RunEndRecord end;
    end.org = options_.org;
    end.resource = model::resourceName(options_.resource);
    end.listingComplete = summary_.listingComplete;
    end.pages = summary_.pages;
    end.jobsSeen = summary_.jobsSeen;
    end.skipped = summary_.skipped;
    end.duplicates = summary_.duplicates;
    end.matched = summary_.matched;
    end.acted = summary_.acted;
    end.held = summary_.held;
    end.outcomes.assign(summary_.outcomes.begin(), summary_.outcomes.end());
    end.apiCalls = summary_.apiCalls;
    if (options_.budget) {
      end.calls.emplace();
      for (size_t i = 0; i < summary_.calls.size(); ++i) {
        end.calls->emplace_back(salesforce::purposeName(static_cast<salesforce::CallPurpose>(i)),
                                summary_.calls[i]);
      }
      end.budgetDeferred = summary_.budgetDeferred;
    }
    std::string listingError = summary_.listingError ? summary_.listingError->describe() : "";
    end.error = listingError;
    if (summary_.stateError) end.stateError = *summary_.stateError;
    end.stopped = summary_.stopped;
    end.durationMs = static_cast<int64_t>(summary_.duration.count());
    audit::write(audit_, options_.runId, end);
  } catch (const audit::AuditError& e) {
    if (!summary_.auditError) summary_.auditError = e.what();
  }
  return summary_;
}

void Pass::reserveCalls() {
  if (!options_.budget) return;
  std::vector<Decision*> sends;
  for (auto& d : decisions_) {
    if (d.held.empty() && d.mode == policy::Mode::Enforce &&
        d.policy->action != policy::Action::Report) {
      sends.push_back(&d);
    }
  }
  if (sends.empty()) return;
  const auto want = static_cast<int64_t>(sends.size());
  reservedActions_ = options_.budget->reserve(salesforce::CallPurpose::Action, want);
  if (reservedActions_ >= want) return;
  // The oldest first, as on-limit: cap does: a backlog is worked through in the order it built up.
  std::stable_sort(sends.begin(), sends.end(), [](const Decision* a, const Decision* b) {
    if (a->job.createdDate != b->job.createdDate) return a->job.createdDate < b->job.createdDate;
    return a->job.id < b->job.id;
  });
  const std::string reason = fmt::format(
      "deferred by the API budget ({}; {} of {} actions fit; the rest wait for a later "
      "pass)",
      options_.budget->spec().describe(), reservedActions_, want);
  for (size_t k = static_cast<size_t>(reservedActions_); k < sends.size(); ++k) {
    sends[k]->held = reason;
  }
  summary_.budgetDeferred = want - reservedActions_;
  options_.budget->actionsDeferred(summary_.budgetDeferred);
  log::warning("{} {}: the API budget affords {} of {} actions this pass; {} deferred",
               options_.org, model::resourceName(options_.resource), reservedActions_, want,
               summary_.budgetDeferred);
}

void Pass::act() {
  std::vector<Decision*> todo;
  for (auto& d : decisions_) {
    bool sends = d.mode == policy::Mode::Enforce && d.policy->action != policy::Action::Report;
    if (!d.held.empty()) {
      d.outcome = Outcome::Held;
      ++summary_.held;
      ++summary_.outcomes[Outcome::Held];
    } else if (sends) {
      todo.push_back(&d);
    } else {
      ++summary_.outcomes[Outcome::Recorded];
    }
  }
  if (todo.empty()) return;

  ActionRunnerOptions runner;
  runner.org = options_.org;
  runner.runId = options_.runId;
  runner.concurrency = options_.concurrency;
  runner.rate = options_.rate;
  runner.retry = options_.retry;
  // Called one at a time by the runner's workers: the summary's counters need no lock of their own.
  ActionRunner actions(std::move(runner), jobs_, audit_, clock_, stopRequested_,
                       [this](const Decision& d, int64_t acted) {
                         summary_.acted += acted;
                         ++summary_.outcomes[d.outcome];
                         if (listener_) listener_->onResult(summary_, d);
                       });
  ActionReport report = actions.run(todo);
  if (report.notStarted > 0) summary_.outcomes[Outcome::NotStarted] += report.notStarted;
  summary_.stopped = summary_.stopped || report.stopped;
  summary_.limitExceeded = summary_.limitExceeded || report.limitExceeded;
  summary_.unauthorized = summary_.unauthorized || report.unauthorized;
  if (report.auditError && !summary_.auditError) summary_.auditError = report.auditError;
}

}  // namespace bulkwarden::engine
