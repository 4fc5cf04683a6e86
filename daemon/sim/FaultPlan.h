// What the simulated org is told to get wrong, and when: scripted replies, network faults, a
// random 503 rate, paging faults, and scripted token-endpoint replies. Decides per request; the
// org acts the decision out. Thread-safe: one mutex guards the plan; every method locks it.
#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sim/JobStore.h"
#include "sim/SimMessages.h"

namespace bulkwarden::sim {

class FaultPlan {
 public:
  explicit FaultPlan(uint64_t seed);

  // Page faults fire once, on the next listing that reaches that page (1-based).
  void repeatLocatorOnPage(int page);
  void doneFalseWithoutUrlOnPage(int page);
  JobStore::PageFault takePageFault(int page);

  // The next `count` requests answer exactly this.
  void respondNext(int count, const SimResponse& response);
  // The next `count` token requests answer exactly this.
  void respondToTokenRequests(int count, const SimResponse& response);
  std::optional<SimResponse> takeTokenReply();
  // The next `count` requests whose method is `method` (any method when empty) suffer `fault`.
  void injectNetFault(int count, NetFault fault, const std::string& method,
                      std::chrono::milliseconds trickleEvery);
  // From now on each request (token requests not counted) fails with 503 SERVER_UNAVAILABLE with
  // probability `rate` (seeded), with Retry-After when setRetryAfter gave one.
  void setFailureRate(double rate);
  // The Retry-After (seconds; 0: none) of the random and the every-Nth 503s.
  void setRetryAfter(int seconds);
  // From now on every `n`th request (0: none; token requests not counted) is refused with 503
  // SERVER_UNAVAILABLE before it is processed; with `retryAfter` > 0 the reply carries
  // Retry-After: seconds.
  void failEvery(int n, int retryAfterSeconds = 0);
  // Until `until` (steady clock), every request is refused with 403 REQUEST_LIMIT_EXCEEDED
  // "ConcurrentPerOrgLongTxn Limit exceeded." (the concurrent long-running request limit).
  void exceedConcurrentLimitUntil(std::chrono::steady_clock::time_point until);
  void clear();

  // The plan for one request, in the order the org applies it: a network fault (a reset before
  // applying ends the request), then a refusal (503 at the random rate), then a scripted reply.
  struct Decision {
    NetFault net = NetFault::None;
    std::chrono::milliseconds trickleEvery{0};
    // Answered as is, nothing applied, no allowance used; `limitInfo`: with Sforce-Limit-Info.
    std::optional<SimResponse> refusal;
    bool limitInfo = false;
    std::optional<SimResponse> scripted;  // answered as is (counted as the org says)
  };
  Decision decide(const SimRequest& request);

 private:
  struct NetRule {
    NetFault fault;
    std::string method;
    std::chrono::milliseconds trickleEvery;
  };
  struct PageRule {
    JobStore::PageFault kind;
    int page;
  };

  std::mutex mutex_;
  std::mt19937_64 rng_;
  std::vector<PageRule> pageFaults_;
  std::deque<SimResponse> scripted_;
  std::deque<SimResponse> scriptedToken_;
  std::deque<NetRule> netFaults_;
  double failureRate_ = 0.0;
  int failEvery_ = 0;
  int retryAfterSeconds_ = 0;
  int64_t counted_ = 0;  // requests seen by failEvery
  std::chrono::steady_clock::time_point concurrentUntil_{};
};

// The 403 of the concurrent long-running request limit (it clears in seconds).
SimResponse concurrentLimitExceeded();

}  // namespace bulkwarden::sim
