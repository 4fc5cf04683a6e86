#include "engine/FollowUp.h"

#include "salesforce/CallGate.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace bulkwarden::engine {

FollowUpReads::FollowUpReads(salesforce::BulkJobs& inner, std::vector<std::string> ids,
                             int concurrency)
    : inner_(inner), concurrency_(std::max(1, concurrency)) {
  // One read per job: a job reported twice (two thresholds, two passes) is read once.
  std::set<std::string> seen;
  for (auto& id : ids) {
    if (seen.insert(id).second) ids_.push_back(std::move(id));
  }
}

salesforce::Result<salesforce::ListStats> FollowUpReads::list(model::ResourceKind kind,
                                                              const PageSink& onPage) {
  std::vector<std::optional<model::Job>> read(ids_.size());
  std::optional<salesforce::ApiError> failed;
  std::mutex mutex;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    salesforce::PurposeScope purpose(salesforce::CallPurpose::FollowUp);  // the API budget's count
    for (size_t i = next++; i < ids_.size(); i = next++) {
      {
        std::lock_guard lock(mutex);
        if (failed) return;  // the follow-up acts on nothing: stop spending calls
      }
      auto r = inner_.get(kind, ids_[i]);
      if (r) {
        read[i] = std::move(r.value());
      } else if (r.error().kind != salesforce::ApiError::Kind::NotFound) {
        std::lock_guard lock(mutex);
        if (!failed) failed = r.error();
      }
    }
  };
  std::vector<std::thread> threads;
  size_t n = std::min<size_t>(static_cast<size_t>(concurrency_), ids_.size());
  for (size_t t = 0; t < n; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (failed) return *failed;
  salesforce::Page page;
  for (auto& j : read) {
    // Only the kind asked for: a server answering with another kind's job is not believed.
    if (j && j->kind == kind) page.jobs.push_back(std::move(*j));
  }
  salesforce::ListStats stats;
  stats.pages = 1;
  stats.jobs = static_cast<int64_t>(page.jobs.size());
  onPage(std::move(page));
  return stats;
}

}  // namespace bulkwarden::engine
