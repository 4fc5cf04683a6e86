// The OAuth token providers with BulkClient against the simulated org over HTTPS: each flow logs
// in and learns the instance URL; refused logins name the OAuth error and back off without
// repeating the request; an expired session is renewed once, by one token request, however many
// requests hit the 401 together.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "ManualClock.h"
#include "auth/AuthSupport.h"
#include "salesforce/BulkClient.h"
#include "salesforce/OAuthTokenProvider.h"

namespace bulkwarden::testing {
namespace {

using namespace std::chrono_literals;
using salesforce::ApiError;
using salesforce::BulkClient;
using salesforce::OAuthFlow;
using salesforce::OAuthOptions;
using salesforce::OAuthTokenProvider;

class OAuthFlows : public AuthTest {
 protected:
  OAuthOptions options(OAuthFlow flow) const {
    OAuthOptions o;
    o.flow = flow;
    o.label = "test-org";
    o.loginUrl = server_->baseUrl();
    o.clientId = kClientId;
    o.username = kUsername;
    o.privateKeyPem = jwt_->privateKeyPem;
    if (flow == OAuthFlow::ClientCredentials) o.clientSecret = kClientSecret;
    if (flow == OAuthFlow::RefreshToken) o.refreshToken = kRefreshToken;
    o.errorBackoff = 10min;
    o.transport.caFile = pki_->caFile;
    o.transport.requestDeadline = 5s;
    return o;
  }

  std::unique_ptr<BulkClient> client(std::shared_ptr<OAuthTokenProvider> tokens) const {
    salesforce::ClientOptions c;  // no instance URL: it comes with the token
    c.caFile = pki_->caFile;
    c.requestDeadline = 5s;
    return std::make_unique<BulkClient>(c, std::move(tokens));
  }

  // A clock the test moves: the backoff is checked against it.
  testing::ManualClock now_;
  const model::Clock* clock() const { return &now_; }
};

TEST_F(OAuthFlows, EachFlowLogsInOverHttpsAndLearnsTheInstance) {
  startSim();
  org().addJob(job("query", "InProgress", 1h));
  for (OAuthFlow flow :
       {OAuthFlow::JwtBearer, OAuthFlow::ClientCredentials, OAuthFlow::RefreshToken}) {
    SCOPED_TRACE(std::string(salesforce::flowName(flow)));
    const auto before = org().counters();
    auto tokens = std::make_shared<OAuthTokenProvider>(options(flow));
    auto bulk = client(tokens);
    int jobs = 0;
    auto listed = bulk->list(model::ResourceKind::Query, [&](salesforce::Page&& p) {
      jobs += static_cast<int>(p.jobs.size());
    });
    ASSERT_TRUE(listed.ok()) << listed.error().describe();
    EXPECT_EQ(jobs, 1);
    EXPECT_EQ(tokens->instanceUrl(), server_->baseUrl());
    EXPECT_EQ(tokens->tokenRequests(), 1);
    const auto after = org().counters();
    EXPECT_EQ(after.tokensIssued - before.tokensIssued, 1);
    EXPECT_EQ(after.unauthorized, before.unauthorized);
    // The token is reused: a second call makes no token request.
    ASSERT_TRUE(bulk->list(model::ResourceKind::Query, [](salesforce::Page&&) {}).ok());
    EXPECT_EQ(tokens->tokenRequests(), 1);
  }
}

TEST_F(OAuthFlows, PkcsOneKeyWorksToo) {
  startSim();
  auto o = options(OAuthFlow::JwtBearer);
  o.privateKeyPem = jwt_->privateKeyPkcs1Pem;
  ASSERT_NE(o.privateKeyPem.find("BEGIN RSA PRIVATE KEY"), std::string::npos);
  OAuthTokenProvider tokens(o);
  auto t = tokens.token();
  ASSERT_TRUE(t.ok()) << t.error().describe();
}

struct Refusal {
  const char* name;
  std::function<void(OAuthOptions&, sim::SimOptions&)> change;
  const char* code;
  const char* text;
};

TEST_F(OAuthFlows, RefusedLoginsNameTheErrorAndBackOff) {
  JwtKeys otherKey;
  const std::vector<Refusal> cases = {
      {"jwt: not pre-authorized",
       [](OAuthOptions&, sim::SimOptions& s) { s.oauth.userApproved = false; },
       "AUTH_INVALID_GRANT", "invalid_grant: user hasn't approved this consumer"},
      {"jwt: unknown user", [](OAuthOptions& o, sim::SimOptions&) { o.username = "someone@else"; },
       "AUTH_INVALID_GRANT", "user hasn't approved this consumer"},
      {"jwt: wrong audience",
       [](OAuthOptions& o, sim::SimOptions&) { o.audience = "https://test.salesforce.com"; },
       "AUTH_INVALID_GRANT", "invalid_grant: audience is invalid"},
      {"jwt: wrong client id", [](OAuthOptions& o, sim::SimOptions&) { o.clientId = "3MVG9nope"; },
       "AUTH_INVALID_CLIENT", "invalid_client_id: client identifier invalid"},
      {"jwt: key not matching the certificate",
       [&](OAuthOptions& o, sim::SimOptions&) { o.privateKeyPem = otherKey.privateKeyPem; },
       "AUTH_INVALID_GRANT", "invalid_grant: invalid assertion"},
      {"client-credentials: wrong secret",
       [](OAuthOptions& o, sim::SimOptions&) {
         o.flow = OAuthFlow::ClientCredentials;
         o.clientSecret = "wrong";
       },
       "AUTH_INVALID_CLIENT", "invalid_client: invalid client credentials"},
      {"refresh-token: revoked",
       [](OAuthOptions& o, sim::SimOptions&) {
         o.flow = OAuthFlow::RefreshToken;
         o.refreshToken = "revoked";
       },
       "AUTH_INVALID_GRANT", "invalid_grant: expired access/refresh token"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto simOpts = simOptions();
    OAuthOptions o;
    {
      startSim(simOptions());
      o = options(OAuthFlow::JwtBearer);
      server_.reset();
    }
    c.change(o, simOpts);
    startSim(simOpts);
    o.loginUrl = server_->baseUrl();
    org().addJob(job("query", "InProgress", 1h));
    auto tokens = std::make_shared<OAuthTokenProvider>(o, clock());
    auto bulk = client(tokens);
    auto r = bulk->abort(model::ResourceKind::Query, "750R0000000zlh9IAA");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ApiError::Kind::Unauthorized);
    EXPECT_EQ(r.error().code, c.code) << r.error().describe();
    EXPECT_NE(r.error().message.find(c.text), std::string::npos) << r.error().describe();
    EXPECT_NE(r.error().message.find("configuration problem"), std::string::npos);
    EXPECT_FALSE(r.error().sent);
    // During the backoff nothing is asked of the token endpoint, and nothing of the org.
    for (int i = 0; i < 5; ++i) {
      now_.advance(1min);
      auto again = bulk->list(model::ResourceKind::Query, [](salesforce::Page&&) {});
      ASSERT_FALSE(again.ok());
      EXPECT_EQ(again.error().code, c.code);
      EXPECT_NE(again.error().message.find("no new token request for"), std::string::npos);
    }
    EXPECT_EQ(org().counters().tokenRequests, 1);
    EXPECT_EQ(org().counters().requests, 1) << "only the token request reached the org";
    EXPECT_EQ(org().counters().patches, 0);
    // After the backoff: one new attempt.
    now_.advance(6min);
    EXPECT_FALSE(tokens->token().ok());
    EXPECT_EQ(org().counters().tokenRequests, 2);
    server_.reset();
  }
}

TEST_F(OAuthFlows, UnavailableTokenEndpointBacksOffToo) {
  startSim();
  sim::SimResponse busy;
  busy.status = 503;
  busy.contentType = "text/html";
  busy.body = "<html>Service Unavailable</html>";
  org().respondToTokenRequests(1, busy);
  auto tokens = std::make_shared<OAuthTokenProvider>(options(OAuthFlow::JwtBearer), clock());
  auto t = tokens->token();
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().kind, ApiError::Kind::Transient);
  EXPECT_EQ(t.error().code, "AUTH_UNAVAILABLE");
  EXPECT_NE(t.error().message.find("HTTP 503"), std::string::npos) << t.error().describe();
  EXPECT_FALSE(tokens->token().ok());
  EXPECT_EQ(org().counters().tokenRequests, 1);
  now_.advance(11min);
  EXPECT_TRUE(tokens->token().ok());
  EXPECT_EQ(org().counters().tokenRequests, 2);
}

TEST_F(OAuthFlows, TokenExpiringOnTheSimClockIsRenewedOnce) {
  auto o = simOptions();
  o.oauth.tokenLifetime = 2h;
  startSim(o);
  const std::string id = org().addJob(job("query", "InProgress", 3h));
  auto tokens = std::make_shared<OAuthTokenProvider>(options(OAuthFlow::JwtBearer));
  auto bulk = client(tokens);
  ASSERT_TRUE(bulk->get(model::ResourceKind::Query, id).ok());
  org().advanceClock(2h + 1s);
  auto r = bulk->abort(model::ResourceKind::Query, id);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(org().state(id), "Aborted");
  EXPECT_EQ(org().appliedActions(id), 1);
  EXPECT_EQ(org().counters().tokenRequests, 2) << "one login, one renewal";
  EXPECT_EQ(org().counters().unauthorized, 1);
  EXPECT_EQ(org().counters().patches, 1) << "the PATCH refused with 401 is not counted here";
  // login, GET, PATCH (401), renewal, PATCH again: the PATCH was repeated exactly once.
  EXPECT_EQ(org().counters().requests, 5);
}

// Eight threads abort at once while the session expires under them: every request that got the
// 401 waits for the same renewal; one token request in all; every job aborted exactly once.
TEST_F(OAuthFlows, ConcurrentRequestsHittingTheExpiredSessionCauseOneTokenRequest) {
  startSim();
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(org().addJob(job("query", "InProgress", 3h)));
  auto tokens = std::make_shared<OAuthTokenProvider>(options(OAuthFlow::JwtBearer));
  auto bulk = client(tokens);
  ASSERT_TRUE(tokens->token().ok());
  ASSERT_TRUE(bulk->get(model::ResourceKind::Query, ids[0]).ok());  // warm the connections
  org().expireIssuedTokens();
  std::atomic<std::size_t> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (std::size_t i = next++; i < ids.size(); i = next++) {
        if (!bulk->abort(model::ResourceKind::Query, ids[i]).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(org().counters().tokenRequests, 2) << "one login, one renewal";
  EXPECT_GE(org().counters().unauthorized, 1);
  EXPECT_LE(org().counters().unauthorized, 8);
  EXPECT_EQ(org().counters().patches, 40);
  // Two token requests, the warm-up GET, 40 accepted PATCHes, and one repeat per 401 only.
  EXPECT_EQ(org().counters().requests, 2 + 1 + 40 + org().counters().unauthorized);
  for (const auto& id : ids) {
    EXPECT_EQ(org().state(id), "Aborted") << id;
    EXPECT_EQ(org().appliedActions(id), 1) << id;
  }
}

TEST_F(OAuthFlows, TokenResponseWithoutInstanceUrlNeedsTheConfig) {
  auto o = simOptions();
  o.oauth.instanceUrl = "-";  // replaced below by an empty value
  startSim(o);
  org().setInstanceUrl("");
  auto tokens = std::make_shared<OAuthTokenProvider>(options(OAuthFlow::JwtBearer));
  auto bulk = client(tokens);
  auto r = bulk->list(model::ResourceKind::Query, [](salesforce::Page&&) {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("set instance-url"), std::string::npos) << r.error().describe();
  EXPECT_EQ(org().counters().lists, 0);
}

TEST_F(OAuthFlows, BadKeyIsRefusedAtStartupWithoutQuotingIt) {
  startSim();
  auto o = options(OAuthFlow::JwtBearer);
  o.privateKeyPem = "-----BEGIN PRIVATE KEY-----\nTm90QUtleQ==\n-----END PRIVATE KEY-----\n";
  try {
    OAuthTokenProvider p(o);
    FAIL() << "accepted a bad key";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("not a usable unencrypted RSA private key"),
              std::string::npos)
        << e.what();
    EXPECT_EQ(std::string(e.what()).find("Tm90QUtleQ"), std::string::npos);
  }
  o.privateKeyPem =
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\nxx\n-----END ENCRYPTED PRIVATE KEY-----";
  EXPECT_THROW(OAuthTokenProvider{o}, std::invalid_argument);
  EXPECT_EQ(org().counters().tokenRequests, 0);
}

}  // namespace
}  // namespace bulkwarden::testing
