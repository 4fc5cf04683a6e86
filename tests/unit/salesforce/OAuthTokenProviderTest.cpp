// The hermetic parts of the OAuth flows: the JWT assertion, token endpoint replies and their
// error classes, the audience rule, the fetch backoff, and log redaction of OAuth secrets.
#include "ManualClock.h"
#include "salesforce/OAuthTokenProvider.h"

#include <Poco/Crypto/RSAKey.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <gtest/gtest.h>

#include <atomic>

#include "log/Log.h"

namespace bulkwarden::salesforce {
namespace {

using namespace std::chrono_literals;

TEST(OAuth, AssertionCarriesTheClaimsAndVerifiesWithThePublicKey) {
  Poco::SharedPtr<Poco::Crypto::RSAKey> key(
      new Poco::Crypto::RSAKey(Poco::Crypto::RSAKey::KL_2048, Poco::Crypto::RSAKey::EXP_LARGE));
  Poco::Timestamp exp;
  exp += 180LL * 1000 * 1000;
  const std::string jwt =
      makeJwtAssertion(key, "3MVG9key", "user@acme.com", "https://login.salesforce.com", exp);
  Poco::JWT::Signer verifier(key);
  verifier.setAlgorithms({Poco::JWT::Signer::ALGO_RS256});
  Poco::JWT::Token t = verifier.verify(jwt);
  EXPECT_EQ(t.getAlgorithm(), "RS256");
  EXPECT_EQ(t.getIssuer(), "3MVG9key");
  EXPECT_EQ(t.getSubject(), "user@acme.com");
  ASSERT_EQ(t.getAudience().size(), 1u);
  EXPECT_EQ(t.getAudience()[0], "https://login.salesforce.com");
  EXPECT_EQ(t.payload().getValue<Poco::Int64>("exp"), exp.epochTime()) << "whole seconds";
  // Tampering breaks it.
  std::string bad = jwt;
  bad[bad.size() / 2] = bad[bad.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_THROW(verifier.verify(bad), Poco::Exception);
}

TEST(OAuth, PrivateKeyParsingNamesTheProblemWithoutTheKey) {
  EXPECT_THROW(parsePrivateKey("hello"), std::invalid_argument);
  try {
    parsePrivateKey(
        "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0c2VjcmV0\n-----END RSA PRIVATE KEY-----");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).find("c2VjcmV0"), std::string::npos);
  }
  EXPECT_THROW(parsePrivateKey("-----BEGIN ENCRYPTED PRIVATE KEY-----\nxx\n"
                               "-----END ENCRYPTED PRIVATE KEY-----"),
               std::invalid_argument);
}

TEST(OAuth, AudienceFollowsTheLoginHost) {
  EXPECT_EQ(defaultAudience("https://login.salesforce.com"), "https://login.salesforce.com");
  EXPECT_EQ(defaultAudience("https://test.salesforce.com"), "https://test.salesforce.com");
  EXPECT_EQ(defaultAudience("https://acme--uat.sandbox.my.salesforce.com"),
            "https://test.salesforce.com");
  EXPECT_EQ(defaultAudience("https://acme.my.salesforce.com"), "https://login.salesforce.com");
  EXPECT_EQ(defaultAudience("https://127.0.0.1:4443"), "https://login.salesforce.com");
}

TEST(OAuth, GovernmentCloudAudience) {
  EXPECT_EQ(defaultAudience("https://gs1.salesforce.com"), "https://gs1.salesforce.com");
  EXPECT_EQ(defaultAudience("https://agency.gs1.my.salesforce.com"), "https://gs1.salesforce.com");
  EXPECT_EQ(defaultAudience("https://AGENCY.GS1.my.salesforce.com"), "https://gs1.salesforce.com");
  EXPECT_EQ(defaultAudience("https://gs1.my.salesforce.com"), "https://gs1.salesforce.com");
  EXPECT_EQ(defaultAudience("https://notgs1.salesforce.com.evil.example"),
            "https://login.salesforce.com");
  EXPECT_EQ(defaultAudience("https://xgs1.my.salesforce.com"), "https://login.salesforce.com");
}

TEST(OAuth, ARotatedRefreshTokenIsReadAndChecked) {
  auto r = parseTokenResponse(
      200,
      R"({"access_token":"00D!AQ.a","instance_url":"https://a.my.salesforce.com","refresh_token":"5Aep861.next"})",
      "login");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r.value().refreshToken, "5Aep861.next");
  auto none =
      parseTokenResponse(200, R"({"access_token":"00D!AQ.a","refresh_token":null})", "login");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none.value().refreshToken, "");
  for (const char* bad : {R"({"access_token":"t","refresh_token":"two words"})",
                          R"({"access_token":"t","refresh_token":7})",
                          R"({"access_token":"t","refresh_token":""})"}) {
    SCOPED_TRACE(bad);
    auto e = parseTokenResponse(200, bad, "login");
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, "AUTH_MALFORMED");
    EXPECT_NE(e.error().message.find("refresh_token"), std::string::npos);
  }
}

TEST(OAuth, SuccessfulReply) {
  auto r = parseTokenResponse(
      200,
      R"({"access_token":"00DR00000000001!AQ.abc","scope":"api","instance_url":"https://acme.my.salesforce.com/","id":"x","token_type":"Bearer"})",
      "login");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r.value().accessToken, "00DR00000000001!AQ.abc");
  EXPECT_EQ(r.value().instanceUrl, "https://acme.my.salesforce.com");
}

struct ReplyCase {
  int status;
  const char* body;
  ApiError::Kind kind;
  const char* code;
  const char* text;
};

TEST(OAuth, RefusalsAndBadRepliesAreClassified) {
  const std::vector<ReplyCase> cases = {
      {400, R"({"error":"invalid_grant","error_description":"user hasn't approved this consumer"})",
       ApiError::Kind::Unauthorized, "AUTH_INVALID_GRANT",
       "login refused: invalid_grant: user hasn't approved this consumer"},
      {400, R"({"error":"invalid_grant","error_description":"audience is invalid"})",
       ApiError::Kind::Unauthorized, "AUTH_INVALID_GRANT", "audience is invalid"},
      {400, R"({"error":"invalid_client_id","error_description":"client identifier invalid"})",
       ApiError::Kind::Unauthorized, "AUTH_INVALID_CLIENT", "check client-id"},
      {400, R"({"error":"unsupported_grant_type","error_description":"grant type not supported"})",
       ApiError::Kind::Unauthorized, "AUTH_UNSUPPORTED_GRANT_TYPE", "grant type not supported"},
      {401, "<html>no</html>", ApiError::Kind::Unauthorized, "AUTH_REFUSED", "HTTP 401"},
      {503, "", ApiError::Kind::Transient, "AUTH_UNAVAILABLE", "HTTP 503"},
      {200, "not json", ApiError::Kind::Malformed, "AUTH_MALFORMED", "not a JSON object"},
      {200, R"({"instance_url":"https://a.my.salesforce.com"})", ApiError::Kind::Malformed,
       "AUTH_MALFORMED", "no usable access_token"},
      {200, R"({"access_token":"has space","instance_url":"https://a"})", ApiError::Kind::Malformed,
       "AUTH_MALFORMED", "no usable access_token"},
      {200, R"({"access_token":"t","instance_url":"ftp://a"})", ApiError::Kind::Malformed,
       "AUTH_MALFORMED", "bad instance_url"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    auto r = parseTokenResponse(c.status, c.body, "login");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, c.kind);
    EXPECT_EQ(r.error().code, c.code);
    EXPECT_NE(r.error().message.find(c.text), std::string::npos) << r.error().message;
    EXPECT_FALSE(r.error().sent);
  }
}

TEST(OAuth, ErrorDescriptionsAreRedacted) {
  auto r = parseTokenResponse(
      400,
      R"({"error":"invalid_grant","error_description":"bad token 00DR00000000001!AQabcdef.ghi"})",
      "login");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find("AQabcdef"), std::string::npos) << r.error().message;
}

// Fails (or succeeds) as told, counting fetches, on a clock the test moves.
class ScriptedProvider : public FetchingTokenProvider {
 public:
  explicit ScriptedProvider(const model::Clock& clock) : FetchingTokenProvider(5min, &clock) {}
  std::atomic<bool> fail{true};
  int calls = 0;

 protected:
  Result<FetchedToken> fetch() override {
    ++calls;
    if (fail) {
      return ApiError{ApiError::Kind::Unauthorized, 400, "AUTH_INVALID_GRANT", "refused", false};
    }
    return FetchedToken{"tok" + std::to_string(calls), "https://i.my.salesforce.com", ""};
  }
};

TEST(FetchingTokenProvider, NoFetchDuringTheBackoffThenOne) {
  testing::ManualClock now;
  ScriptedProvider p(now);
  auto first = p.token();
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().message, "refused");
  for (int i = 0; i < 4; ++i) {
    now.advance(1min);
    auto r = p.token();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "AUTH_INVALID_GRANT");
    EXPECT_NE(r.error().message.find("no new token request for"), std::string::npos);
    EXPECT_FALSE(p.refresh("whatever").ok());
  }
  EXPECT_EQ(p.calls, 1);
  p.fail = false;
  now.advance(1min + 1s);
  ASSERT_TRUE(p.token().ok());
  EXPECT_EQ(p.token().value(), "tok2");
  EXPECT_EQ(p.instanceUrl(), "https://i.my.salesforce.com");
  EXPECT_EQ(p.calls, 2);
  EXPECT_EQ(p.fetches(), 2);
}

TEST(Redaction, OAuthSecretsAreMasked) {
  const std::string in =
      "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=eyJhbGciOiJSUzI1NiJ9."
      "eyJpc3MiOiJ4In0.c2lnbmF0dXJl client_secret=S3cr3t&refresh_token=5Aep861 "
      R"({"access_token":"opaque-token-value","signature":"abc="} Authorization: Bearer xyz )"
      "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.sig";
  const std::string out = log::redactSecrets(in);
  for (const char* secret :
       {"eyJpc3MiOiJ4In0", "S3cr3t", "5Aep861", "opaque-token-value", "xyz", "eyJzdWIiOiJ1In0"}) {
    EXPECT_EQ(out.find(secret), std::string::npos) << secret << " in " << out;
  }
  EXPECT_NE(out.find("grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer"), std::string::npos);
  // Ordinary text is left alone.
  EXPECT_EQ(log::redactSecrets("login to https://x/services/oauth2/token (jwt-bearer) refused"),
            "login to https://x/services/oauth2/token (jwt-bearer) refused");
}

}  // namespace
}  // namespace bulkwarden::salesforce
