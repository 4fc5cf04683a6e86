#include "salesforce/ApiError.h"

#include <fmt/format.h>

#include <cctype>

namespace bulkwarden::salesforce {

ApiError malformedReply(std::string message) {
  return ApiError{ApiError::Kind::Malformed, 0, {}, std::move(message), true};
}

bool isConcurrentLimit(const ApiError& e) {
  std::string code;
  for (char c : e.code) {
    if (c != '_') code.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return e.kind == ApiError::Kind::Transient && e.http == 403 && code == "REQUESTLIMITEXCEEDED";
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
