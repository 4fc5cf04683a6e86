#include "salesforce/TokenProvider.h"

#include <fmt/format.h>

#include <utility>

namespace bulkwarden::salesforce {

AccessTokenProvider::AccessTokenProvider(std::string token) : token_(std::move(token)) {}

Result<std::string> AccessTokenProvider::token() {
  if (token_.empty()) {
    return ApiError{ApiError::Kind::Unauthorized, 0, "", "access-token flow: the token is empty",
                    false};
  }
  return token_;
}

Result<std::string> AccessTokenProvider::refresh(const std::string& /*rejected*/) {
  return ApiError{ApiError::Kind::Unauthorized, 0, "",
                  "access-token flow cannot renew an expired token; update the token", false};
}

FetchingTokenProvider::FetchingTokenProvider(std::chrono::milliseconds errorBackoff,
                                             const model::Clock* clock)
    : errorBackoff_(errorBackoff), clock_(clock != nullptr ? *clock : systemClock_) {}

std::optional<ApiError> FetchingTokenProvider::backingOff() const {
  if (!failure_) return std::nullopt;
  const auto left = retryAt_ - clock_.now();
  if (left <= model::Duration::zero()) return std::nullopt;
  ApiError e = *failure_;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(left).count();
  e.message += fmt::format("; no new token request for {}.{:03d} s", ms / 1000, ms % 1000);
  e.sent = false;
  return e;
}

void FetchingTokenProvider::setCallGate(std::shared_ptr<CallGate> gate) {
  model::MutexLock lock(mutex_);
  gate_ = std::move(gate);
}

Result<std::string> FetchingTokenProvider::fetchLocked(const std::string& rejected) {
  // A token request counts against the API budget like any call; refused, it is not made (and
  // is no failure to back off from: the budget has room again when calls age out).
  if (gate_) {
    if (auto refused = gate_->admit(CallPurpose::Token)) return *refused;
  }
  ++fetches_;
  auto fetched = fetch();
  if (fetched) {
    current_ = std::move(fetched.value().accessToken);
    if (!fetched.value().instanceUrl.empty()) instanceUrl_ = std::move(fetched.value().instanceUrl);
    failure_.reset();
    failedFor_.clear();
    return current_;
  }
  failedFor_ = rejected;
  failure_ = fetched.error();
  retryAt_ = clock_.now() + errorBackoff_;
  return fetched.error();
}

Result<std::string> FetchingTokenProvider::token() {
  model::MutexLock lock(mutex_);
  if (!current_.empty()) return current_;
  if (auto e = backingOff()) return *e;
  return fetchLocked("");
}

Result<std::string> FetchingTokenProvider::refresh(const std::string& rejected) {
  model::MutexLock lock(mutex_);
  // Another caller already replaced the rejected token while we waited for the lock.
  if (!current_.empty() && current_ != rejected) return current_;
  if (current_.empty() && failure_ && failedFor_ == rejected) return *failure_;
  current_.clear();
  if (auto e = backingOff()) return *e;
  return fetchLocked(rejected);
}

std::string FetchingTokenProvider::instanceUrl() const {
  model::MutexLock lock(mutex_);
  return instanceUrl_;
}

int64_t FetchingTokenProvider::fetches() const {
  model::MutexLock lock(mutex_);
  return fetches_;
}

}  // namespace bulkwarden::salesforce
