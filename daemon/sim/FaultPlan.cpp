#include "sim/FaultPlan.h"

#include <algorithm>
#include <string>

#include "sim/SimRender.h"

namespace bulkwarden::sim {

FaultPlan::FaultPlan(uint64_t seed) : rng_(seed ^ 0x9e3779b97f4a7c15ULL) {}

void FaultPlan::repeatLocatorOnPage(int page) {
  std::lock_guard lock(mutex_);
  pageFaults_.push_back({JobStore::PageFault::RepeatLocator, page});
}

void FaultPlan::doneFalseWithoutUrlOnPage(int page) {
  std::lock_guard lock(mutex_);
  pageFaults_.push_back({JobStore::PageFault::DoneFalseWithoutUrl, page});
}

JobStore::PageFault FaultPlan::takePageFault(int page) {
  std::lock_guard lock(mutex_);
  const auto it = std::find_if(pageFaults_.begin(), pageFaults_.end(),
                               [page](const PageRule& f) { return f.page == page; });
  if (it == pageFaults_.end()) return JobStore::PageFault::None;
  const auto kind = it->kind;
  pageFaults_.erase(it);
  return kind;
}

void FaultPlan::respondNext(int count, const SimResponse& response) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < count; ++i) scripted_.push_back(response);
}

void FaultPlan::respondToTokenRequests(int count, const SimResponse& response) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < count; ++i) scriptedToken_.push_back(response);
}

std::optional<SimResponse> FaultPlan::takeTokenReply() {
  std::lock_guard lock(mutex_);
  if (scriptedToken_.empty()) return std::nullopt;
  SimResponse r = std::move(scriptedToken_.front());
  scriptedToken_.pop_front();
  return r;
}

void FaultPlan::injectNetFault(int count, NetFault fault, const std::string& method,
                               std::chrono::milliseconds trickleEvery) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < count; ++i) netFaults_.push_back({fault, method, trickleEvery});
}

void FaultPlan::setFailureRate(double rate) {
  std::lock_guard lock(mutex_);
  failureRate_ = rate;
}

void FaultPlan::failEvery(int n, int retryAfterSeconds) {
  std::lock_guard lock(mutex_);
  failEvery_ = std::max(n, 0);
  retryAfterSeconds_ = retryAfterSeconds;
  counted_ = 0;
}

void FaultPlan::setRetryAfter(int seconds) {
  std::lock_guard lock(mutex_);
  retryAfterSeconds_ = std::max(seconds, 0);
}

void FaultPlan::exceedConcurrentLimitUntil(std::chrono::steady_clock::time_point until) {
  std::lock_guard lock(mutex_);
  concurrentUntil_ = until;
}

SimResponse concurrentLimitExceeded() {
  return render::error(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.");
}

void FaultPlan::clear() {
  std::lock_guard lock(mutex_);
  pageFaults_.clear();
  scripted_.clear();
  scriptedToken_.clear();
  netFaults_.clear();
  failureRate_ = 0.0;
  failEvery_ = 0;
  concurrentUntil_ = {};
}

FaultPlan::Decision FaultPlan::decide(const SimRequest& request) {
  std::lock_guard lock(mutex_);
  Decision d;
  for (auto it = netFaults_.begin(); it != netFaults_.end(); ++it) {
    if (it->method.empty() || it->method == request.method) {
      d.net = it->fault;
      d.trickleEvery = it->trickleEvery;
      netFaults_.erase(it);
      break;
    }
  }
  if (d.net == NetFault::ResetBeforeApply) return d;
  const bool tokenRequest = request.uri.rfind("/services/oauth2/", 0) == 0;
  if (failureRate_ > 0.0 && !tokenRequest &&
      std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < failureRate_) {
    d.refusal = render::error(503, "SERVER_UNAVAILABLE", "Server too busy");
    if (retryAfterSeconds_ > 0) {
      d.refusal->headers.emplace_back("Retry-After", std::to_string(retryAfterSeconds_));
    }
    return d;
  }
  if (failEvery_ > 0 && !tokenRequest && ++counted_ % failEvery_ == 0) {
    // Refused before processing: nothing is applied, and it does not use the allowance.
    d.refusal = render::error(503, "SERVER_UNAVAILABLE", "Server too busy");
    if (retryAfterSeconds_ > 0) {
      d.refusal->headers.emplace_back("Retry-After", std::to_string(retryAfterSeconds_));
    }
    return d;
  }
  if (!tokenRequest && std::chrono::steady_clock::now() < concurrentUntil_) {
    d.refusal = concurrentLimitExceeded();
    d.limitInfo = true;
    return d;
  }
  if (!scripted_.empty()) {
    d.scripted = std::move(scripted_.front());
    scripted_.pop_front();
  }
  return d;
}

}  // namespace bulkwarden::sim
