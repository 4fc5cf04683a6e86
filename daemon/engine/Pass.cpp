#include "engine/Pass.h"

#include <fmt/format.h>

#include <mutex>
#include <random>
#include <thread>

#include "log/Log.h"
#include "model/Failpoint.h"
#include "policy/Evaluator.h"

namespace bulkwarden::engine {

using salesforce::ApiError;

std::string_view toString(Outcome outcome) {
  switch (outcome) {
    case Outcome::Recorded:
      return "recorded";
    case Outcome::Applied:
      return "applied";
    case Outcome::AlreadyTerminal:
      return "already-terminal";
    case Outcome::NotFound:
      return "not-found";
    case Outcome::Failed:
      return "failed";
    case Outcome::Unknown:
      return "unknown";
    case Outcome::NotStarted:
      return "not-started";
  }
  return "?";
}

bool PassSummary::ok() const {
  auto failed = [&](Outcome o) {
    auto it = outcomes.find(o);
    return it != outcomes.end() && it->second > 0;
  };
  return listingComplete && !auditError && !failed(Outcome::Failed) && !failed(Outcome::Unknown);
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

audit::Fields jobFields(const model::Job& job) {
  audit::Fields f;
  f.add("id", job.id)
      .add("kind", model::resourcePath(job.kind))
      .add("state", model::toString(job.state))
      .add("object", job.object)
      .add("operation", job.operation)
      .add("createdById", job.createdById)
      .add("createdDate", model::formatSalesforce(job.createdDate))
      .add("systemModstamp", model::formatSalesforce(job.systemModstamp));
  return f;
}

Pass::Pass(PassOptions options, salesforce::BulkJobs& jobs, audit::AuditSink& audit,
           const Clock& clock, const std::atomic<bool>& stopRequested, PassListener* listener)
    : options_(std::move(options)),
      jobs_(jobs),
      audit_(audit),
      clock_(clock),
      stopRequested_(stopRequested),
      listener_(listener) {
  summary_.run = options_.runId;
  summary_.org = options_.org;
  summary_.resource = options_.resource;
}

audit::Fields Pass::decisionFields(const Decision& d) const {
  audit::Fields f;
  f.add("org", options_.org)
      .add("policy", d.policy->name)
      .add("action", policy::toString(d.policy->action))
      .add("mode", policy::toString(d.mode))
      .add("job", jobFields(d.job));
  return f;
}

void Pass::collect(salesforce::Page&& page) {
  ++summary_.pages;
  summary_.jobsSeen += static_cast<int64_t>(page.jobs.size());
  summary_.skipped += static_cast<int64_t>(page.skipped.size());
  for (const auto& s : page.skipped) {
    log::warning("{} {}: skipped list record {}: {}", options_.org,
                 model::resourceName(options_.resource), s.id.empty() ? "(no id)" : s.id, s.reason);
    if (listener_) listener_->onSkipped(summary_, s);
  }
  model::Timestamp now = clock_.now();
  auto matches = policy::evaluate(page.jobs, options_.policies, now);
  // One action per job: the first abort/delete policy in load order wins; every report policy
  // that matches is recorded on its own, since reporting changes nothing.
  size_t i = 0;
  while (i < matches.size()) {
    size_t jobIndex = matches[i].job;
    std::optional<size_t> winner;  // index: decisions_ may grow (and move) below
    for (; i < matches.size() && matches[i].job == jobIndex; ++i) {
      const policy::Policy* p = matches[i].policy;
      if (p->action != policy::Action::Report && winner) {
        decisions_[*winner].alsoMatched.push_back(p->name);
        continue;
      }
      Decision d;
      d.policy = p;
      d.job = page.jobs[jobIndex];
      d.reason = policy::explain(p->filter, d.job, now);
      d.mode = options_.dryRun ? policy::Mode::DryRun : p->mode;
      decisions_.push_back(std::move(d));
      if (p->action != policy::Action::Report) winner = decisions_.size() - 1;
    }
  }
}

PassSummary Pass::run() {
  auto started = std::chrono::steady_clock::now();
  int64_t callsBefore = jobs_.calls();
  auto finish = [&]() -> PassSummary {
    summary_.apiCalls = jobs_.calls() - callsBefore;
    summary_.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    return summary_;
  };

  std::string policyNames;
  for (const auto* p : options_.policies) {
    policyNames += (policyNames.empty() ? "" : ",") + p->name;
  }
  try {
    audit_.append("run-start", options_.runId,
                  audit::Fields()
                      .add("org", options_.org)
                      .add("resource", model::resourceName(options_.resource))
                      .add("policies", policyNames)
                      .add("dry_run", options_.dryRun),
                  audit::AuditSink::Sync::Buffered);
  } catch (const audit::AuditError& e) {
    summary_.auditError = e.what();
    log::error("{}: audit trail not writable, pass skipped, nothing sent: {}", options_.org,
               e.what());
    return finish();
  }

  auto listed =
      jobs_.list(options_.resource, [this](salesforce::Page&& page) { collect(std::move(page)); });
  summary_.listingComplete = listed.ok();
  if (!listed.ok()) summary_.listingError = listed.error();

  try {
    if (summary_.listingComplete) {
      for (auto& d : decisions_) {
        ++summary_.matched;
        audit::Fields f = decisionFields(d);
        f.add("reason", d.reason);
        if (!d.alsoMatched.empty()) {
          std::string others;
          for (const auto& n : d.alsoMatched) others += (others.empty() ? "" : ",") + n;
          f.add("also_matched", others)
              .add("won_because", "first abort/delete policy in load order");
        }
        audit_.append("decision", options_.runId, f, audit::AuditSink::Sync::Buffered);
        if (listener_) listener_->onDecision(summary_, d);
      }
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

  finish();
  try {
    audit::Fields end;
    end.add("org", options_.org)
        .add("resource", model::resourceName(options_.resource))
        .add("listing_complete", summary_.listingComplete)
        .add("pages", summary_.pages)
        .add("jobs_seen", summary_.jobsSeen)
        .add("skipped", summary_.skipped)
        .add("matched", summary_.matched)
        .add("acted", summary_.acted);
    audit::Fields outcomes;
    for (auto& [o, n] : summary_.outcomes) outcomes.add(toString(o), n);
    end.add("outcomes", outcomes).add("api_calls", summary_.apiCalls);
    if (summary_.listingError) end.add("error", summary_.listingError->describe());
    if (summary_.stopped) end.add("stopped", true);
    end.add("duration_ms", static_cast<int64_t>(summary_.duration.count()));
    audit_.append("run-end", options_.runId, end, audit::AuditSink::Sync::Durable);
  } catch (const audit::AuditError& e) {
    if (!summary_.auditError) summary_.auditError = e.what();
  }
  return summary_;
}

void Pass::act() {
  std::vector<Decision*> todo;
  for (auto& d : decisions_) {
    bool sends = d.mode == policy::Mode::Enforce && d.policy->action != policy::Action::Report;
    if (sends) {
      todo.push_back(&d);
    } else {
      ++summary_.outcomes[Outcome::Recorded];
    }
  }
  if (todo.empty()) return;

  std::atomic<size_t> next{0};
  auto worker = [&] {
    while (!stopRequested_.load() && !halt_.load()) {
      size_t i = next.fetch_add(1);
      if (i >= todo.size()) return;
      actOne(*todo[i]);
    }
  };
  size_t threads =
      std::min<size_t>(static_cast<size_t>(std::max(1, options_.concurrency)), todo.size());
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();  // this thread works too
  for (auto& t : pool) t.join();

  // Whatever no worker took (stop requested, or halted) was never sent.
  for (auto* d : todo) {
    if (d->outcome == Outcome::Recorded) {
      d->outcome = Outcome::NotStarted;
      ++summary_.outcomes[Outcome::NotStarted];
    }
  }
  if (stopRequested_.load() && summary_.outcomes[Outcome::NotStarted] > 0) summary_.stopped = true;
}

void Pass::actOne(Decision& d) {
  const bool isAbort = d.policy->action == policy::Action::Abort;
  uint64_t intentSeq;
  try {
    intentSeq =
        audit_.append("intent", options_.runId, decisionFields(d), audit::AuditSink::Sync::Durable);
  } catch (const audit::AuditError& e) {
    std::lock_guard lock(mutex_);
    halt_ = true;
    if (!summary_.auditError) summary_.auditError = e.what();
    return;  // outcome stays Recorded -> NotStarted: nothing was sent
  }

  auto reply = isAbort ? jobs_.abort(d.job.kind, d.job.id) : jobs_.remove(d.job.kind, d.job.id);
  model::failpoint("after_response");
  if (reply.ok()) {
    d.outcome = Outcome::Applied;
    d.http = reply.value().http;
  } else {
    const ApiError& e = reply.error();
    d.error = e;
    d.http = e.http;
    switch (e.kind) {
      case ApiError::Kind::InvalidState:
        // An abort refused because the job finished meanwhile is what the policy wanted.
        d.outcome = isAbort ? Outcome::AlreadyTerminal : Outcome::Failed;
        break;
      case ApiError::Kind::NotFound:
        d.outcome = Outcome::NotFound;
        break;
      case ApiError::Kind::Transient:
      case ApiError::Kind::Malformed:
        // No usable answer: if the request went out, Salesforce may have applied it.
        d.outcome = (e.sent && e.http == 0) || e.kind == ApiError::Kind::Malformed
                        ? Outcome::Unknown
                        : Outcome::Failed;
        break;
      case ApiError::Kind::Unauthorized:
      case ApiError::Kind::LimitExceeded:
        halt_ = true;  // every further call would fail the same way
        d.outcome = Outcome::Failed;
        break;
      case ApiError::Kind::Permanent:
        d.outcome = Outcome::Failed;
        break;
    }
  }

  audit::Fields f = decisionFields(d);
  f.add("intent", static_cast<int64_t>(intentSeq)).add("outcome", toString(d.outcome));
  if (d.http != 0) f.add("http", d.http);
  if (d.error) {
    audit::Fields err;
    err.add("kind", salesforce::kindName(d.error->kind));
    if (!d.error->code.empty()) err.add("code", d.error->code);
    err.add("message", d.error->message);
    f.add("error", err);
  }
  bool resultWritten = true;
  try {
    audit_.append("result", options_.runId, f, audit::AuditSink::Sync::Durable);
  } catch (const audit::AuditError& e) {
    resultWritten = false;
    halt_ = true;
    std::lock_guard lock(mutex_);
    if (!summary_.auditError) summary_.auditError = e.what();
  }
  std::lock_guard lock(mutex_);
  ++summary_.acted;
  ++summary_.outcomes[d.outcome];
  if (!resultWritten) {
    log::error("{}: {} {} sent ({}), but its result could not be recorded", options_.org,
               policy::toString(d.policy->action), d.job.id, toString(d.outcome));
  }
  if (listener_) listener_->onResult(summary_, d);
}

}  // namespace bulkwarden::engine
