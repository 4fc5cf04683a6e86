// Which refusals mean "not processed, send it again later" and which mean "not permitted".
#include "salesforce/ApiError.h"

#include <gtest/gtest.h>

namespace bulkwarden::salesforce {
namespace {

ApiError e(int http, std::string code, std::string message) {
  return ApiError{ApiError::Kind::Permanent, http, std::move(code), std::move(message), true};
}

TEST(ApiErrorClass, TheConcurrentLimitIsToldFromTheDailyOneByItsMessage) {
  EXPECT_TRUE(isConcurrentLimit(
      e(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")));
  EXPECT_TRUE(isConcurrentLimit(e(403, "REQUEST_LIMIT_EXCEEDED",
                                  "ConcurrentRequests (Concurrent API Requests) Limit exceeded.")));
  EXPECT_FALSE(
      isConcurrentLimit(e(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")));
  EXPECT_FALSE(isConcurrentLimit(e(403, "REQUEST_LIMIT_EXCEEDED", "")));
  // The word elsewhere in the message is not the concurrent kind.
  EXPECT_FALSE(isConcurrentLimit(
      e(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded. ConcurrentRequests")));
  EXPECT_FALSE(isConcurrentLimit(e(400, "REQUEST_LIMIT_EXCEEDED", "ConcurrentRequests")));
}

TEST(ApiErrorClass, RefusedUnprocessedIs503Or429OrTheConcurrentLimit) {
  EXPECT_TRUE(refusedUnprocessed(e(503, "SERVER_UNAVAILABLE", "Server too busy")));
  EXPECT_TRUE(refusedUnprocessed(e(429, "", "")));
  EXPECT_TRUE(refusedUnprocessed(
      e(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")));
  EXPECT_FALSE(refusedUnprocessed(e(500, "UNKNOWN_EXCEPTION", "")));  // may have been processed
  EXPECT_FALSE(refusedUnprocessed(e(502, "", "")));
  EXPECT_FALSE(refusedUnprocessed(e(0, "", "connection reset")));
  EXPECT_FALSE(
      refusedUnprocessed(e(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")));
}

TEST(ApiErrorClass, EveryReadingOfAPermissionRefusalIsOne) {
  for (const char* code : {"InvalidUser", "INVALIDUSER", "INVALID_USER", "INSUFFICIENT_ACCESS",
                           "InsufficientAccess", "INSUFFICIENT_ACCESS_OR_READONLY"}) {
    EXPECT_TRUE(isPermissionRefusal(e(403, code, "x"))) << code;
    EXPECT_TRUE(isPermissionRefusal(e(400, code, "x"))) << code;
  }
  EXPECT_FALSE(isPermissionRefusal(e(403, "REQUEST_LIMIT_EXCEEDED", "x")));
  EXPECT_FALSE(isPermissionRefusal(e(404, "INSUFFICIENT_ACCESS", "x")));
  EXPECT_FALSE(isPermissionRefusal(e(403, std::string(10000, 'A'), "x")));  // hostile: no crash
}

}  // namespace
}  // namespace bulkwarden::salesforce
