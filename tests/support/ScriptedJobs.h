// Test support shared by the engine's unit tests: a scripted BulkJobs.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "AuditRecords.h"
#include "salesforce/BulkJobs.h"

namespace bulkwarden::testing {

using salesforce::ApiError;

// A scripted org for the engine's own seam (salesforce::BulkJobs): pages to list, errors and
// job states to answer, and every call counted. Given the audit file, it checks at each action
// that the intent for that job is already in it (write-ahead). Thread-safe as BulkJobs must be.
class ScriptedJobs : public salesforce::BulkJobs {
 public:
  std::vector<salesforce::Page> pages;
  std::optional<ApiError> listErrorAfterPages;  // fail after delivering all `pages`
  salesforce::ApiUsage reported;                // what usage() says
  std::map<std::string, ApiError> actionErrors;
  // Answers to successive actions on one job, used before actionErrors: an error, or none for
  // success. Once spent, actionErrors (or success) answers.
  std::map<std::string, std::deque<std::optional<ApiError>>> actionScript;
  // Every Nth action request (counting every job's) is answered this error: 0 for never.
  int failEvery = 0;
  ApiError everyNthError{ApiError::Kind::Transient, 503, "SERVER_UNAVAILABLE", "Server too busy"};
  std::string auditPath;
  std::chrono::milliseconds actionDelay{0};

  std::mutex mutex;
  std::vector<std::string> actions;  // "abort:ID" / "delete:ID"
  std::vector<std::string> intentMissing;
  std::vector<int> intentsAtAction;  // intents on disk as each action went out
  std::function<void()> onAction;    // called as each action goes out
  int inFlight = 0;
  int maxInFlight = 0;

  std::atomic<int> lists{0};
  salesforce::Result<salesforce::ListStats> list(model::ResourceKind,
                                                 const PageSink& sink) override {
    ++calls_;
    ++lists;
    salesforce::ListStats stats;
    for (auto p : pages) {
      ++stats.pages;
      stats.jobs += static_cast<int64_t>(p.jobs.size());
      sink(std::move(p));
    }
    if (listErrorAfterPages) return *listErrorAfterPages;
    return stats;
  }
  std::map<std::string, salesforce::Result<model::Job>> gets;  // what a GET of the job answers
  ApiError unscriptedGet{ApiError::Kind::Permanent, 0, "", "not scripted"};  // any other GET
  std::atomic<int> getCalls{0};
  salesforce::Result<model::Job> get(model::ResourceKind, const std::string& id) override {
    ++calls_;
    ++getCalls;
    auto it = gets.find(id);
    if (it != gets.end()) return it->second;
    return unscriptedGet;
  }
  salesforce::Result<salesforce::ActionReply> abort(model::ResourceKind,
                                                    const std::string& id) override {
    return act("abort", id, 200);
  }
  salesforce::Result<salesforce::ActionReply> remove(model::ResourceKind,
                                                     const std::string& id) override {
    return act("delete", id, 204);
  }
  // Bulk API 1.0 (Classic): the second listing, and reads and aborts through the 1.0 resource
  // (actions recorded as "abort-classic:ID"; reads answered from `gets`).
  std::vector<salesforce::Page> classicPages;
  std::optional<ApiError> classicListError;
  std::atomic<int> classicLists{0};
  std::atomic<int> classicGets{0};
  salesforce::Result<salesforce::ListStats> listClassic(model::ResourceKind,
                                                        const PageSink& sink) override {
    ++calls_;
    ++classicLists;
    salesforce::ListStats stats;
    for (auto p : classicPages) {
      ++stats.pages;
      stats.jobs += static_cast<int64_t>(p.jobs.size());
      sink(std::move(p));
    }
    if (classicListError) return *classicListError;
    return stats;
  }
  salesforce::Result<model::Job> getClassic(const std::string& id) override {
    ++classicGets;
    return get(model::ResourceKind::Query, id);
  }
  salesforce::Result<salesforce::ActionReply> abortClassic(const std::string& id) override {
    return act("abort-classic", id, 200);
  }
  int64_t calls() const override { return calls_; }
  salesforce::ApiUsage usage() const override { return reported; }
  std::optional<ApiError> probeError;  // what probeUsage() answers instead of `reported`
  std::atomic<int> probes{0};
  salesforce::Result<salesforce::ApiUsage> probeUsage() override {
    ++calls_;
    ++probes;
    if (probeError) return *probeError;
    return reported;
  }

 private:
  salesforce::Result<salesforce::ActionReply> act(const char* what, const std::string& id,
                                                  int status) {
    ++calls_;
    {
      std::lock_guard lock(mutex);
      actions.push_back(std::string(what) + ":" + id);
      if (!auditPath.empty() && !intentOnDisk(id)) intentMissing.push_back(id);
      if (!auditPath.empty()) intentsAtAction.push_back(intentsOnDisk());
      maxInFlight = std::max(maxInFlight, ++inFlight);
    }
    if (onAction) onAction();
    if (actionDelay.count() > 0) std::this_thread::sleep_for(actionDelay);
    {
      std::lock_guard lock(mutex);
      --inFlight;
    }
    {
      std::lock_guard lock(mutex);
      ++actionCount_;
      if (failEvery > 0 && actionCount_ % failEvery == 0) return everyNthError;
      auto scripted = actionScript.find(id);
      if (scripted != actionScript.end() && !scripted->second.empty()) {
        std::optional<ApiError> answer = scripted->second.front();
        scripted->second.pop_front();
        if (answer) return *answer;
        return salesforce::ActionReply{status, ""};
      }
    }
    auto it = actionErrors.find(id);
    if (it != actionErrors.end()) return it->second;
    return salesforce::ActionReply{status, ""};
  }
  int intentsOnDisk() { return intentCount(auditPath); }
  bool intentOnDisk(const std::string& id) { return intentFor(auditPath, id); }
  std::atomic<int64_t> calls_{0};
  int actionCount_ = 0;  // guarded by mutex
};

}  // namespace bulkwarden::testing
