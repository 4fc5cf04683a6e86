// What the integration user may do, for `validate --connect`: whether it holds "Manage Data
// Integrations", without which it can abort or delete only the jobs it created. Learned with two
// reads: the OpenID Connect UserInfo endpoint (GET /services/oauth2/userinfo: the user's id), then
// a SOQL query over PermissionSetAssignment (a profile owns a permission set too, so the one query
// covers permissions from the profile and from permission sets). Stateless; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "salesforce/ApiError.h"
#include "salesforce/BulkClient.h"

namespace bulkwarden::salesforce {

struct UserPermission {
  std::string userId;                   // 005...
  bool manageDataIntegrations = false;  // holds "Manage Data Integrations"
};

// The SOQL that finds an assignment granting the permission to `userId` (an id checked by
// parseUserInfo: letters and digits only, so it cannot break out of the quotes).
std::string manageDataIntegrationsQuery(std::string_view userId);

// `user_id` of a UserInfo reply (a JSON object, strictly parsed, at most 64 KiB): a Salesforce
// user id, 005 and 12 or 15 letters or digits; anything else is Malformed.
Result<std::string> parseUserInfo(std::string_view body);

// `totalSize` of a query reply ({"totalSize":N,"done":..,"records":[..]}); Malformed otherwise.
Result<int64_t> parseQueryTotal(std::string_view body);

// The two reads through `client` (two API calls). An error names what failed.
Result<UserPermission> checkManageDataIntegrations(BulkClient& client,
                                                   const std::string& apiVersion);

}  // namespace bulkwarden::salesforce
