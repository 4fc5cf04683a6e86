// One pass for one org and one resource: list every page (streamed), evaluate the due policies
// with the pure evaluator, apply the gates, then act with bounded concurrency: for each action an
// intent (durable) before the request, a result (durable) after it. A pass whose listing did not
// complete acts on nothing; nor does one whose listing named a job twice with different fields,
// or listed more jobs than its cap (PassOptions::maxJobsPerListing).
//
// A Pass object runs once; it is not shared between threads. Its actions run on the worker threads
// of an ActionRunner (engine/ActionRunner.h) for the duration of act().
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "audit/AuditSink.h"
#include "engine/ActionRunner.h"
#include "engine/RateLimiter.h"
#include "model/Clock.h"
#include "model/Job.h"
#include "model/StopSignal.h"
#include "policy/Policy.h"
#include "salesforce/BulkJobs.h"
#include "salesforce/CallGate.h"
#include "state/StateStore.h"

namespace bulkwarden::engine {

class ApiBudget;

struct PassSummary {
  std::string run;
  std::string org;
  model::ResourceKind resource = model::ResourceKind::Query;
  bool listingComplete = false;
  std::optional<salesforce::ApiError> listingError;
  std::optional<std::string> auditError;  // the audit trail failed: the pass stopped acting
  std::optional<std::string> stateError;  // the state store failed: the pass acted on nothing
  bool stopped = false;                   // a stop was requested before every action ran
  bool limitExceeded = false;  // the daily allowance (REQUEST_LIMIT_EXCEEDED) during actions
  // An action got 401 even after the token was renewed (or it could not be renewed): the pass
  // stopped acting. Not a limit: the org is not paused for it.
  bool unauthorized = false;
  std::optional<std::string> notRun;  // the pass did not run: why (org paused, breaker, API budget)
  int pages = 0;
  int64_t jobsSeen = 0;    // distinct jobs listed: a job listed twice counts once
  int64_t duplicates = 0;  // list records naming a job already listed (same fields), dropped
  // Jobs listed twice with different fields (they changed while the listing ran): held back,
  // nothing done to them this pass; the next pass lists them afresh.
  int64_t changedWhileListed = 0;
  int64_t skipped = 0;
  int64_t matched = 0;               // decisions
  int64_t acted = 0;                 // requests sent (abort/delete)
  int64_t held = 0;                  // decisions held back (exempt, limit, window)
  std::vector<std::string> limited;  // per policy over a limit: why it acted on nothing
  // Deadline precision: per policy, the earliest time before PassOptions::nextPass at which a job
  // of this listing crosses one of its age thresholds.
  std::map<std::string, model::Timestamp> crossings;
  // The same, per policy, with the crossing jobs: (time, job id), the earliest
  // kCrossingJobsKept of them (the scheduled pass handles the others). Follow-ups read these jobs.
  std::map<std::string, std::vector<std::pair<model::Timestamp, std::string>>> crossingJobs;
  std::map<Outcome, int64_t> outcomes;
  int64_t apiCalls = 0;
  // The org's calls admitted by its API budget during the pass, by purpose (PassOptions::budget;
  // all zero without one). `run-end` records them as `calls`.
  salesforce::CallCounts calls{};
  int64_t budgetDeferred = 0;  // actions held back: the API budget could not afford them
  std::chrono::milliseconds duration{0};

  bool ok() const;  // listing complete, no audit error, no failed action
};

// Called as things happen (from worker threads for results): the demo prints, the daemon logs.
class PassListener {
 public:
  virtual ~PassListener() = default;
  virtual void onDecision(const PassSummary&, const Decision&) {}
  virtual void onResult(const PassSummary&, const Decision&) {}
  virtual void onSkipped(const PassSummary&, const salesforce::SkippedRecord&) {}
  // After the pass, every decision it made with its final outcome, held ones included (called by
  // the Scheduler, on the org's thread, just before onPassEnd).
  virtual void onPassDecisions(const PassSummary&, const std::vector<Decision>&) {}
  // After the pass, with its final summary (called by the Scheduler, on the org's thread).
  virtual void onPassEnd(const PassSummary&) {}
};

// The default cap on distinct jobs in one listing: twice the largest org measured in
// docs/performance.md (100k jobs), 200 pages of 1,000.
inline constexpr int64_t kDefaultMaxJobsPerListing = 200'000;

// Held decisions are written to the audit trail as one `held` record per policy and reason,
// naming at most this many job ids (the first ones listed) and the count of the others.
inline constexpr size_t kHeldIdsShown = 20;

// Per policy and pass, the crossing jobs reported for follow-ups (PassSummary::crossingJobs).
inline constexpr size_t kCrossingJobsKept = 10'000;

struct PassOptions {
  std::string org;
  model::ResourceKind resource = model::ResourceKind::Query;
  std::vector<const policy::Policy*> policies;  // due now, applying to this org and resource
  bool dryRun = false;                          // global dry-run: forces every policy to dry-run
  int concurrency = 8;
  // A listing with more distinct jobs than this is stopped and the pass acts on nothing: what a
  // pass holds in memory and writes to the audit trail is bounded by it, whatever the server
  // lists (config `max-jobs-per-listing`).
  int64_t maxJobsPerListing = kDefaultMaxJobsPerListing;
  std::string runId;
  // First-seen-in-state times; none: every job just seen. Used only when one of `policies` has an
  // in-state-for filter.
  state::StateStore* state = nullptr;
  RateLimiter* rate = nullptr;  // the org's action rate cap; none: uncapped
  // When each policy's next scheduled pass comes (by name): crossings of its age thresholds
  // before it are reported in the summary. Policies not in the map: none reported.
  std::map<std::string, model::Timestamp> nextPass;
  // Actions Salesforce refused unprocessed (503, 429, the concurrent-limit 403) are sent again.
  RetryOptions retry;
  // A follow-up (engine/FollowUp.h): `run-start` says so, and `max-percent` is judged against
  // this many jobs (the last full listing) rather than the few jobs read.
  bool followUp = false;
  std::optional<int64_t> listedForLimits;
  // The org's API budget (engine/ApiBudget.h): the calls of the actions to send are reserved
  // before any intent is written; those that do not fit are held back ("deferred") and left to
  // a later pass. None: no budget.
  ApiBudget* budget = nullptr;
};

class Pass {
 public:
  Pass(PassOptions options, salesforce::BulkJobs& jobs, audit::AuditSink& audit,
       const model::Clock& clock, const model::StopSignal& stopRequested,
       PassListener* listener = nullptr);

  PassSummary run();
  // The decisions made (after run()): every matched job with its outcome.
  const std::vector<Decision>& decisions() const { return decisions_; }

 private:
  void collect(salesforce::Page&& page);
  // Drops from `page` the jobs listed earlier in this pass; throws ListingRefused when one of
  // them comes back with different fields, or the listing grows past the cap.
  void dedupe(salesforce::Page& page);
  void applyGates();
  // Writes a `decision` record for every decision not held back, and one `held` record for each
  // policy and reason that held jobs back.
  void recordDecisions();
  void act();
  // Reserves the calls of the actions to send in the API budget; holds back those that do not
  // fit (no intent is written for them).
  void reserveCalls();

  PassOptions options_;
  salesforce::BulkJobs& jobs_;
  audit::AuditSink& audit_;
  const model::Clock& clock_;
  const model::StopSignal& stopRequested_;
  PassListener* listener_;
  PassSummary summary_;
  std::vector<Decision> decisions_;
  model::Timestamp listingStarted_{};
  // Every job listed so far in this pass, by the 15-character form of its id (the 18-character
  // form only adds a checksum of the first 15), with a fingerprint of its fields: a job listed
  // again is dropped, or, with other fields, is held back this pass (changed_). At most
  // maxJobsPerListing + 1 entries (about 64 bytes each). An ordered map, not a hash table: the
  // ids come from the server, which could otherwise choose them to collide.
  using IdKey = std::array<char, 15>;
  std::map<IdKey, uint64_t> listed_;
  std::set<IdKey> changed_;      // listed twice with different fields: no action this pass
  std::string scratch_;          // reused to fingerprint each job
  int64_t reservedActions_ = 0;  // action calls reserved in the API budget by reserveCalls()
};

// A new pass id: time-ordered and unique enough to find a pass in the audit trail.
std::string newRunId(model::Timestamp now);

}  // namespace bulkwarden::engine
