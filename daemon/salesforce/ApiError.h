// The outcome of a call at the Salesforce boundary: a value or an ApiError whose kind the engine
// acts on. Nothing from outside is asserted on; everything unexpected becomes an ApiError.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace bulkwarden::salesforce {

struct ApiError {
  enum class Kind {
    Unauthorized,  // 401 INVALID_SESSION_ID, or a token that could not be obtained
    // 403 REQUEST_LIMIT_EXCEEDED for the daily allowance ("TotalRequests Limit exceeded."): stop
    // calling this org until a probe shows usage under the limit. The concurrent long-running
    // request limit is Transient instead (see isConcurrentLimit), and so is 429 (throttled).
    LimitExceeded,
    InvalidState,  // 400 INVALIDJOBSTATE, or 400 API_ERROR "job is not terminated" on delete
    NotFound,      // 404 NOT_FOUND (or 400 NOT_FOUND: docs/salesforce.md 12.4)
    Transient,     // 5xx, 406, 420, 429, connection refused/reset, timeouts: worth retrying later
    Permanent,     // any other 4xx: retrying will not help
    Malformed,     // a response that does not have the documented shape
  };
  Kind kind = Kind::Permanent;
  int http = 0;         // HTTP status, 0 when no response arrived
  std::string code;     // Salesforce errorCode, e.g. INVALIDJOBSTATE; empty if none
  std::string message;  // Salesforce message, or what went wrong locally
  bool sent = false;    // the request may have reached Salesforce (outcome unknown if no reply)
  std::string retryAfter{};  // the reply's Retry-After header as sent (at most 64 bytes), or empty

  // One line for logs: "invalid-state (HTTP 400 INVALIDJOBSTATE: Aborting already ...)".
  std::string describe() const;
};

std::string_view kindName(ApiError::Kind kind);

// 403 REQUEST_LIMIT_EXCEEDED for the concurrent long-running request limit
// ("ConcurrentPerOrgLongTxn Limit exceeded.", "ConcurrentRequests ... Limit exceeded"): it clears
// in seconds, unlike the daily allowance ("TotalRequests Limit exceeded."). Told apart by message.
bool isConcurrentLimit(const ApiError& e);

// Salesforce refused the request before processing it: 503, 429, or the concurrent-limit 403.
// Nothing changed; sending the same PATCH or DELETE again later is safe.
bool refusedUnprocessed(const ApiError& e);

// The user may not act on this job: it was created by another user and the integration user
// lacks "Manage Data Integrations". Every reading Salesforce may send is accepted: 400 or 403
// with InvalidUser, INSUFFICIENT_ACCESS or INSUFFICIENT_ACCESS_OR_READONLY (any spelling).
bool isPermissionRefusal(const ApiError& e);

// A reply that does not have the documented shape (kind Malformed; the request was sent).
ApiError malformedReply(std::string message);

// A value or an ApiError. Deliberately tiny: std::expected is C++23. [[nodiscard]]: a call's
// failure is never dropped unseen.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(ApiError error) : v_(std::move(error)) {}  // NOLINT: implicit by design
  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  const ApiError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, ApiError> v_;
};

}  // namespace bulkwarden::salesforce
