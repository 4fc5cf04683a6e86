// BulkClient's pure parts: where the next list page comes from, and construction checks.
// Requests against the simulated org are integration tests.
#include "salesforce/BulkClient.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace bulkwarden::salesforce {
namespace {

const std::string kQuery = "/services/data/v62.0/jobs/query";
const std::string kIngest = "/services/data/v62.0/jobs/ingest";

std::string target(const std::string& beganWith, const std::string& next) {
  auto r = nextListTarget(beganWith, next);
  EXPECT_TRUE(r.ok()) << next << ": " << (r.ok() ? "" : r.error().describe());
  return r.ok() ? r.value() : std::string();
}

void refused(const std::string& next) {
  auto r = nextListTarget(kQuery, next);
  ASSERT_FALSE(r.ok()) << next << " -> " << r.value();
  EXPECT_EQ(r.error().kind, ApiError::Kind::Malformed);
}

TEST(NextListTarget, LocatorIsReissuedOnThePathTheListingBeganWith) {
  // The docs' quirk (docs/salesforce.md 12.1): a query listing pointing at /jobs/ingest.
  EXPECT_EQ(target(kQuery, "/services/data/v66.0/jobs/ingest?queryLocator=01gR0000000opRTIAY-2000"),
            kQuery + "?queryLocator=01gR0000000opRTIAY-2000");
  EXPECT_EQ(target(kQuery, "/services/data/v62.0/jobs/query?queryLocator=01gRM000000NS1vYAG-1000"),
            kQuery + "?queryLocator=01gRM000000NS1vYAG-1000");
  EXPECT_EQ(target(kIngest, "/services/data/v62.0/jobs/query?queryLocator=01gRM000000NS1vYAG-1000"),
            kIngest + "?queryLocator=01gRM000000NS1vYAG-1000");
}

TEST(NextListTarget, LocatorAmongOtherParametersOrOnAnAbsoluteUrl) {
  EXPECT_EQ(
      target(kQuery, "/services/data/v62.0/jobs/query?jobType=V2Query&queryLocator=01gX-3000"),
      kQuery + "?queryLocator=01gX-3000");
  EXPECT_EQ(
      target(kQuery, "/services/data/v62.0/jobs/query?queryLocator=01gX-3000&jobType=V2Query"),
      kQuery + "?queryLocator=01gX-3000");
  // The host of an absolute URL is never used: only the locator is taken.
  EXPECT_EQ(target(kQuery, "https://evil.example.com/x?queryLocator=01gX-4000"),
            kQuery + "?queryLocator=01gX-4000");
  EXPECT_EQ(target(kQuery, "?queryLocator=01gX-5000"), kQuery + "?queryLocator=01gX-5000");
  EXPECT_EQ(target(kQuery, "/services/data/v62.0/jobs/query?queryLocator=01gX-6000#frag"),
            kQuery + "?queryLocator=01gX-6000");
}

TEST(NextListTarget, BadLocatorsAreRefused) {
  refused("/services/data/v62.0/jobs/query?queryLocator=");
  refused("/services/data/v62.0/jobs/query?queryLocator=a/b");
  refused("/services/data/v62.0/jobs/query?queryLocator=a%2Fb");
  refused("/services/data/v62.0/jobs/query?queryLocator=a b");
  refused("/services/data/v62.0/jobs/query?queryLocator=a&queryLocator=b");
  refused("/services/data/v62.0/jobs/query?queryLocator=" + std::string(300, 'a'));
  refused("/services/data/v62.0/jobs/query?queryLocator=a\r\nX-Injected: 1");
}

TEST(NextListTarget, WithoutLocatorFollowsOnlyTheListingsOwnPath) {
  EXPECT_EQ(target(kQuery, "/services/data/v62.0/jobs/query?page=2"),
            "/services/data/v62.0/jobs/query?page=2");
  EXPECT_EQ(target(kIngest, "/services/data/v62.0/jobs/ingest?jobType=V2Ingest&offset=1000"),
            "/services/data/v62.0/jobs/ingest?jobType=V2Ingest&offset=1000");
  // Compared percent-decoded, and re-issued on the listing's own path as the client spells it.
  EXPECT_EQ(target(kQuery, "/services/data/v62%2E0/jobs/%71uery?page=3"),
            "/services/data/v62.0/jobs/query?page=3");
  // A parameter merely starting with "queryLocator" is not a locator.
  EXPECT_EQ(target(kQuery, "/services/data/v62.0/jobs/query?queryLocatorX=1"),
            "/services/data/v62.0/jobs/query?queryLocatorX=1");
  refused("");
  refused("https://evil.example.com/services/data/v62.0/jobs/query?page=2");
  refused("//evil.example.com/services/data/v62.0/jobs/query");
  refused("/services/data//evil");
  refused("/services/data/../../admin");
  refused("/services/data/v62.0/./jobs");
  refused("/services/apexrest/x");
  refused("services/data/v62.0/jobs/query");
  refused("/services/data/v62.0/jobs/query?x=a b");
  refused("/services/data/v62.0/jobs/query\r\nHost: evil");
  refused("/services/data/v62.0/jobs/query\\x");
  refused("/services/data/v62.0/jobs/query?x=" + std::string(3000, 'a'));
}

// Issue 11 item 15: without a locator, a next URL on the same host but another path is refused,
// however it is spelled.
TEST(NextListTarget, WithoutLocatorAnyOtherPathOnTheHostIsRefused) {
  refused("/services/data/%2e%2e/x");
  refused("/services/data/%2E%2E/%2e%2e/services/apexrest/x");
  refused("/services/data/v62.0/sobjects/Account");
  refused("/services/data/v62.0/jobs/query/../../sobjects");
  refused("/services/data/v62.0/jobs/query/%2e%2e/%2e%2e/sobjects");
  refused("/services/data/v62.0/jobs/query/.");
  refused("/services/data/v62.0/jobs/query/");
  refused("/services/data/v62.0/jobs/query/next-page-token");
  refused("/services/data/v62.0/jobs/query/750R0000000zlh9IAA");
  refused("/services/data/v62.0/jobs%2Fquery");      // an escaped slash
  refused("/services/data/v62.0/jobs%2fquery?p=2");  // in either case
  refused("/services/data/v62.0/jobs%5Cquery");      // an escaped backslash
  refused("/services/data/v62.0/jobs/query%00");
  refused("/services/data/v62.0/jobs/query%");
  refused("/services/data/v62.0/jobs/query%4");
  refused("/services/data/v62.0/jobs/query%zz");
  refused("/services/data/v61.0/jobs/query?page=2");  // another API version
  // Without a locator, the docs' /jobs/ingest quirk would list the other resource: refused.
  refused("/services/data/v62.0/jobs/ingest?page=2");
  auto r = nextListTarget(kQuery, "/services/data/v62.0/sobjects/Account");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not the listing's own path"), std::string::npos)
      << r.error().message;
}

ClientOptions options(const std::string& url) {
  ClientOptions o;
  o.instanceUrl = url;
  return o;
}

TEST(BulkClient, ConstructionChecks) {
  auto tokens = std::make_shared<AccessTokenProvider>("00Dx!token");
  EXPECT_NO_THROW(BulkClient(options("http://127.0.0.1:8080"), tokens));
  EXPECT_NO_THROW(BulkClient(options("https://acme.my.salesforce.com"), tokens));
  EXPECT_THROW(BulkClient(options("http://acme.my.salesforce.com"), tokens), std::invalid_argument);
  EXPECT_THROW(BulkClient(options("ftp://acme.my.salesforce.com"), tokens), std::invalid_argument);
  EXPECT_THROW(BulkClient(options("https://acme.my.salesforce.com/services"), tokens),
               std::invalid_argument);
  EXPECT_THROW(BulkClient(options("https://acme.my.salesforce.com"), nullptr),
               std::invalid_argument);
  for (const char* version : {"", "62", "v62.0", "62.0.1", "6.0", "62.x", "1234.0"}) {
    ClientOptions o = options("https://acme.my.salesforce.com");
    o.apiVersion = version;
    EXPECT_THROW(BulkClient(o, tokens), std::invalid_argument) << version;
  }
  ClientOptions o = options("https://acme.my.salesforce.com");
  o.caFile = "/nonexistent/ca.pem";
  EXPECT_THROW(BulkClient(o, tokens), std::invalid_argument);
}

TEST(BulkClient, PathsAndNothingSentForBadIds) {
  auto tokens = std::make_shared<AccessTokenProvider>("00Dx!token");
  ClientOptions o = options("http://127.0.0.1:9");
  o.apiVersion = "61.0";
  BulkClient client(o, tokens);
  EXPECT_EQ(client.basePath(model::ResourceKind::Query), "/services/data/v61.0/jobs/query");
  EXPECT_EQ(client.basePath(model::ResourceKind::Ingest), "/services/data/v61.0/jobs/ingest");
  for (const char* id : {"", "../../limits", "750R0000000zlh9IAA/results", "001R0000000zlh9IAA"}) {
    auto a = client.abort(model::ResourceKind::Query, id);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().kind, ApiError::Kind::Permanent);
    EXPECT_FALSE(a.error().sent);
    EXPECT_FALSE(client.remove(model::ResourceKind::Ingest, id).ok());
    EXPECT_FALSE(client.get(model::ResourceKind::Query, id).ok());
  }
  EXPECT_EQ(client.calls(), 0);
  EXPECT_EQ(client.usage().max, 0);
}

}  // namespace
}  // namespace bulkwarden::salesforce

namespace bulkwarden::salesforce {
namespace {

std::string limitBody(const std::string& message) {
  return R"([{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":")" + message + R"("}])";
}

// docs/salesforce.md 14.2: the two 403 REQUEST_LIMIT_EXCEEDED kinds, told apart by the
// message and, for an unknown message, by Sforce-Limit-Info.
TEST(ClassifyReply, TheDailyAndTheConcurrentLimitAreToldApart) {
  auto daily =
      classifyReply(403, limitBody("TotalRequests Limit exceeded."), "api-usage=15001/15000");
  EXPECT_EQ(daily.kind, ApiError::Kind::LimitExceeded);
  EXPECT_FALSE(isConcurrentLimit(daily));
  // The message decides even when the header would say otherwise.
  EXPECT_EQ(
      classifyReply(403, limitBody("TotalRequests Limit exceeded."), "api-usage=10/15000").kind,
      ApiError::Kind::LimitExceeded);
  for (const char* m : {"ConcurrentPerOrgLongTxn Limit exceeded.",
                        "ConcurrentRequests (Concurrent API Requests) Limit exceeded."}) {
    SCOPED_TRACE(m);
    auto e = classifyReply(403, limitBody(m), "api-usage=15001/15000");
    EXPECT_EQ(e.kind, ApiError::Kind::Transient);
    EXPECT_TRUE(isConcurrentLimit(e));
    EXPECT_EQ(e.http, 403);
    EXPECT_EQ(e.code, "REQUEST_LIMIT_EXCEEDED");
    EXPECT_NE(e.describe().find(m), std::string::npos) << e.describe();
  }
  // An unknown message: the daily kind unless the header shows room.
  EXPECT_EQ(classifyReply(403, limitBody("Limit exceeded."), "").kind,
            ApiError::Kind::LimitExceeded);
  EXPECT_EQ(classifyReply(403, limitBody("Limit exceeded."), "api-usage=14900/15000").kind,
            ApiError::Kind::LimitExceeded);
  EXPECT_TRUE(
      isConcurrentLimit(classifyReply(403, limitBody("Limit exceeded."), "api-usage=20/15000")));
  // Other replies are classified as before.
  // 429 is the throttled, retried kind, whatever the body or header says.
  EXPECT_EQ(classifyReply(429, "", "").kind, ApiError::Kind::Transient);
  EXPECT_EQ(classifyReply(429, limitBody("TotalRequests Limit exceeded."), "api-usage=5/5").kind,
            ApiError::Kind::Transient);
  EXPECT_EQ(classifyReply(403, R"([{"errorCode":"FORBIDDEN","message":"x"}])", "").kind,
            ApiError::Kind::Permanent);
  EXPECT_FALSE(isConcurrentLimit(classifyReply(503, "", "")));
}

std::string versions(std::initializer_list<const char*> list) {
  std::string body = "[";
  for (const char* v : list) {
    if (body.size() > 1) body += ',';
    body +=
        std::string(R"({"label":"x","url":"/services/data/v)") + v + R"(","version":")" + v + "\"}";
  }
  return body + "]";
}

TEST(VersionList, TheConfiguredVersionMustBeServed) {
  auto ok = checkVersionList(versions({"60.0", "61.0", "62.0", "66.0", "67.0"}), "62.0");
  EXPECT_EQ(ok.error, "");
  EXPECT_EQ(ok.warning, "");
  EXPECT_EQ(ok.newest, "67.0");
  auto missing = checkVersionList(versions({"63.0", "64.0", "67.0"}), "62.0");
  EXPECT_NE(
      missing.error.find("api-version 62.0 is not served by this org (it serves 63.0 to 67.0)"),
      std::string::npos)
      << missing.error;
}

TEST(VersionList, ThreeDigitVersionsAreComparedAsNumbers) {
  auto r = checkVersionList(versions({"99.0", "100.0", "101.0"}), "100.0");
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.newest, "101.0");
  auto old = checkVersionList(versions({"62.0", "99.0", "100.0", "101.0"}), "62.0");
  EXPECT_EQ(old.error, "");
  EXPECT_NE(old.warning.find("39 releases behind the newest this org serves (101.0)"),
            std::string::npos)
      << old.warning;
}

TEST(VersionList, NineReleasesBehindIsOld) {
  EXPECT_EQ(checkVersionList(versions({"59.0", "67.0"}), "59.0").warning, "");
  EXPECT_NE(checkVersionList(versions({"58.0", "67.0"}), "58.0").warning, "");
}

TEST(VersionList, AnUnusableListIsAnErrorWithoutANewestVersion) {
  for (const char* body : {"", "{}", "[1,2]", R"([{"version":"sixty"}])", "<html>"}) {
    SCOPED_TRACE(body);
    auto r = checkVersionList(body, "62.0");
    EXPECT_NE(r.error, "");
    EXPECT_EQ(r.newest, "");
  }
}

}  // namespace
}  // namespace bulkwarden::salesforce
