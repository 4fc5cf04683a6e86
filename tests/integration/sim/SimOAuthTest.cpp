// The simulated org's token endpoint judged directly (SimOrg::handle): forged or stale JWT
// assertions are refused like Salesforce does, each grant checks its secret, issued tokens open
// the Bulk API until they expire on the sim clock.
#include <Poco/Crypto/RSAKey.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <gtest/gtest.h>

#include <sstream>

#include "auth/TestPki.h"
#include "sim/SimOrg.h"

namespace bulkwarden::sim {
namespace {

using namespace std::chrono_literals;

constexpr const char* kJwtGrant = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";

class SimTokenEndpoint : public ::testing::Test {
 protected:
  SimTokenEndpoint() {
    SimOptions o;
    o.oauth.clientId = "3MVG9cid";
    o.oauth.username = "u@acme.com";
    o.oauth.jwtCertificatePem = keys_.certificatePem;
    o.oauth.clientSecret = "sec";
    o.oauth.refreshToken = "rt";
    o.oauth.tokenLifetime = 1h;
    o.oauth.instanceUrl = "https://acme.my.salesforce.com";
    org_ = std::make_unique<SimOrg>(o);
    std::istringstream pem(keys_.privateKeyPem);  // read by the constructor, not kept
    key_ = Poco::SharedPtr<Poco::Crypto::RSAKey>(new Poco::Crypto::RSAKey(nullptr, &pem, ""));
  }

  SimResponse post(const std::string& body,
                   const std::string& type = "application/x-www-form-urlencoded") {
    SimRequest r;
    r.method = "POST";
    r.uri = "/services/oauth2/token";
    r.contentType = type;
    r.body = body;
    return org_->handle(r);
  }

  std::string assertion(const std::string& iss, const std::string& sub, const std::string& aud,
                        int64_t expFromNow, const std::string& alg = "RS256") {
    Poco::JWT::Token t;
    t.setIssuer(iss);
    t.setSubject(sub);
    t.setAudience(aud);
    t.payload().set("exp", Poco::Timestamp().epochTime() + expFromNow);
    if (alg == "RS256") return Poco::JWT::Signer(key_).sign(t, alg);
    if (alg == "HS256") return Poco::JWT::Signer(std::string("guess")).sign(t, alg);
    // alg "none": the RS256 token's payload under an unsigned header, no signature.
    const std::string signed_ = Poco::JWT::Signer(key_).sign(t, "RS256");
    const auto dot = signed_.find('.');
    const auto last = signed_.rfind('.');
    return "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0" + signed_.substr(dot, last - dot) + ".";
  }

  static std::pair<std::string, std::string> error(const SimResponse& r) {
    Poco::JSON::Parser p;
    auto o = p.parse(r.body).extract<Poco::JSON::Object::Ptr>();
    return {o->optValue<std::string>("error", ""),
            o->optValue<std::string>("error_description", "")};
  }

  testing::JwtKeys keys_;
  Poco::SharedPtr<Poco::Crypto::RSAKey> key_;
  std::unique_ptr<SimOrg> org_;
};

TEST_F(SimTokenEndpoint, JwtAssertionsAreCheckedForReal) {
  const std::string aud = "https://login.salesforce.com";
  auto ok = post(std::string("grant_type=") + kJwtGrant +
                 "&assertion=" + assertion("3MVG9cid", "u@acme.com", aud, 120));
  ASSERT_EQ(ok.status, 200) << ok.body;
  Poco::JSON::Parser p;
  auto reply = p.parse(ok.body).extract<Poco::JSON::Object::Ptr>();
  const auto token = reply->getValue<std::string>("access_token");
  EXPECT_EQ(token.substr(0, 3), "00D");
  EXPECT_NE(token.find('!'), std::string::npos);
  EXPECT_EQ(reply->getValue<std::string>("instance_url"), "https://acme.my.salesforce.com");
  EXPECT_EQ(reply->getValue<std::string>("token_type"), "Bearer");
  EXPECT_FALSE(reply->has("refresh_token"));
  EXPECT_FALSE(reply->has("expires_in"));

  struct Case {
    std::string assertion;
    const char* error;
    const char* description;
  };
  const std::vector<Case> cases = {
      {assertion("3MVG9cid", "u@acme.com", aud, 120, "none"), "invalid_grant", "invalid assertion"},
      {assertion("3MVG9cid", "u@acme.com", aud, 120, "HS256"), "invalid_grant",
       "invalid assertion"},
      {"not.a.jwt", "invalid_grant", "invalid assertion"},
      {assertion("3MVG9other", "u@acme.com", aud, 120), "invalid_client_id",
       "client identifier invalid"},
      {assertion("3MVG9cid", "u@acme.com", "https://test.salesforce.com", 120), "invalid_grant",
       "audience is invalid"},
      {assertion("3MVG9cid", "u@acme.com", aud, -5), "invalid_grant", "expired authorization code"},
      {assertion("3MVG9cid", "u@acme.com", aud, 3600), "invalid_grant",
       "invalid assertion: exp is too far in the future"},
      {assertion("3MVG9cid", "x@acme.com", aud, 120), "invalid_grant",
       "user hasn't approved this consumer"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto r = post(std::string("grant_type=") + kJwtGrant + "&assertion=" + c.assertion);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.contentType, "application/json;charset=UTF-8");
    EXPECT_EQ(error(r), std::make_pair(std::string(c.error), std::string(c.description)));
  }
  org_->setUserApproved(false);
  EXPECT_EQ(error(post(std::string("grant_type=") + kJwtGrant +
                       "&assertion=" + assertion("3MVG9cid", "u@acme.com", aud, 120)))
                .second,
            "user hasn't approved this consumer");
  EXPECT_EQ(org_->counters().tokenRequests, 10);
  EXPECT_EQ(org_->counters().tokensIssued, 1);
  EXPECT_EQ(org_->counters().tokenErrors, 9);
  EXPECT_EQ(org_->apiUsed(), 0) << "logins do not use the API allowance";
}

TEST_F(SimTokenEndpoint, ClientCredentialsAndRefreshTokenGrants) {
  EXPECT_EQ(post("grant_type=client_credentials&client_id=3MVG9cid&client_secret=sec").status, 200);
  EXPECT_EQ(error(post("grant_type=client_credentials&client_id=3MVG9cid&client_secret=no")).first,
            "invalid_client");
  EXPECT_EQ(error(post("grant_type=client_credentials&client_id=x&client_secret=sec")).first,
            "invalid_client_id");
  EXPECT_EQ(post("grant_type=refresh_token&refresh_token=rt&client_id=3MVG9cid").status, 200);
  EXPECT_EQ(
      error(post("grant_type=refresh_token&refresh_token=old&client_id=3MVG9cid")),
      std::make_pair(std::string("invalid_grant"), std::string("expired access/refresh token")));
  EXPECT_EQ(error(post("grant_type=password&username=a&password=b")).first,
            "unsupported_grant_type");
  EXPECT_EQ(error(post("grant_type=client_credentials", "application/json")).first,
            "invalid_request");
  SimRequest get;
  get.method = "GET";
  get.uri = "/services/oauth2/token";
  EXPECT_EQ(error(org_->handle(get)).second, "must use HTTP POST");
}

TEST_F(SimTokenEndpoint, IssuedTokensOpenTheApiUntilTheyExpire) {
  auto r = post("grant_type=client_credentials&client_id=3MVG9cid&client_secret=sec");
  ASSERT_EQ(r.status, 200);
  Poco::JSON::Parser p;
  const auto token =
      p.parse(r.body).extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("access_token");
  SimRequest list;
  list.method = "GET";
  list.uri = "/services/data/v62.0/jobs/query";
  list.authorization = "Bearer " + token;
  EXPECT_EQ(org_->handle(list).status, 200);
  org_->advanceClock(59min);
  EXPECT_EQ(org_->handle(list).status, 200);
  org_->advanceClock(2min);
  auto expired = org_->handle(list);
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(expired.body.find("INVALID_SESSION_ID"), std::string::npos);
  // The configured static token is unaffected; revoking kills issued tokens too.
  auto again = post("grant_type=client_credentials&client_id=3MVG9cid&client_secret=sec");
  const auto fresh =
      p.parse(again.body).extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("access_token");
  list.authorization = "Bearer " + fresh;
  EXPECT_EQ(org_->handle(list).status, 200);
  org_->expireIssuedTokens();
  EXPECT_EQ(org_->handle(list).status, 401);
  list.authorization = "Bearer " + org_->token();
  EXPECT_EQ(org_->handle(list).status, 200);
}

}  // namespace
}  // namespace bulkwarden::sim
