#include "salesforce/TokenProvider.h"

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

Result<std::string> FetchingTokenProvider::token() {
  std::lock_guard lock(mutex_);
  if (!current_.empty()) return current_;
  auto fetched = fetch();
  if (fetched) {
    current_ = fetched.value();
    failure_.reset();
  }
  return fetched;
}

Result<std::string> FetchingTokenProvider::refresh(const std::string& rejected) {
  std::lock_guard lock(mutex_);
  // Another caller already replaced the rejected token while we waited for the lock.
  if (!current_.empty() && current_ != rejected) return current_;
  if (current_.empty() && failure_ && failedFor_ == rejected) return *failure_;
  current_.clear();
  auto fetched = fetch();
  if (fetched) {
    current_ = fetched.value();
    failure_.reset();
  } else {
    failedFor_ = rejected;
    failure_ = fetched.error();
  }
  return fetched;
}

}  // namespace bulkwarden::salesforce
