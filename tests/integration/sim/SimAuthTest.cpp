// Session and allowance: 401 shape, token revocation, Sforce-Limit-Info, REQUEST_LIMIT_EXCEEDED,
// routes, versions and limits resources.
#include <regex>

#include "SimTestSupport.h"

namespace bulkwarden::sim::testing {
namespace {

void expectUnauthorized(const Reply& r) {
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.reason, "Unauthorized");
  EXPECT_EQ(r.errorCode(), "INVALID_SESSION_ID");
  EXPECT_EQ(r.errorMessage(), "Session expired or invalid");
  EXPECT_EQ(r.header("WWW-Authenticate"), "Token");
  EXPECT_FALSE(r.header("Sforce-Limit-Info").has_value());
  EXPECT_EQ(r.header("Content-Type"), "application/json;charset=UTF-8");
}

TEST(SimAuth, TokenLooksLikeASessionId) {
  SimServer server(SimOptions{});
  const std::regex shape(R"(^00D[A-Za-z0-9]{15}![A-Za-z0-9._]{40,}$)");
  EXPECT_TRUE(std::regex_match(server.token(), shape)) << server.token();
  SimServer same(SimOptions{});
  EXPECT_EQ(same.token(), server.token()) << "the token comes from the seed";
  SimOptions other;
  other.seed = 2;
  EXPECT_NE(SimServer(other).token(), server.token());
  SimOptions given;
  given.token = "00DR00000000001!AQgiven";
  EXPECT_EQ(SimServer(given).token(), "00DR00000000001!AQgiven");
}

TEST(SimAuth, MissingWrongOrRevokedTokenGets401) {
  SimServer server(SimOptions{});
  const std::string id = server.org().addJob(seed("query", "InProgress"));
  server.start();
  Client client(server.port());
  const std::string list = std::string(kBase) + "/jobs/query";
  expectUnauthorized(client.call("GET", list, "", "", false));
  expectUnauthorized(client.get(list, server.token() + "x"));
  expectUnauthorized(client.get(list, "00DR0000000xxxx!AQwrong"));
  EXPECT_EQ(client.get(list, server.token()).status, 200);
  const std::string old = server.token();
  server.org().revokeToken();
  expectUnauthorized(client.get(list, old));
  expectUnauthorized(client.call("PATCH", std::string(kBase) + "/jobs/query/" + id, old,
                                 R"({"state":"Aborted"})"));
  EXPECT_EQ(server.org().state(id), "InProgress");
  server.org().setToken("00DR0000000AAAA!AQfresh.token_0123456789abcdefghijklmnopqrstu");
  expectUnauthorized(client.get(list, old));
  EXPECT_EQ(client.get(list, server.token()).status, 200);
  EXPECT_EQ(server.org().counters().unauthorized, 6);
  // Unauthorized calls do not use the allowance.
  EXPECT_EQ(server.org().apiUsed(), 2);
}

TEST(SimAuth, EveryAuthenticatedCallCountsAndShowsLimitInfo) {
  SimOptions o;
  o.apiMax = 5000;
  SimServer server(o);
  const std::string id = server.org().addJob(seed("query", "InProgress"));
  server.start();
  Client client(server.port());
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"GET", "/jobs/query"},
      {"GET", "/jobs/query/" + id},
      {"GET", "/jobs/query/750R0000000zzzzIAA"},  // 404 counts too
      {"GET", "/limits"},
      {"DELETE", "/jobs/query/" + id},  // 400 counts too
      {"GET", "/nothing/here"}};
  int n = 0;
  for (const auto& [method, path] : calls) {
    const Reply r = client.call(method, std::string(kBase) + path, server.token());
    ++n;
    EXPECT_EQ(r.header("Sforce-Limit-Info"), fmt::format("api-usage={}/5000", n)) << path;
    EXPECT_TRUE(r.header("Date").has_value()) << path;
  }
  EXPECT_EQ(server.org().apiUsed(), n);
  // The versions resource needs no session and is free.
  const Reply versions = client.call("GET", "/services/data/", "", "", false);
  EXPECT_EQ(versions.status, 200);
  EXPECT_FALSE(versions.header("Sforce-Limit-Info").has_value());
  const auto array = versions.array();
  ASSERT_GT(array->size(), 0U);
  bool has62 = false;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const auto v = array->getObject(static_cast<unsigned>(i));
    if (v->getValue<std::string>("version") == "62.0") {
      has62 = true;
      EXPECT_EQ(v->getValue<std::string>("url"), "/services/data/v62.0");
    }
  }
  EXPECT_TRUE(has62);
  EXPECT_EQ(server.org().apiUsed(), n);
}

TEST(SimAuth, LimitsResourceReportsTheAllowance) {
  SimOptions o;
  o.apiMax = 100;
  SimServer server(o);
  server.start();
  Client client(server.port());
  client.get(std::string(kBase) + "/jobs/query", server.token());
  const Reply r = client.get(std::string(kBase) + "/limits", server.token());
  ASSERT_EQ(r.status, 200);
  const auto daily = r.object()->getObject("DailyApiRequests");
  EXPECT_EQ(daily->getValue<int64_t>("Max"), 100);
  EXPECT_EQ(daily->getValue<int64_t>("Remaining"), 98);
}

TEST(SimAuth, RequestLimitExceededAtMax) {
  SimOptions o;
  o.apiMax = 3;
  SimServer server(o);
  server.start();
  Client client(server.port());
  const std::string list = std::string(kBase) + "/jobs/ingest";
  for (int i = 1; i <= 3; ++i) {
    const Reply r = client.get(list, server.token());
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Sforce-Limit-Info"), fmt::format("api-usage={}/3", i));
  }
  for (int i = 0; i < 2; ++i) {
    const Reply r = client.get(list, server.token());
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.errorCode(), "REQUEST_LIMIT_EXCEEDED");
    EXPECT_EQ(r.errorMessage(), "TotalRequests Limit exceeded.");
    EXPECT_EQ(r.header("Sforce-Limit-Info"), "api-usage=3/3");
  }
  server.org().setApiUsed(0);
  EXPECT_EQ(client.get(list, server.token()).status, 200);
}

TEST(SimAuth, UnknownRoutesAndWrongMethods) {
  SimServer server(SimOptions{});
  const std::string id = server.org().addJob(seed("query", "InProgress"));
  server.start();
  Client client(server.port());
  for (const std::string& path : std::vector<std::string>{
           "/services/data/v62.0/jobs/bulk", "/services/data/v62.0/jobs", "/services/other",
           "/services/data/vX/jobs/query", "/services/data/v62.0/jobs/query/" + id + "/nope/x"}) {
    const Reply r = client.get(path, server.token());
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.errorCode(), "NOT_FOUND") << path;
  }
  const Reply retired = client.get("/services/data/v29.0/jobs/query", server.token());
  EXPECT_EQ(retired.status, 410);
  EXPECT_FALSE(retired.errorCode().empty());
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"PUT", std::string(kBase) + "/jobs/query/" + id},
           {"DELETE", std::string(kBase) + "/jobs/query"},
           {"POST", std::string(kBase) + "/limits"}}) {
    const Reply r = client.call(method, path, server.token());
    EXPECT_EQ(r.status, 405) << method << " " << path;
    EXPECT_EQ(r.errorCode(), "METHOD_NOT_ALLOWED");
    EXPECT_TRUE(r.header("Allow").has_value());
  }
  EXPECT_EQ(server.org().state(id), "InProgress");
}

}  // namespace
}  // namespace bulkwarden::sim::testing
