#include "salesforce/ApiError.h"

#include "salesforce/BulkJobs.h"

#include <fmt/format.h>

#include <cctype>

namespace bulkwarden::salesforce {

ApiError classicUnsupported() {
  return ApiError{
      ApiError::Kind::Permanent, 0, {}, "this client does not speak Bulk API 1.0", false};
}

ApiError malformedReply(std::string message) {
  return ApiError{ApiError::Kind::Malformed, 0, {}, std::move(message), true};
}

namespace {

// "INSUFFICIENT_ACCESS" and "InsufficientAccess" alike: upper case, no underscores.
std::string normalCode(std::string_view code) {
  std::string out;
  for (char c : code.substr(0, 100)) {
    if (c != '_') out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

}  // namespace

bool isConcurrentLimit(const ApiError& e) {
  if (e.http != 403 || normalCode(e.code) != "REQUESTLIMITEXCEEDED") return false;
  std::string_view m = e.message;
  while (!m.empty() && m.front() == ' ') m.remove_prefix(1);
  // Kind Transient: already classified as the concurrent kind where the reply was read.
  return e.kind == ApiError::Kind::Transient || m.rfind("ConcurrentPerOrgLongTxn", 0) == 0 ||
         m.rfind("ConcurrentRequests", 0) == 0;
}

bool refusedUnprocessed(const ApiError& e) {
  return e.http == 503 || e.http == 429 || isConcurrentLimit(e);
}

bool isPermissionRefusal(const ApiError& e) {
  if (e.http != 403 && e.http != 400) return false;
  const std::string code = normalCode(e.code);
  return code == "INVALIDUSER" || code == "INSUFFICIENTACCESS" ||
         code == "INSUFFICIENTACCESSORREADONLY";
}

std::string_view kindName(ApiError::Kind kind) {
  switch (kind) {
    case ApiError::Kind::Unauthorized:
      return "unauthorized";
    case ApiError::Kind::LimitExceeded:
      return "limit-exceeded";
    case ApiError::Kind::InvalidState:
      return "invalid-state";
    case ApiError::Kind::NotFound:
      return "not-found";
    case ApiError::Kind::Transient:
      return "transient";
    case ApiError::Kind::Permanent:
      return "permanent";
    case ApiError::Kind::Malformed:
      return "malformed";
  }
  return "?";
}

std::string ApiError::describe() const {
  std::string detail;
  if (http != 0) detail = fmt::format("HTTP {}", http);
  if (!code.empty()) detail += (detail.empty() ? "" : " ") + code;
  if (!message.empty()) detail += (detail.empty() ? "" : ": ") + message;
  if (detail.empty()) return std::string(kindName(kind));
  return fmt::format("{} ({})", kindName(kind), detail);
}

}  // namespace bulkwarden::salesforce
