#include "state/StateStore.h"

namespace bulkwarden::state {

std::vector<model::Timestamp> MemoryStateStore::observe(const std::string& org,
                                                        model::ResourceKind kind,
                                                        std::span<const model::Job> jobs,
                                                        model::Timestamp now) {
  std::lock_guard lock(mutex_);
  std::vector<model::Timestamp> out;
  out.reserve(jobs.size());
  for (const auto& job : jobs) {
    auto& m = jobs_[Key{org, static_cast<int>(kind), job.id}];
    if (m.seen == model::Timestamp{} || m.state != job.state) {
      m.state = job.state;
      m.since = now;
    }
    m.seen = now;
    out.push_back(m.since);
  }
  return out;
}

void MemoryStateStore::remember(const std::string& org, int kind, const std::string& id,
                                const JobMemory& m) {
  std::lock_guard lock(mutex_);
  jobs_[Key{org, kind, id}] = m;
}

void MemoryStateStore::prune(const std::string& org, model::ResourceKind kind,
                             model::Timestamp listingStarted) {
  std::lock_guard lock(mutex_);
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    const auto& [o, k, id] = it->first;
    if (o == org && k == static_cast<int>(kind) && it->second.seen < listingStarted) {
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<model::Timestamp> MemoryStateStore::lastPass(const std::string& org,
                                                           const std::string& policy) {
  std::lock_guard lock(mutex_);
  auto it = passes_.find({org, policy});
  if (it == passes_.end()) return std::nullopt;
  return it->second;
}

void MemoryStateStore::recordPass(const std::string& org, const std::string& policy,
                                  model::Timestamp when) {
  std::lock_guard lock(mutex_);
  passes_[{org, policy}] = when;
}

void MemoryStateStore::addCalls(const std::string& org, int64_t minute, const std::string& purpose,
                                int64_t n) {
  std::lock_guard lock(mutex_);
  calls_[{org, minute, purpose}] += n;
}

std::vector<StateStore::CallBucket> MemoryStateStore::callsSince(const std::string& org,
                                                                 int64_t sinceMinute) {
  std::lock_guard lock(mutex_);
  std::vector<CallBucket> out;
  for (auto it = calls_.begin(); it != calls_.end();) {
    const auto& [o, minute, purpose] = it->first;
    if (o == org && minute < sinceMinute) {
      it = calls_.erase(it);
      continue;
    }
    if (o == org) out.push_back({minute, purpose, it->second});
    ++it;
  }
  return out;
}

void MemoryStateStore::setOrgFact(const std::string& org, const std::string& key, int64_t value) {
  std::lock_guard lock(mutex_);
  facts_[{org, key}] = value;
}

std::optional<int64_t> MemoryStateStore::orgFact(const std::string& org, const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = facts_.find({org, key});
  if (it == facts_.end()) return std::nullopt;
  return it->second;
}

size_t MemoryStateStore::jobCount() const {
  std::lock_guard lock(const_cast<std::mutex&>(mutex_));
  return jobs_.size();
}

}  // namespace bulkwarden::state
