// The OAuth 2.0 flows that mint tokens at /services/oauth2/token (docs/salesforce.md 7): JWT bearer
// (an RS256 assertion signed with the connected app's private key), client credentials and
// refresh token. Tokens and keys live in memory only and never appear in logs or errors.
// Thread-safe (FetchingTokenProvider serialises fetches).
#pragma once

#include <Poco/SharedPtr.h>
#include <Poco/Timestamp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "salesforce/HttpTransport.h"
#include "salesforce/RefreshTokenStore.h"
#include "salesforce/TokenProvider.h"

namespace Poco::Crypto {
class RSAKey;
}

namespace bulkwarden::salesforce {

enum class OAuthFlow { JwtBearer, ClientCredentials, RefreshToken };
std::string_view flowName(OAuthFlow flow);  // "jwt-bearer", ...

struct OAuthOptions {
  OAuthFlow flow = OAuthFlow::JwtBearer;
  std::string label;          // for log lines, e.g. the org name
  std::string loginUrl;       // token endpoint base: https://login.salesforce.com or a My Domain
  std::string clientId;       // consumer key
  std::string username;       // jwt-bearer: sub
  std::string audience;       // jwt-bearer: aud; empty: defaultAudience(loginUrl)
  std::string privateKeyPem;  // jwt-bearer: PEM RSA private key (PKCS#1 or PKCS#8, unencrypted)
  std::string clientSecret;   // client-credentials: required; refresh-token: optional
  std::string refreshToken;   // refresh-token: the configured one
  // refresh-token: where the newest rotated refresh token is kept (state-dir). None: rotated
  // tokens are kept in memory only (tests, and callers without a state-dir).
  std::optional<RefreshTokenStore> refreshTokenStore;
  std::chrono::seconds assertionLifetime{180};  // jwt-bearer exp = now + this (doc: <= 3 min)
  std::chrono::milliseconds errorBackoff{5 * 60 * 1000};
  TransportOptions transport;  // TLS, timeouts and the whole-request deadline
};

// `aud` for a JWT sent to `loginUrl`: https://test.salesforce.com for test.salesforce.com and
// sandbox My Domains (*.sandbox.my.salesforce.com), https://gs1.salesforce.com for Government
// Cloud (gs1.salesforce.com, *.gs1.my.salesforce.com), else https://login.salesforce.com.
std::string defaultAudience(const std::string& loginUrl);

// A signed RS256 JWT with iss, sub, aud and exp (seconds since the epoch).
std::string makeJwtAssertion(const Poco::SharedPtr<Poco::Crypto::RSAKey>& key,
                             const std::string& clientId, const std::string& username,
                             const std::string& audience, const Poco::Timestamp& expires);

// Parses a PEM RSA private key held in memory. Throws std::invalid_argument saying what is
// wrong, never quoting the key.
Poco::SharedPtr<Poco::Crypto::RSAKey> parsePrivateKey(const std::string& pem);

// Turns a token endpoint reply into a token or an ApiError whose code names the class:
// (a `refresh_token` in a 200 reply, sent when the app rotates refresh tokens, must be plain
// printable ASCII like the access token, else the reply is AUTH_MALFORMED)
// AUTH_INVALID_GRANT, AUTH_INVALID_CLIENT, AUTH_<ERROR> (other OAuth errors: Unauthorized, a
// configuration problem), AUTH_UNAVAILABLE (5xx: Transient), AUTH_MALFORMED (a 200 without a
// usable access_token or instance_url). `what` names the login, e.g. "login to URL (jwt-bearer)".
Result<FetchedToken> parseTokenResponse(int status, const std::string& body,
                                        const std::string& what);

class OAuthTokenProvider final : public FetchingTokenProvider {
 public:
  // Throws std::invalid_argument for a missing field, an unusable private key or login URL.
  // `clock`: see FetchingTokenProvider.
  explicit OAuthTokenProvider(OAuthOptions options, const model::Clock* clock = nullptr);
  ~OAuthTokenProvider() override;

  // Requests sent to the token endpoint (tests: "exactly one token request").
  int64_t tokenRequests() const { return transport_->requestsSent(); }

 protected:
  Result<FetchedToken> fetch() override;

 private:
  std::string formBody(const std::string& refreshToken) const;
  // The refresh token to send (see docs/auth.md "Rotating refresh tokens"): a rotated one not yet
  // on disk, else the stored one if it descends from the configured one, else the newest rotated
  // one, else the configured one.
  std::string pickRefreshToken();
  // Stores a rotated refresh token before its access token is handed out.
  void keepRotated(const std::string& token);

  const OAuthOptions options_;
  std::string endpoint_;  // loginUrl + /services/oauth2/token, for messages
  Poco::SharedPtr<Poco::Crypto::RSAKey> key_;
  std::unique_ptr<HttpTransport> transport_;
  // Refresh-token flow, touched only by fetch() (the base class serialises it).
  std::string rotated_;        // the newest refresh token received; empty: none yet
  bool rotatedSaved_ = false;  // rotated_ is in the token file
  std::string lastSource_;     // where the last refresh token sent came from, for one log line
};

}  // namespace bulkwarden::salesforce
