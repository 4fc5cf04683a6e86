// Where BulkClient gets its bearer token. One provider per org, shared by every thread that
// calls the org: implementations are thread-safe. Tokens never appear in logs or errors.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "model/Clock.h"
#include "model/ThreadSafety.h"
#include "salesforce/ApiError.h"
#include "salesforce/CallGate.h"

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

  // The org's instance URL as the token endpoint named it with the current token; empty when
  // not known (yet) or when the flow does not learn it (access-token).
  virtual std::string instanceUrl() const { return {}; }

  // The org's API budget (CallGate): asked before each token request, which it counts as
  // "token". Set once, before the first token(). Flows that make no request ignore it.
  virtual void setCallGate(std::shared_ptr<CallGate> gate) { (void)gate; }
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

// What a token endpoint returned.
struct FetchedToken {
  std::string accessToken;
  std::string instanceUrl;  // may be empty
  // The new refresh token when the connected app rotates them (refresh-token flow); else empty.
  std::string refreshToken;
};

// Base for the flows that can mint tokens (JWT bearer, client credentials, refresh token): keeps
// the current token, makes concurrent refreshes of the same rejected token fetch only once, and
// after a failed fetch makes no new one for `errorBackoff` (every caller meanwhile gets that
// failure, saying when the next attempt may happen): a refused login is never retried in a loop.
class FetchingTokenProvider : public TokenProvider {
 public:
  // `clock` (none: the system clock) times the backoff and the tokens' lifetimes; it outlives
  // the provider.
  explicit FetchingTokenProvider(std::chrono::milliseconds errorBackoff = {},
                                 const model::Clock* clock = nullptr);
  Result<std::string> token() override;
  Result<std::string> refresh(const std::string& rejected) override;
  std::string instanceUrl() const override;
  void setCallGate(std::shared_ptr<CallGate> gate) override;

  // Fetches attempted so far (successful or not).
  int64_t fetches() const;

 protected:
  // Obtains a new token from the token endpoint. Called with the provider's lock held, so never
  // concurrently with itself.
  virtual Result<FetchedToken> fetch() = 0;

 private:
  Result<std::string> fetchLocked(const std::string& rejected) REQUIRES(mutex_);
  std::optional<ApiError> backingOff() const REQUIRES(mutex_);

  const std::chrono::milliseconds errorBackoff_;
  const model::SystemClock systemClock_;
  const model::Clock& clock_;
  mutable model::Mutex mutex_;
  // current_ is empty until a fetch succeeds. After a failed refresh, the
  // callers still holding the same rejected token get that failure instead of fetching again;
  // token() tries afresh once the backoff is over.
  std::string current_ GUARDED_BY(mutex_);
  std::string instanceUrl_ GUARDED_BY(mutex_);
  std::string failedFor_ GUARDED_BY(mutex_);
  std::optional<ApiError> failure_ GUARDED_BY(mutex_);
  model::Timestamp retryAt_ GUARDED_BY(mutex_){};
  int64_t fetches_ GUARDED_BY(mutex_) = 0;
  std::shared_ptr<CallGate> gate_;
};

}  // namespace bulkwarden::salesforce
