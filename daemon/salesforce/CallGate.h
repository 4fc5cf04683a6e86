// The gate every request to an org passes before it is sent: the org's daily API budget
// (engine/ApiBudget.h) counts it by purpose, or refuses it. BulkClient asks it for each HTTP
// request (list pages, reads, actions, probes, the version check), the token providers for each
// token request. Implementations are thread-safe (every thread that calls the org asks).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
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

}  // namespace bulkwarden::salesforce
