// The write-ahead action runner: sends the aborts and deletes of one pass with bounded
// concurrency, each request preceded by its durable `intent` record and followed by its `result`.
// A request Salesforce refused unprocessed (503, 429, the concurrent-limit 403) is sent again in
// the same pass after a backoff honouring Retry-After, each attempt with its own intent and result.
//
// One ActionRunner runs once (run()); its workers and flusher are threads it owns for the duration
// of run(). The callbacks it is given are called one at a time (under its lock), from any worker.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "audit/AuditSink.h"
#include "audit/Records.h"
#include "engine/RateLimiter.h"
#include "model/Clock.h"
#include "model/Job.h"
#include "policy/Policy.h"
#include "salesforce/Backoff.h"
#include "salesforce/BulkJobs.h"

namespace bulkwarden::engine {

// What happened to one matched job: the trail's outcomes (audit/Records.h), one name table.
using Outcome = audit::Outcome;
using audit::toString;

struct Decision {
  const policy::Policy* policy = nullptr;
  model::Job job;
  std::string reason;                    // explain()
  policy::Mode mode;                     // effective mode (global dry-run forces DryRun)
  std::vector<std::string> alsoMatched;  // other due policies that matched this job
  std::string held;                      // why it was held back (empty: not held)
  model::Timestamp since{};              // first seen in its current state
  Outcome outcome = Outcome::Recorded;
  std::optional<salesforce::ApiError> error;
  int http = 0;
  int attempts = 0;      // requests sent for this decision (retries included)
  std::string observed;  // the job's state read back with a GET ("gone": 404), or empty
};

// org, policy, action, mode and job: what a decision, intent and result record share. Views into
// `org` and `d`, which must outlive it.
audit::Subject subjectOf(const std::string& org, const Decision& d);

// Retrying an action Salesforce refused unprocessed.
struct RetryOptions {
  // Requests per decision at most, the first included. Six: with one request in seven refused at
  // random (a bad hour of 503s), an action ends its pass refused about once in 100,000.
  int maxAttempts = 6;
  salesforce::BackoffPolicy backoff{4, model::Duration(1000), model::Duration(16000)};
  // A Retry-After longer than this ends the retries: the next pass asks again.
  std::chrono::milliseconds maxRetryAfter{60'000};
};

struct ActionRunnerOptions {
  std::string org;
  std::string runId;
  int concurrency = 8;
  RateLimiter* rate = nullptr;  // the org's action rate cap; none: uncapped
  RetryOptions retry;
};

// What run() reports back to the pass.
struct ActionReport {
  int64_t notStarted = 0;                 // decisions never sent (stop or halt)
  bool stopped = false;                   // a stop request left some decision unsent or unretried
  bool limitExceeded = false;             // the daily allowance: REQUEST_LIMIT_EXCEEDED
  bool unauthorized = false;              // a 401 the client could not cure: the pass halted
  std::optional<std::string> auditError;  // the audit trail failed: acting stopped
};

class ActionRunner {
 public:
  // `onResult` is called after each decision's final result (not for those never sent), one call
  // at a time; `acted` counts requests (attempts) sent for it.
  using ResultSink = std::function<void(const Decision& d, int64_t acted)>;

  ActionRunner(ActionRunnerOptions options, salesforce::BulkJobs& jobs, audit::AuditSink& audit,
               const model::Clock& clock, const model::StopSignal& stopRequested,
               ResultSink onResult);

  // Acts on every decision of `todo` (each an abort or delete to send); sets their outcomes.
  ActionReport run(const std::vector<Decision*>& todo);

 private:
  // Sends one decision, whose first intent (`intentSeq`) is durable, retrying refusals; writes a
  // result for every attempt.
  void actOne(Decision& d, uint64_t intentSeq);
  // One request; sets d.outcome, d.error, d.http, d.observed for its reply.
  void attempt(Decision& d);
  // Reads the job back after an answer that proves nothing (no reply, a 5xx, INVALIDJOBSTATE).
  void settle(Decision& d, bool afterInvalidState);
  void writeResult(Decision& d, uint64_t intentSeq, int attemptNo,
                   std::optional<std::chrono::milliseconds> retryIn);
  uint64_t writeIntent(const Decision& d, int attemptNo);  // durable; 0 on audit failure
  // The backoff: a sleep on the clock that a stop request ends; false when stopped.
  bool wait(std::chrono::milliseconds delay);
  void haltOn(const audit::AuditError& e);

  ActionRunnerOptions options_;
  salesforce::BulkJobs& jobs_;
  audit::AuditSink& audit_;
  const model::Clock& clock_;
  const model::StopSignal& stopRequested_;
  ResultSink onResult_;
  std::mutex mutex_;  // guards report_, rng_, permissionLogged_ and onResult_ calls
  ActionReport report_;
  std::mt19937_64 rng_{std::random_device{}()};
  bool permissionLogged_ = false;
  std::atomic<bool> halt_{false};  // stop acting: audit failure, auth or daily-limit error
};

}  // namespace bulkwarden::engine
