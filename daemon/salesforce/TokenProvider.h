// Where BulkClient gets its bearer token. One provider per org, shared by every thread that
// calls the org: implementations are thread-safe. Tokens never appear in logs or errors.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "salesforce/ApiError.h"

namespace bulkwarden::salesforce {

class TokenProvider {
 public:
  virtual ~TokenProvider() = default;

  // The current token, fetching one first if there is none yet. Returns an ApiError
  // (Unauthorized, or Transient when the token endpoint could not be reached) rather than
  // throwing: it is called at the Salesforce boundary, where failures are values.
  virtual Result<std::string> token() = 0;

  // Called after a 401 INVALID_SESSION_ID with the token that was rejected. Returns a new token,
  // or ApiError Unauthorized when this flow cannot get one. Callers that saw the same rejected
  // token at the same time cause one refresh; they all get its result.
  virtual Result<std::string> refresh(const std::string& rejected) = 0;
};

// The `access-token` flow: a fixed token from the configuration. It cannot be renewed.
class AccessTokenProvider final : public TokenProvider {
 public:
  explicit AccessTokenProvider(std::string token);
  Result<std::string> token() override;
  Result<std::string> refresh(const std::string& rejected) override;

 private:
  const std::string token_;
};

// Base for the flows that can mint tokens (JWT bearer, client credentials, refresh token): keeps
// the current token and makes concurrent refreshes of the same rejected token fetch only once.
// Subclasses implement fetch().
class FetchingTokenProvider : public TokenProvider {
 public:
  Result<std::string> token() override;
  Result<std::string> refresh(const std::string& rejected) override;

 protected:
  // Obtains a new token from the token endpoint. Called with the provider's lock held, so never
  // concurrently with itself.
  virtual Result<std::string> fetch() = 0;

 private:
  std::mutex mutex_;
  // Guarded by mutex_. current_ is empty until a fetch succeeds. After a failed refresh, the
  // callers still holding the same rejected token get that failure instead of fetching again;
  // token() tries afresh.
  std::string current_;
  std::string failedFor_;
  std::optional<ApiError> failure_;
};

}  // namespace bulkwarden::salesforce
