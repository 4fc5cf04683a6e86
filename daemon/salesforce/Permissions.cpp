#include "salesforce/Permissions.h"

#include <Poco/URI.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "salesforce/JobMapping.h"
#include "salesforce/StrictJson.h"

namespace bulkwarden::salesforce {
namespace {

constexpr std::size_t kMaxReply = 64 * 1024;

Result<Poco::JSON::Object::Ptr> object(std::string_view body, std::string_view what) {
  if (body.size() > kMaxReply) {
    return malformedReply(
        fmt::format("{}: {} bytes, over the {} accepted", what, body.size(), kMaxReply));
  }
  auto parsed = parseStrictJson(body);
  if (auto* why = std::get_if<std::string>(&parsed)) {
    return malformedReply(fmt::format("{}: {}", what, *why));
  }
  auto o = asObject(std::get<Poco::Dynamic::Var>(parsed));
  if (!o) return malformedReply(fmt::format("{}: not a JSON object", what));
  return o;
}

bool isUserId(std::string_view id) {
  return (id.size() == 15 || id.size() == 18) && id.substr(0, 3) == "005" &&
         std::all_of(id.begin(), id.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

std::string manageDataIntegrationsQuery(std::string_view userId) {
  return fmt::format(
      "SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = '{}' AND "
      "PermissionSet.PermissionsManageDataIntegrations = true LIMIT 1",
      userId);
}

Result<std::string> parseUserInfo(std::string_view body) {
  auto o = object(body, "userinfo");
  if (!o) return o.error();
  auto id = optionalText(*o.value(), "user_id");
  if (!id || !isUserId(*id)) return malformedReply("userinfo: no valid user_id");
  return *id;
}

Result<int64_t> parseQueryTotal(std::string_view body) {
  auto o = object(body, "query");
  if (!o) return o.error();
  const auto& v = o.value()->get("totalSize");
  if (!v.isInteger()) return malformedReply("query: totalSize is not an integer");
  const auto n = v.convert<int64_t>();
  if (n < 0) return malformedReply("query: totalSize is negative");
  return n;
}

Result<UserPermission> checkManageDataIntegrations(BulkClient& client,
                                                   const std::string& apiVersion) {
  UserPermission out;
  auto info = client.read("/services/oauth2/userinfo");
  if (!info) return info.error();
  if (info.value().status != 200) return classify(info.value().status, info.value().body);
  auto id = parseUserInfo(info.value().body);
  if (!id) return id.error();
  out.userId = id.value();
  std::string q;
  Poco::URI::encode(manageDataIntegrationsQuery(out.userId), "&=+?#%'", q);
  auto r = client.read(fmt::format("/services/data/v{}/query?q={}", apiVersion, q));
  if (!r) return r.error();
  if (r.value().status != 200) return classify(r.value().status, r.value().body);
  auto total = parseQueryTotal(r.value().body);
  if (!total) return total.error();
  out.manageDataIntegrations = total.value() > 0;
  return out;
}

}  // namespace bulkwarden::salesforce
