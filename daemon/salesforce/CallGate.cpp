#include "salesforce/CallGate.h"

namespace bulkwarden::salesforce {

namespace {
thread_local std::optional<CallPurpose> tCurrent;
}

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

}  // namespace bulkwarden::salesforce
