// The simulated org's jobs and their lifecycle: creation from seeds, the states jobs move through
// as sim time passes, 7-day purges, list snapshots behind query locators, and the abort, close
// and delete transitions with Salesforce's state rules. Knows nothing of HTTP: callers pass the
// sim time and render what it returns. Thread-safe: one mutex guards the jobs; every public
// method locks it, and render callbacks run under it (they must not call back into the store).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sim/Scenario.h"

namespace bulkwarden::sim {

enum class JobState : uint8_t { Open, UploadComplete, InProgress, JobComplete, Failed, Aborted };
std::string_view stateName(JobState state);
bool isTerminal(JobState state);

inline constexpr int64_t kNeverMs = INT64_MAX;

// One job as stored. `state` and `modstampMs` are as last settled; JobView applies the lifecycle.
struct StoredJob {
  std::string id;
  bool ingest = false;
  std::string jobType, object, operation, createdById;
  JobState state = JobState::InProgress;
  JobState finalState = JobState::JobComplete;
  int64_t createdMs = 0, modstampMs = 0;
  int64_t startAtMs = kNeverMs, finishAtMs = kNeverMs;  // absolute sim times
  int64_t closeStartMs = -1, closeFinishMs = -1;        // Open jobs: durations counted from close
  bool finishesOnAbort = false;
  int refusedAborts = 0;  // aborts still to refuse while active
  bool deleted = false;
  double apiVersion = 62.0;
  int64_t numberRecords = 0;
};

// A job as seen at one sim time.
struct JobView {
  JobState state;
  int64_t modstampMs;
  bool gone;  // deleted, or purged by the 7-day retention
};

// A snapshot of one job, dates in +0000 form.
struct SimJob {
  std::string id, kind, jobType, state, object, operation, createdById, createdDate, systemModstamp;
  int64_t createdMs = 0;
};

class JobStore {
 public:
  JobStore(uint64_t seed, std::string pod);

  std::string add(const JobSeed& seed, int64_t now);  // returns the id; throws invalid_argument
  void addScenario(const Scenario& scenario, int64_t now);
  std::optional<std::string> state(const std::string& id, int64_t now) const;
  std::vector<SimJob> jobs(int64_t now) const;
  int64_t appliedActions(const std::string& id) const;
  int64_t appliedAborts() const;
  int64_t appliedDeletes() const;

  // Which jobs a per-job resource serves: Bulk 2.0 query, Bulk 2.0 ingest, or Bulk 1.0.
  enum class Resource { Query, Ingest, Classic };

  // Calls `read` with the job under the lock; false when no such job is served by `resource`.
  using Reader = std::function<void(const StoredJob&, const JobView&)>;
  bool read(const std::string& id, Resource resource, int64_t now, const Reader& read);

  // One listing page. A locator names a snapshot of ids taken at page 1 (the last 64 listings
  // stay valid); jobs deleted or purged since are skipped.
  struct ListRequest {
    bool ingestPath = false;
    std::string jobType;  // empty: the path's default set
    std::string locator;  // empty: a new listing
    std::size_t pageSize = 1000;
  };
  enum class PageFault { None, RepeatLocator, DoneFalseWithoutUrl };
  struct Page {
    enum class Error { None, BadJobType, BadLocator } error = Error::None;
    bool done = true;
    std::string nextLocator;  // empty: null
  };
  // `takeFault(page)` (1-based page number) says whether a fault fires on this page; `record`
  // renders each record of the page, in order, under the lock.
  Page list(const ListRequest& request, int64_t now, const std::function<PageFault(int)>& takeFault,
            const Reader& record);

  // The outcome of an abort, close or delete. `render` ran on the job as it is after the action.
  enum class Outcome {
    Done,
    NotFound,
    InvalidState,   // the transition is not allowed from the job's state
    NotTerminated,  // delete of a job that is still active
    Forbidden,      // another user's job, and the caller may not manage data integrations
  };
  struct ActionResult {
    Outcome outcome = Outcome::NotFound;
    JobState state = JobState::InProgress;  // the job's state (after the action when Done)
  };
  // Who asks: abort and delete of another user's job need "Manage Data Integrations".
  struct Caller {
    std::string userId;
    bool manageDataIntegrations = true;
  };
  ActionResult abort(const std::string& id, Resource resource, const Caller& caller, int64_t now,
                     const Reader& render);
  ActionResult close(const std::string& id, Resource resource, int64_t now, const Reader& render);
  ActionResult remove(const std::string& id, Resource resource, const Caller& caller, int64_t now);

 private:
  static JobView view(const StoredJob& job, int64_t now);
  static void settle(StoredJob& job, int64_t now);  // stores view() into the job
  StoredJob* findLocked(const std::string& id, Resource resource, int64_t now);
  std::string addLocked(const JobSeed& seed, int64_t now);

  struct Snapshot {
    std::vector<uint32_t> jobs;  // indices into jobs_
  };

  mutable std::mutex mutex_;
  std::mt19937_64 rng_;
  std::string pod_;
  std::vector<StoredJob> jobs_;
  std::unordered_map<std::string, uint32_t> index_;
  std::unordered_map<std::string, int64_t> applied_;
  int64_t appliedAborts_ = 0, appliedDeletes_ = 0;
  std::unordered_map<std::string, Snapshot> snapshots_;
  std::deque<std::string> snapshotOrder_;
};

}  // namespace bulkwarden::sim
