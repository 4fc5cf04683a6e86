// The two replies `validate --connect` reads to learn the user's permission: strict and capped.
#include "salesforce/Permissions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace bulkwarden::salesforce {
namespace {

using ::testing::HasSubstr;

TEST(Permissions, UserInfoGivesTheUserId) {
  auto id = parseUserInfo(
      R"({"sub":"https://login.salesforce.com/id/00DR/005R0000000bWkzIAE","user_id":"005R0000000bWkzIAE","organization_id":"00DR0000000xxxxAAA"})");
  ASSERT_TRUE(id.ok()) << id.error().describe();
  EXPECT_EQ(id.value(), "005R0000000bWkzIAE");
}

// The id goes into a SOQL string: only a real user id is accepted, never a quote.
TEST(Permissions, AHostileUserInfoIsRefused) {
  for (const char* body :
       {R"({"user_id":"005' OR Id != '"})", R"({"user_id":"00DR0000000bWkzIAE"})",
        R"({"user_id":5})", R"({})", R"([])", R"({"user_id":"005R0000000bWkzIAE","user_id":"x"})",
        "not json"}) {
    auto r = parseUserInfo(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().kind, ApiError::Kind::Malformed) << body;
  }
  std::string huge =
      R"({"user_id":"005R0000000bWkzIAE","pad":")" + std::string(70'000, 'a') + "\"}";
  auto r = parseUserInfo(huge);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("over the"));
}

TEST(Permissions, QueryTotalIsANonNegativeInteger) {
  auto one = parseQueryTotal(R"({"totalSize":1,"done":true,"records":[{"Id":"0Pa"}]})");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one.value(), 1);
  EXPECT_EQ(parseQueryTotal(R"({"totalSize":0,"done":true,"records":[]})").value(), 0);
  for (const char* body : {R"({"totalSize":"1"})", R"({"totalSize":-1})", R"({"done":true})",
                           R"({"totalSize":1.5})", "[]"}) {
    EXPECT_FALSE(parseQueryTotal(body).ok()) << body;
  }
}

TEST(Permissions, TheQueryNamesTheUserAndThePermission) {
  EXPECT_EQ(manageDataIntegrationsQuery("005R0000000bWkzIAE"),
            "SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = '005R0000000bWkzIAE' AND "
            "PermissionSet.PermissionsManageDataIntegrations = true LIMIT 1");
}

}  // namespace
}  // namespace bulkwarden::salesforce
