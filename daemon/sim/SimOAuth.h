// The simulated org's OAuth 2.0 token endpoint (POST /services/oauth2/token, docs/salesforce.md 7):
// checks JWT bearer assertions (RS256 signature against the connected app's certificate, iss,
// sub, aud, exp), client credentials and refresh tokens for real, and answers with Salesforce's
// success and error objects. It decides; SimOrg issues and expires the tokens.
// Not thread-safe by itself: SimOrg calls it with its lock held.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace Poco::JWT {
class Signer;
}

namespace bulkwarden::sim {

struct SimOAuthOptions {
  std::string clientId = "3MVG9SimulatedOrgConsumerKey";  // the app's consumer key
  std::string username = "bulkwarden@sim.example";        // the integration user (JWT sub)
  std::string userId = "005R0000000bWkzIAE";              // its user id (the session's user)
  std::string audience = "https://login.salesforce.com";  // the JWT aud accepted
  // PEM X.509 certificate (or PEM public key) uploaded to the app; empty: no jwt-bearer.
  std::string jwtCertificatePem;
  std::string clientSecret;  // empty: no client_credentials
  std::string refreshToken;  // empty: no refresh_token grant
  // Refresh token rotation: each refresh_token grant returns a new refresh_token and the one
  // used stops working at once (invalid_grant "expired access/refresh token").
  bool rotateRefreshTokens = false;
  bool userApproved = true;  // false: invalid_grant "user hasn't approved this consumer"
  // Lifetime of issued tokens in sim time; 0: they do not expire (until revoked).
  std::chrono::milliseconds tokenLifetime{0};
  // Latest accepted assertion exp, from now (wall clock: the client signs with its clock).
  std::chrono::seconds maxAssertionAhead{300};
  std::string instanceUrl;  // instance_url in replies; SimServer sets its base URL
};

// The endpoint's verdict on one request.
struct TokenVerdict {
  int status = 400;
  std::string error;        // OAuth error, e.g. invalid_grant; empty on success
  std::string description;  // error_description
  std::string grant;        // the grant_type asked for (for counters and tests)
};

class SimOAuth {
 public:
  // Throws std::invalid_argument for an unreadable certificate.
  explicit SimOAuth(SimOAuthOptions options);
  ~SimOAuth();
  SimOAuth(const SimOAuth&) = delete;
  SimOAuth& operator=(const SimOAuth&) = delete;

  const SimOAuthOptions& options() const { return options_; }
  SimOAuthOptions& mutableOptions() { return options_; }

  // Checks one token request: `method`, `contentType` and the form `body`.
  TokenVerdict check(const std::string& method, const std::string& contentType,
                     const std::string& body) const;

  // {"error":...,"error_description":...}
  static std::string errorBody(const TokenVerdict& verdict);
  // The success reply for `token`, issued at `issuedMs`; with `refreshToken` (rotation) it
  // carries that refresh_token too.
  std::string successBody(const std::string& token, int64_t issuedMs,
                          const std::string& refreshToken = "") const;

 private:
  TokenVerdict checkJwt(const std::string& assertion) const;

  SimOAuthOptions options_;
  std::unique_ptr<Poco::JWT::Signer> verifier_;  // null: jwt-bearer not configured
};

}  // namespace bulkwarden::sim
