#include "sim/JobStore.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>

#include "sim/SimText.h"

namespace bulkwarden::sim {

namespace {

constexpr int64_t kSevenDaysMs = 7LL * 24 * 3600 * 1000;
constexpr std::size_t kMaxSnapshots = 64;  // listings whose locators stay valid at once
constexpr std::array<std::string_view, 6> kStateNames = {
    "Open", "UploadComplete", "InProgress", "JobComplete", "Failed", "Aborted"};

bool serves(const StoredJob& job, JobStore::Resource resource) {
  switch (resource) {
    case JobStore::Resource::Query:
      return !job.ingest && job.jobType != "Classic";
    case JobStore::Resource::Ingest:
      return job.ingest && job.jobType != "Classic";
    case JobStore::Resource::Classic:
      return job.jobType == "Classic";
  }
  return false;
}

}  // namespace

std::string_view stateName(JobState state) { return kStateNames[static_cast<std::size_t>(state)]; }

bool isTerminal(JobState s) {
  return s == JobState::JobComplete || s == JobState::Failed || s == JobState::Aborted;
}

JobStore::JobStore(uint64_t seed, std::string pod) : rng_(seed), pod_(std::move(pod)) {}

JobView JobStore::view(const StoredJob& job, int64_t now) {
  JobView v{job.state, job.modstampMs, job.deleted};
  if (v.state == JobState::UploadComplete && job.startAtMs <= now) {
    v.state = JobState::InProgress;
    v.modstampMs = job.startAtMs;
  }
  if (v.state == JobState::InProgress && job.finishAtMs <= now) {
    v.state = job.finalState;
    v.modstampMs = job.finishAtMs;
  }
  if (isTerminal(v.state) && v.modstampMs + kSevenDaysMs <= now) v.gone = true;
  return v;
}

void JobStore::settle(StoredJob& job, int64_t now) {
  const JobView v = view(job, now);
  job.state = v.state;
  job.modstampMs = v.modstampMs;
  if (v.state != JobState::UploadComplete) job.startAtMs = kNeverMs;
  if (v.state != JobState::UploadComplete && v.state != JobState::InProgress) {
    job.finishAtMs = kNeverMs;
  }
}

StoredJob* JobStore::findLocked(const std::string& id, Resource resource, int64_t now) {
  const auto it = index_.find(id);
  if (it == index_.end()) return nullptr;
  StoredJob& job = jobs_[it->second];
  if (!serves(job, resource)) return nullptr;
  settle(job, now);
  if (view(job, now).gone) {
    job.deleted = true;  // purged by the 7-day retention
    index_.erase(it);
    return nullptr;
  }
  return &job;
}

std::string JobStore::add(const JobSeed& seed, int64_t now) {
  std::lock_guard lock(mutex_);
  return addLocked(seed, now);
}

void JobStore::addScenario(const Scenario& s, int64_t now) {
  std::lock_guard lock(mutex_);
  for (const auto& group : s.groups) {
    for (const auto& seed : expandGroup(group, rng_)) addLocked(seed, now);
  }
  for (const auto& seed : s.jobs) addLocked(seed, now);
}

std::string JobStore::addLocked(const JobSeed& seed, int64_t now) {
  if (seed.kind != "query" && seed.kind != "ingest") {
    throw std::invalid_argument(fmt::format("job kind '{}': want query or ingest", seed.kind));
  }
  const auto stateIt = std::find(kStateNames.begin(), kStateNames.end(), seed.state);
  if (stateIt == kStateNames.end()) {
    throw std::invalid_argument(fmt::format("job state '{}' unknown", seed.state));
  }
  StoredJob job;
  job.ingest = seed.kind == "ingest";
  job.state = static_cast<JobState>(stateIt - kStateNames.begin());
  job.jobType = !seed.jobType.empty() ? seed.jobType : (job.ingest ? "V2Ingest" : "V2Query");
  if (job.state == JobState::Open && !job.ingest && job.jobType != "Classic") {
    throw std::invalid_argument("only ingest and Classic jobs can be Open");
  }
  if (seed.finalState == "JobComplete") {
    job.finalState = JobState::JobComplete;
  } else if (seed.finalState == "Failed") {
    job.finalState = JobState::Failed;
  } else {
    throw std::invalid_argument(
        fmt::format("final state '{}': want JobComplete or Failed", seed.finalState));
  }
  job.object = seed.object;
  job.operation = !seed.operation.empty() ? seed.operation : (job.ingest ? "insert" : "query");
  job.createdById = seed.createdById;
  job.finishesOnAbort = seed.finishesOnAbort;
  job.refusedAborts = std::max(seed.refusedAborts, 0);
  job.apiVersion = seed.apiVersion;
  job.createdMs = now - seed.age.count();
  job.modstampMs = seed.modifiedAgo.count() < 0 ? job.createdMs : now - seed.modifiedAgo.count();
  if (seed.finishAfter) {
    const int64_t finish = std::max<int64_t>(seed.finishAfter->count(), 0);
    const int64_t start =
        std::clamp<int64_t>(seed.startAfter ? seed.startAfter->count() : finish / 2, 0, finish);
    if (job.state == JobState::Open) {
      job.closeStartMs = start;
      job.closeFinishMs = finish;
    } else if (job.state == JobState::UploadComplete) {
      job.startAtMs = now + start;
      job.finishAtMs = now + finish;
    } else if (job.state == JobState::InProgress) {
      job.finishAtMs = now + finish;
    }
  } else if (seed.startAfter && job.state == JobState::UploadComplete) {
    job.startAtMs = now + std::max<int64_t>(seed.startAfter->count(), 0);
  }
  if (seed.numberRecords >= 0) {
    job.numberRecords = seed.numberRecords;
  } else {
    // Spread over magnitudes: most jobs are small, a few are large.
    const int magnitude = std::uniform_int_distribution<int>(1, 6)(rng_);
    int64_t top = 1;
    for (int i = 0; i < magnitude; ++i) top *= 10;
    job.numberRecords = std::uniform_int_distribution<int64_t>(top / 10, top)(rng_);
  }
  if (seed.id.empty()) {
    do {
      job.id = makeSalesforceId("750", pod_, rng_);
    } while (index_.count(job.id) != 0);
  } else {
    if (index_.count(seed.id) != 0) {
      throw std::invalid_argument(fmt::format("job id '{}' already exists", seed.id));
    }
    job.id = seed.id;
  }
  index_.emplace(job.id, static_cast<uint32_t>(jobs_.size()));
  jobs_.push_back(std::move(job));
  return jobs_.back().id;
}

std::optional<std::string> JobStore::state(const std::string& id, int64_t now) const {
  std::lock_guard lock(mutex_);
  const auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  const JobView v = view(jobs_[it->second], now);
  if (v.gone) return std::nullopt;
  return std::string(stateName(v.state));
}

std::vector<SimJob> JobStore::jobs(int64_t now) const {
  std::lock_guard lock(mutex_);
  std::vector<SimJob> out;
  out.reserve(jobs_.size());
  for (const StoredJob& job : jobs_) {
    const JobView v = view(job, now);
    if (v.gone) continue;
    out.push_back(SimJob{job.id, job.ingest ? "ingest" : "query", job.jobType,
                         std::string(stateName(v.state)), job.object, job.operation,
                         job.createdById, formatTimestamp(job.createdMs),
                         formatTimestamp(v.modstampMs), job.createdMs});
  }
  return out;
}

int64_t JobStore::appliedActions(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const auto it = applied_.find(id);
  return it == applied_.end() ? 0 : it->second;
}

int64_t JobStore::appliedAborts() const {
  std::lock_guard lock(mutex_);
  return appliedAborts_;
}

int64_t JobStore::appliedDeletes() const {
  std::lock_guard lock(mutex_);
  return appliedDeletes_;
}

bool JobStore::read(const std::string& id, Resource resource, int64_t now, const Reader& reader) {
  std::lock_guard lock(mutex_);
  const StoredJob* job = findLocked(id, resource, now);
  if (job == nullptr) return false;
  reader(*job, view(*job, now));
  return true;
}

JobStore::Page JobStore::list(const ListRequest& request, int64_t now,
                              const std::function<PageFault(int)>& takeFault,
                              const Reader& record) {
  std::lock_guard lock(mutex_);
  Page result;
  std::string snapshotId;
  std::size_t offset = 0;
  const std::string& jobType = request.jobType;
  if (request.locator.empty()) {
    if (!jobType.empty() && jobType != "V2Query" && jobType != "V2Ingest" && jobType != "Classic" &&
        jobType != "BigObjectIngest") {
      result.error = Page::Error::BadJobType;
      return result;
    }
    Snapshot snapshot;
    snapshot.jobs.reserve(jobs_.size());
    for (std::size_t i = 0; i < jobs_.size(); ++i) {
      StoredJob& job = jobs_[i];
      if (job.deleted) continue;
      if (view(job, now).gone) {
        job.deleted = true;  // purged by the 7-day retention
        index_.erase(job.id);
        continue;
      }
      // /jobs/query lists "all query jobs ... and all Bulk API jobs"; /jobs/ingest all but V2Query.
      const bool wanted = !jobType.empty() ? job.jobType == jobType
                          : request.ingestPath
                              ? job.jobType != "V2Query"
                              : job.jobType == "V2Query" || job.jobType == "Classic";
      if (wanted) snapshot.jobs.push_back(static_cast<uint32_t>(i));
    }
    std::shuffle(snapshot.jobs.begin(), snapshot.jobs.end(), rng_);
    do {
      snapshotId = makeSalesforceId("01g", pod_, rng_);
    } while (snapshots_.count(snapshotId) != 0);
    snapshots_.emplace(snapshotId, std::move(snapshot));
    snapshotOrder_.push_back(snapshotId);
    if (snapshotOrder_.size() > kMaxSnapshots) {
      snapshots_.erase(snapshotOrder_.front());
      snapshotOrder_.pop_front();
    }
  } else {
    const std::string& locator = request.locator;
    const auto dash = locator.rfind('-');
    bool valid = dash == 18;
    if (valid) {
      snapshotId = locator.substr(0, dash);
      const auto* begin = locator.data() + dash + 1;
      const auto* end = locator.data() + locator.size();
      const auto [ptr, ec] = std::from_chars(begin, end, offset);
      valid = ec == std::errc{} && ptr == end && begin != end;
    }
    const auto it = valid ? snapshots_.find(snapshotId) : snapshots_.end();
    if (it == snapshots_.end() || offset > it->second.jobs.size()) {
      result.error = Page::Error::BadLocator;
      return result;
    }
  }

  const Snapshot& snapshot = snapshots_.at(snapshotId);
  const std::size_t pageSize = std::max<std::size_t>(request.pageSize, 1);
  const std::size_t end = std::min(snapshot.jobs.size(), offset + pageSize);
  const int page = static_cast<int>(offset / pageSize) + 1;
  bool done = end >= snapshot.jobs.size();
  // A plain value and a flag: GCC 12 at -O2 misreads an optional here as maybe uninitialised.
  bool hasNext = !done;
  std::size_t nextOffset = end;
  switch (takeFault ? takeFault(page) : PageFault::None) {
    case PageFault::RepeatLocator:
      // The locator the client just used (page N-1's nextRecordsUrl) comes back again.
      done = false;
      hasNext = true;
      nextOffset = offset;
      break;
    case PageFault::DoneFalseWithoutUrl:
      done = false;
      hasNext = false;
      break;
    case PageFault::None:
      break;
  }
  for (std::size_t k = offset; k < end; ++k) {
    const StoredJob& job = jobs_[snapshot.jobs[k]];
    const JobView v = view(job, now);
    if (v.gone) continue;  // deleted or purged since the listing began
    record(job, v);
  }
  result.done = done;
  if (hasNext) result.nextLocator = fmt::format("{}-{}", snapshotId, nextOffset);
  return result;
}

JobStore::ActionResult JobStore::abort(const std::string& id, Resource resource,
                                       const Caller& caller, int64_t now, const Reader& render) {
  std::lock_guard lock(mutex_);
  StoredJob* job = findLocked(id, resource, now);
  if (job == nullptr) return {};
  if (!caller.manageDataIntegrations && job->createdById != caller.userId) {
    return {Outcome::Forbidden, job->state};
  }
  const bool abortable =
      job->state == JobState::UploadComplete || job->state == JobState::InProgress ||
      ((job->ingest || job->jobType == "Classic") && job->state == JobState::Open);
  if (!abortable) return {Outcome::InvalidState, job->state};
  if (job->refusedAborts > 0) {
    // Refused while still active: INVALIDJOBSTATE does not prove that the job finished.
    --job->refusedAborts;
    return {Outcome::InvalidState, job->state};
  }
  if (job->finishesOnAbort) {
    // The race of a job that finishes between the listing and the abort.
    job->state = job->finalState;
    job->modstampMs = now;
    job->startAtMs = job->finishAtMs = kNeverMs;
    job->finishesOnAbort = false;
    return {Outcome::InvalidState, job->state};
  }
  job->state = JobState::Aborted;
  job->modstampMs = now;
  job->startAtMs = job->finishAtMs = kNeverMs;
  ++appliedAborts_;
  ++applied_[job->id];
  render(*job, view(*job, now));
  return {Outcome::Done, job->state};
}

JobStore::ActionResult JobStore::close(const std::string& id, Resource resource, int64_t now,
                                       const Reader& render) {
  std::lock_guard lock(mutex_);
  StoredJob* job = findLocked(id, resource, now);
  if (job == nullptr) return {};
  if (job->state != JobState::Open) return {Outcome::InvalidState, job->state};
  job->state = JobState::UploadComplete;
  job->modstampMs = now;
  if (job->closeFinishMs >= 0) {
    job->startAtMs = now + job->closeStartMs;
    job->finishAtMs = now + job->closeFinishMs;
  }
  render(*job, view(*job, now));
  return {Outcome::Done, job->state};
}

JobStore::ActionResult JobStore::remove(const std::string& id, Resource resource,
                                        const Caller& caller, int64_t now) {
  std::lock_guard lock(mutex_);
  StoredJob* job = findLocked(id, resource, now);
  if (job == nullptr) return {};
  if (!caller.manageDataIntegrations && job->createdById != caller.userId) {
    return {Outcome::Forbidden, job->state};
  }
  const bool deletable =
      isTerminal(job->state) || (job->ingest && job->state == JobState::UploadComplete);
  if (!deletable) return {Outcome::NotTerminated, job->state};
  job->deleted = true;
  index_.erase(job->id);
  ++appliedDeletes_;
  ++applied_[id];
  return {Outcome::Done, job->state};
}

}  // namespace bulkwarden::sim
