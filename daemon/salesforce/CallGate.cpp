#include "salesforce/CallGate.h"

#include <utility>

namespace bulkwarden::salesforce {

namespace {
thread_local std::optional<CallPurpose> tCurrent;
thread_local const SendFence::Check* tFence = nullptr;
}  // namespace

std::string_view purposeName(CallPurpose purpose) {
  switch (purpose) {
    case CallPurpose::List:
      return "list";
    case CallPurpose::FollowUp:
      return "follow-up";
    case CallPurpose::Action:
      return "action";
    case CallPurpose::Recovery:
      return "recovery";
    case CallPurpose::Token:
      return "token";
    case CallPurpose::Probe:
      return "probe";
  }
  return "probe";
}

PurposeScope::PurposeScope(CallPurpose purpose) : previous_(tCurrent) { tCurrent = purpose; }
PurposeScope::~PurposeScope() { tCurrent = previous_; }
std::optional<CallPurpose> PurposeScope::current() { return tCurrent; }

SendFence::SendFence(Check check) : check_(std::move(check)), previous_(tFence) {
  tFence = &check_;
}
SendFence::~SendFence() { tFence = previous_; }
const SendFence::Check* SendFence::current() { return tFence; }

}  // namespace bulkwarden::salesforce
