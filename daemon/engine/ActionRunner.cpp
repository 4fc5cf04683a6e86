#include "engine/ActionRunner.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <thread>

#include "log/Log.h"
#include "model/Failpoint.h"

namespace bulkwarden::engine {

using salesforce::ApiError;

namespace {

constexpr std::string_view kPermissionHint =
    "to abort or delete a job, the integration user must have created it or hold the \"Manage "
    "Data Integrations\" permission";

}  // namespace

audit::Subject subjectOf(const std::string& org, const Decision& d) {
  audit::Subject s;
  s.org = org;
  s.policy = d.policy->name;
  s.action = policy::toString(d.policy->action);
  s.mode = policy::toString(d.mode);
  s.job = &d.job;
  return s;
}

ActionRunner::ActionRunner(ActionRunnerOptions options, salesforce::BulkJobs& jobs,
                           audit::AuditSink& audit, const model::Clock& clock,
                           const model::StopSignal& stopRequested, ResultSink onResult)
    : options_(std::move(options)),
      jobs_(jobs),
      audit_(audit),
      clock_(clock),
      stopRequested_(stopRequested),
      onResult_(std::move(onResult)) {}

void ActionRunner::haltOn(const audit::AuditError& e) {
  std::lock_guard lock(mutex_);
  halt_ = true;
  if (!report_.auditError) report_.auditError = e.what();
}

ActionReport ActionRunner::run(const std::vector<Decision*>& todo) {
  if (todo.empty()) return report_;
  size_t threads =
      std::min<size_t>(static_cast<size_t>(std::max(1, options_.concurrency)), todo.size());
  // Intents are written a round ahead: a worker taking action i writes the intents up to
  // i + `threads`, so that each request's intent went to the file a round earlier, and a flusher
  // thread syncs whatever has been written, while the requests are in flight. Each request still
  // goes out only once its own intent is durable (syncThrough, which waits only if the flusher
  // has not got there yet). With an action-rate cap, an intent is written when its action's turn
  // comes, so that its time is the request's time.
  const size_t ahead = options_.rate ? 0 : threads;
  std::vector<uint64_t> intentSeq(todo.size(), 0);
  std::mutex aheadMutex;
  std::condition_variable aheadWritten;
  size_t written = 0;  // intents written so far (todo order)
  auto lastWritten = [&] { return written == 0 ? uint64_t{0} : intentSeq[written - 1]; };
  bool workersDone = false;
  std::thread flusher([&] {
    uint64_t flushed = 0;
    std::unique_lock lock(aheadMutex);
    while (true) {
      aheadWritten.wait(lock, [&] { return workersDone || lastWritten() > flushed; });
      if (lastWritten() <= flushed) return;  // workers done, nothing left to sync
      uint64_t target = lastWritten();
      lock.unlock();
      try {
        audit_.syncThrough(target);
      } catch (const audit::AuditError& e) {
        haltOn(e);
        return;  // the log fails closed: every syncThrough of a worker now throws too
      }
      lock.lock();
      flushed = target;
    }
  });
  // The seq of todo[i]'s intent, durable; 0 when it could not be written or synced.
  auto durableIntent = [&](size_t i) -> uint64_t {
    uint64_t seq = 0;
    try {
      bool wrote = false;
      {
        std::lock_guard lock(aheadMutex);
        for (size_t end = std::min(todo.size(), i + 1 + ahead); written < end; ++written) {
          intentSeq[written] =
              audit::write(audit_, options_.runId,
                           audit::IntentRecord{subjectOf(options_.org, *todo[written]), {}},
                           audit::AuditSink::Sync::Buffered);
          wrote = true;
        }
        seq = intentSeq[i];
      }
      if (wrote) aheadWritten.notify_one();
      audit_.syncThrough(seq);
    } catch (const audit::AuditError& e) {
      haltOn(e);
      return 0;
    }
    model::failpoint("after_intent_fsync");
    return seq;
  };

  std::atomic<size_t> next{0};
  auto worker = [&] {
    while (!stopRequested_.requested() && !halt_.load()) {
      size_t i = next.fetch_add(1);
      if (i >= todo.size()) return;
      if (options_.rate && !options_.rate->acquire(stopRequested_)) return;
      uint64_t seq = durableIntent(i);
      // A stop or halt that came meanwhile: the intent is on disk, the request never goes out.
      if (seq == 0 || stopRequested_.requested() || halt_.load()) return;
      actOne(*todo[i], seq);
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();  // this thread works too
  for (auto& t : pool) t.join();
  {
    std::lock_guard lock(aheadMutex);
    workersDone = true;
  }
  aheadWritten.notify_one();
  flusher.join();

  // Whatever no worker sent (stop requested, or halted) was never sent. An intent written ahead
  // for it gets its result, so that every intent has one.
  for (size_t i = 0; i < todo.size(); ++i) {
    Decision& d = *todo[i];
    if (d.outcome != Outcome::Recorded) continue;
    d.outcome = Outcome::NotStarted;
    ++report_.notStarted;
    if (intentSeq[i] == 0) continue;
    audit::ResultRecord r;
    r.subject = subjectOf(options_.org, d);
    r.intent = intentSeq[i];
    r.outcome = d.outcome;
    try {
      audit::write(audit_, options_.runId, r);
    } catch (const audit::AuditError& e) {
      if (!report_.auditError) report_.auditError = e.what();
    }
  }
  if (stopRequested_.requested() && report_.notStarted > 0) report_.stopped = true;
  return report_;
}

bool ActionRunner::wait(std::chrono::milliseconds delay) {
  // The clock's wait, which the stop request ends at once (SIGTERM during a backoff).
  return !clock_.sleepFor(delay, stopRequested_);
}

uint64_t ActionRunner::writeIntent(const Decision& d, int attemptNo) {
  try {
    uint64_t seq = audit::write(audit_, options_.runId,
                                audit::IntentRecord{subjectOf(options_.org, d), attemptNo},
                                audit::AuditSink::Sync::Durable);
    model::failpoint("after_intent_fsync");
    return seq;
  } catch (const audit::AuditError& e) {
    haltOn(e);
    return 0;
  }
}

void ActionRunner::actOne(Decision& d, uint64_t intentSeq) {
  const int maxAttempts = std::max(1, options_.retry.maxAttempts);
  for (int n = 1;; ++n) {
    attempt(d);
    // Sent again only when this attempt provably changed nothing: refused unprocessed, or read
    // back still active after an answer that proved nothing.
    const bool retryable =
        d.outcome == Outcome::Refused ||
        (d.outcome == Outcome::Failed && !d.observed.empty() && d.observed != "gone" && d.error &&
         (d.error->kind == ApiError::Kind::Transient ||
          d.error->kind == ApiError::Kind::Malformed));
    std::optional<std::chrono::milliseconds> retryIn;
    if (retryable && n < maxAttempts && !halt_.load() && !stopRequested_.requested()) {
      model::Duration delay;
      {
        std::lock_guard lock(mutex_);
        delay = salesforce::fullJitter(options_.retry.backoff, n - 1, rng_);
      }
      std::optional<model::Duration> after;
      if (d.error) after = salesforce::parseRetryAfter(d.error->retryAfter, clock_.now());
      if (after && *after > options_.retry.maxRetryAfter) {
        log::warning(
            "{}: {} {}: Salesforce asks to wait {} s (Retry-After); left for the next pass",
            options_.org, policy::toString(d.policy->action), d.job.id,
            std::chrono::duration_cast<std::chrono::seconds>(*after).count());
      } else {
        retryIn = std::max(delay, after.value_or(model::Duration(0)));
      }
    }
    writeResult(d, intentSeq, n, retryIn);
    if (!retryIn || halt_.load()) break;
    log::info("{}: {} {}: {} (attempt {} of {}); sending it again in {} ms", options_.org,
              policy::toString(d.policy->action), d.job.id,
              d.error ? d.error->describe() : std::string(toString(d.outcome)), n, maxAttempts,
              retryIn->count());
    if (!wait(*retryIn) || (options_.rate && !options_.rate->acquire(stopRequested_))) {
      std::lock_guard lock(mutex_);
      report_.stopped = true;  // the job keeps its `refused` outcome; the next pass sees it again
      break;
    }
    if (halt_.load()) break;
    intentSeq = writeIntent(d, n + 1);
    if (intentSeq == 0) break;
  }
  std::lock_guard lock(mutex_);
  if (onResult_) onResult_(d, d.attempts);
}

void ActionRunner::attempt(Decision& d) {
  const bool isAbort = d.policy->action == policy::Action::Abort;
  d.error.reset();
  d.http = 0;
  d.observed.clear();
  ++d.attempts;
  salesforce::Result<salesforce::ActionReply> reply = ApiError{};
  if (!d.job.isClassic()) {
    reply = isAbort ? jobs_.abort(d.job.kind, d.job.id) : jobs_.remove(d.job.kind, d.job.id);
  } else if (isAbort) {
    reply = jobs_.abortClassic(d.job.id);  // POST /services/async/{ver}/job/{id}
  } else {
    // The loader refuses a delete policy over Classic jobs; nothing is sent if one gets here.
    reply = ApiError{ApiError::Kind::Permanent,
                     0,
                     {},
                     "a Bulk API 1.0 (Classic) job cannot be deleted through the API",
                     false};
  }
  model::failpoint("after_response");
  if (reply.ok()) {
    d.outcome = Outcome::Applied;
    d.http = reply.value().http;
    return;
  }
  const ApiError& e = reply.error();
  d.error = e;
  d.http = e.http;
  if (salesforce::isPermissionRefusal(e)) {
    // Not the org's health: other jobs (its own) may still be acted on. Said once per pass.
    d.outcome = Outcome::NotPermitted;
    std::lock_guard lock(mutex_);
    if (!permissionLogged_) {
      permissionLogged_ = true;
      log::warning(
          "{}: Salesforce refused to {} job {} ({}): {}; further refusals this pass are "
          "in the audit trail only",
          options_.org, policy::toString(d.policy->action), d.job.id, e.describe(),
          kPermissionHint);
    }
    return;
  }
  if (salesforce::refusedUnprocessed(e)) {
    d.outcome = Outcome::Refused;
    return;
  }
  switch (e.kind) {
    case ApiError::Kind::InvalidState:
      // Not proof that the job finished: its other messages are undocumented. Read it.
      settle(d, true);
      break;
    case ApiError::Kind::NotFound:
      d.outcome = Outcome::NotFound;
      break;
    case ApiError::Kind::Transient:
    case ApiError::Kind::Malformed:
      if (e.kind == ApiError::Kind::Transient && !e.sent) {
        d.outcome = Outcome::Refused;  // it never left: nothing to learn, safe to send again
      } else {
        // No usable answer (no reply, a 5xx, a reply of the wrong shape): Salesforce may have
        // applied it. Read the job instead of guessing.
        d.outcome = Outcome::Unknown;
        settle(d, false);
      }
      break;
    case ApiError::Kind::Unauthorized: {
      halt_ = true;  // every further call would fail the same way
      d.outcome = Outcome::Failed;
      std::lock_guard lock(mutex_);
      report_.unauthorized = true;
      break;
    }
    case ApiError::Kind::LimitExceeded: {
      halt_ = true;  // the daily allowance: every further call would fail the same way
      d.outcome = Outcome::Failed;
      std::lock_guard lock(mutex_);
      report_.limitExceeded = true;
      break;
    }
    case ApiError::Kind::Permanent:
      d.outcome = Outcome::Failed;
      break;
  }
}

// One GET of the job. After INVALIDJOBSTATE: the state Salesforce reports decides (still running
// is said so). After an answer that proved nothing: whether the action took effect.
void ActionRunner::settle(Decision& d, bool afterInvalidState) {
  const bool isAbort = d.policy->action == policy::Action::Abort;
  auto seen = d.job.isClassic() ? jobs_.getClassic(d.job.id) : jobs_.get(d.job.kind, d.job.id);
  if (seen.ok()) {
    model::JobState state = seen.value().state;
    d.observed = std::string(model::toString(state));
    if (!model::isTerminal(state)) {
      d.outcome = afterInvalidState ? Outcome::StillActive : Outcome::Failed;  // not applied
    } else if (!isAbort) {
      d.outcome = Outcome::Failed;  // the job is still there: the delete did not happen
    } else if (state == model::JobState::Aborted) {
      // Aborted by this request, or, after INVALIDJOBSTATE, by an earlier attempt of this pass
      // whose answer was lost; on a first attempt, by someone else.
      d.outcome =
          !afterInvalidState || d.attempts > 1 ? Outcome::Applied : Outcome::AlreadyTerminal;
    } else {
      d.outcome = Outcome::AlreadyTerminal;
    }
  } else if (seen.error().kind == ApiError::Kind::NotFound) {
    d.observed = "gone";
    d.outcome = isAbort || afterInvalidState ? Outcome::NotFound : Outcome::Applied;
  } else {
    if (afterInvalidState) {
      // Refused for the job's state, and the state could not be read: whether the job finished
      // (or an earlier attempt whose answer was lost aborted it) is not known.
      d.outcome = Outcome::Unknown;
    }
    log::warning(
        "{}: {} {}: {}, and reading the job failed: {}", options_.org,
        policy::toString(d.policy->action), d.job.id,
        afterInvalidState ? "refused for the job's state" : "may or may not have been applied",
        seen.error().describe());
  }
}

void ActionRunner::writeResult(Decision& d, uint64_t intentSeq, int attemptNo,
                               std::optional<std::chrono::milliseconds> retryIn) {
  audit::ResultRecord r;
  r.subject = subjectOf(options_.org, d);
  r.intent = intentSeq;
  r.outcome = d.outcome;
  if (attemptNo > 1 || retryIn) r.attempt = attemptNo;
  if (retryIn) r.retryInMs = static_cast<int64_t>(retryIn->count());
  r.http = d.http;
  r.observedState = d.observed;
  if (d.outcome == Outcome::NotPermitted) r.hint = kPermissionHint;
  if (d.error) {
    r.error =
        audit::ResultError{salesforce::kindName(d.error->kind), d.error->code, d.error->message};
  }
  try {
    // Written now, synced by the next fdatasync: the next intent's (whichever worker writes it;
    // one fdatasync covers every record written before it) or run-end's. Write-ahead needs only
    // the intent durable before its request; waiting for this sync too would put a second
    // fdatasync on every worker's path between two requests.
    audit::write(audit_, options_.runId, r);
  } catch (const audit::AuditError& e) {
    haltOn(e);
    log::error("{}: {} {} sent ({}), but its result could not be recorded", options_.org,
               policy::toString(d.policy->action), d.job.id, toString(d.outcome));
  }
}

}  // namespace bulkwarden::engine
