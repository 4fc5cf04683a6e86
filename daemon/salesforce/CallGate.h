// The gate every request to an org passes before it is sent: the org's daily API budget
// (engine/ApiBudget.h) counts it by purpose, or refuses it. BulkClient asks it for each HTTP
// request (list pages, reads, actions, probes, the version check), the token providers for each
// token request. Implementations are thread-safe (every thread that calls the org asks).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "salesforce/ApiError.h"

namespace bulkwarden::salesforce {

// Why a call is made. A GET of one job is a follow-up read or a recovery read by the scope of
// the thread that makes it (PurposeScope), else part of an action (the check after a refusal).
enum class CallPurpose { List, FollowUp, Action, Recovery, Token, Probe };
inline constexpr size_t kCallPurposes = 6;
// "list", "follow-up", "action", "recovery", "token", "probe".
std::string_view purposeName(CallPurpose purpose);
using CallCounts = std::array<int64_t, kCallPurposes>;

// The code of the ApiError a refused call returns: nothing was sent.
inline constexpr std::string_view kBudgetErrorCode = "API_BUDGET";

class CallGate {
 public:
  virtual ~CallGate() = default;
  // Just before a request goes out: nullopt to send it (it is then counted), or the error to
  // return instead of sending (ApiError code API_BUDGET, sent false).
  [[nodiscard]] virtual std::optional<ApiError> admit(CallPurpose purpose) = 0;
  // The org's daily allowance, as a reply's Sforce-Limit-Info just reported it.
  virtual void allowance(int64_t max) = 0;
};

// While it lives, the GETs of one job made on this thread count as `purpose`. Not shared.
class PurposeScope {
 public:
  explicit PurposeScope(CallPurpose purpose);
  ~PurposeScope();
  PurposeScope(const PurposeScope&) = delete;
  PurposeScope& operator=(const PurposeScope&) = delete;
  static std::optional<CallPurpose> current();

 private:
  std::optional<CallPurpose> previous_;
};

// The last check before a request that may change the org goes out (any request not marked
// idempotent: an abort's PATCH, a delete, a 1.0 abort's POST). In cluster mode it asks whether
// this node still holds the org's lease long enough for the request, bounded by its deadline, to
// end before the lease can expire (cluster/LeaseManager.h mayAct). BulkClient asks it before EVERY
// such send on the thread that set it, the one after a token renewal (a 401) included, so that
// no time spent before a send (renewing a token, waiting for a connection) can push the request
// past the lease. While it lives, this thread's writes are fenced by `check` (the innermost
// scope's, when nested). Not shared.
class SendFence {
 public:
  // nullopt: send; else the error to return instead (nothing sent: `sent` false).
  using Check = std::function<std::optional<ApiError>()>;
  explicit SendFence(Check check);
  ~SendFence();
  SendFence(const SendFence&) = delete;
  SendFence& operator=(const SendFence&) = delete;
  // The fence of this thread, or null.
  static const Check* current();

 private:
  Check check_;
  const Check* previous_;
};

// The code of the ApiError a write refused for want of a fence returns (ClientOptions::
// writesNeedFence; cluster mode): nothing was sent.
inline constexpr std::string_view kNotSentErrorCode = "NOT_SENT";

}  // namespace bulkwarden::salesforce
