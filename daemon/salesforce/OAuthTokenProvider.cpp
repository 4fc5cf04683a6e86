#include "salesforce/OAuthTokenProvider.h"

#include <Poco/Crypto/RSAKey.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/URI.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <stdexcept>

#include "log/Log.h"

namespace bulkwarden::salesforce {
namespace {

constexpr std::string_view kTokenPath = "/services/oauth2/token";

std::string formEncode(const std::string& value) {
  std::string out;
  Poco::URI::encode(value, "!#$&'()*+,/:;=?@[]% \"<>{}|\\^`", out);
  return out;
}

// Text from the token endpoint goes into errors and logs: short, one line, escaped, redacted.
std::string outsideText(const std::string& text) { return log::outside(text, 300); }

// An instance URL is a scheme and a host name (253 characters at most): anything longer, or with
// a space or a control character in it, is not one, and would only be carried into every log line
// and request that names the instance.
constexpr size_t kMaxInstanceUrl = 1024;
bool plainUrl(const std::string& url) {
  return url.size() <= kMaxInstanceUrl &&
         std::all_of(url.begin(), url.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string errorClass(const std::string& oauthError) {
  if (oauthError == "invalid_client_id" || oauthError == "invalid_client" ||
      oauthError == "unauthorized_client") {
    return "AUTH_INVALID_CLIENT";
  }
  std::string code = "AUTH_";
  for (char c : oauthError.substr(0, 40)) {
    code.push_back(std::isalnum(static_cast<unsigned char>(c)) != 0
                       ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                       : '_');
  }
  return code;
}

std::string hintFor(const std::string& oauthError) {
  if (oauthError == "invalid_grant") {
    return "check that the user is pre-authorized for the app (or approved it), the username, "
           "the audience, the certificate uploaded to the app, the refresh token and the clock";
  }
  if (oauthError == "invalid_client_id" || oauthError == "invalid_client" ||
      oauthError == "unauthorized_client") {
    return "check client-id (the app's consumer key) and client-secret";
  }
  return "check the connected app and the auth settings of this org";
}

ApiError authError(ApiError::Kind kind, int http, std::string code, std::string message) {
  ApiError e;
  e.kind = kind;
  e.http = http;
  e.code = std::move(code);
  e.message = std::move(message);
  e.sent = false;  // the Bulk request this token was for was not sent
  return e;
}

bool plainToken(const std::string& token) { return plainTokenText(token); }

}  // namespace

std::string_view flowName(OAuthFlow flow) {
  switch (flow) {
    case OAuthFlow::JwtBearer:
      return "jwt-bearer";
    case OAuthFlow::ClientCredentials:
      return "client-credentials";
    case OAuthFlow::RefreshToken:
      return "refresh-token";
  }
  return "?";
}

std::string defaultAudience(const std::string& loginUrl) {
  std::string host;
  try {
    host = Poco::URI(loginUrl).getHost();
  } catch (const Poco::Exception&) {
    host.clear();
  }
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto endsWith = [&host](std::string_view suffix) {
    return host.size() > suffix.size() &&
           host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (host == "test.salesforce.com" || endsWith(".sandbox.my.salesforce.com")) {
    return "https://test.salesforce.com";
  }
  // Government Cloud (docs/salesforce.md 14.10, as the Salesforce CLI decides it): the gs1
  // login host, or a My Domain on it.
  if (host == "gs1.salesforce.com" || host == "gs1.my.salesforce.com" ||
      endsWith(".gs1.my.salesforce.com")) {
    return "https://gs1.salesforce.com";
  }
  return "https://login.salesforce.com";
}

Poco::SharedPtr<Poco::Crypto::RSAKey> parsePrivateKey(const std::string& pem) {
  if (pem.find("ENCRYPTED") != std::string::npos) {
    throw std::invalid_argument(
        "the private key is encrypted; bulkwarden needs an unencrypted PEM key kept in a file "
        "only its user can read (or a systemd credential)");
  }
  if (pem.find("-----BEGIN") == std::string::npos ||
      pem.find("PRIVATE KEY-----") == std::string::npos) {
    throw std::invalid_argument(
        "not a PEM private key (expected -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE "
        "KEY-----)");
  }
  try {
    std::istringstream in(pem);
    Poco::SharedPtr<Poco::Crypto::RSAKey> key(new Poco::Crypto::RSAKey(nullptr, &in, ""));
    // Signing once proves the key is a usable RSA private key now, not at the first login.
    makeJwtAssertion(key, "check", "check", "https://login.salesforce.com", Poco::Timestamp());
    return key;
  } catch (const Poco::Exception&) {
    // The exception text may quote the input; say what is wrong without it.
    throw std::invalid_argument("not a usable unencrypted RSA private key in PEM form");
  }
}

std::string makeJwtAssertion(const Poco::SharedPtr<Poco::Crypto::RSAKey>& key,
                             const std::string& clientId, const std::string& username,
                             const std::string& audience, const Poco::Timestamp& expires) {
  Poco::JWT::Token token;
  token.setIssuer(clientId);
  token.setSubject(username);
  token.setAudience(audience);
  // Whole seconds: Token::setExpiration writes a fraction, which NumericDate allows but not
  // every server parses.
  token.payload().set("exp", static_cast<Poco::Int64>(expires.epochTime()));
  Poco::JWT::Signer signer(key);
  return signer.sign(token, Poco::JWT::Signer::ALGO_RS256);
}

Result<FetchedToken> parseTokenResponse(int status, const std::string& body,
                                        const std::string& what) {
  Poco::JSON::Object::Ptr object;
  try {
    Poco::JSON::Parser parser;
    object = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    object = nullptr;
  } catch (const std::exception&) {
    object = nullptr;
  }
  auto text = [&](const char* key) -> std::string {
    if (!object || !object->has(key) || !object->get(key).isString()) return {};
    return object->getValue<std::string>(key);
  };
  if (status == 200) {
    if (!object) {
      return authError(ApiError::Kind::Malformed, status, "AUTH_MALFORMED",
                       what + ": the token endpoint's reply is not a JSON object");
    }
    FetchedToken t;
    t.accessToken = text("access_token");
    t.instanceUrl = text("instance_url");
    if (!plainToken(t.accessToken)) {
      return authError(ApiError::Kind::Malformed, status, "AUTH_MALFORMED",
                       what + ": the token endpoint's reply has no usable access_token");
    }
    if (object->has("refresh_token") && !object->get("refresh_token").isEmpty()) {
      // With rotation the token sent is now dead and this one is the only way back in: an
      // unusable one is a failed login, never stored.
      t.refreshToken = text("refresh_token");
      if (!plainToken(t.refreshToken)) {
        return authError(ApiError::Kind::Malformed, status, "AUTH_MALFORMED",
                         what + ": the token endpoint's reply has an unusable refresh_token");
      }
    }
    while (!t.instanceUrl.empty() && t.instanceUrl.back() == '/') t.instanceUrl.pop_back();
    if (!t.instanceUrl.empty() &&
        (!plainUrl(t.instanceUrl) ||
         (t.instanceUrl.rfind("https://", 0) != 0 && t.instanceUrl.rfind("http://", 0) != 0))) {
      return authError(ApiError::Kind::Malformed, status, "AUTH_MALFORMED",
                       fmt::format("{}: the token endpoint's reply has a bad instance_url \"{}\" "
                                   "({} bytes)",
                                   what, log::outside(t.instanceUrl, 200), t.instanceUrl.size()));
    }
    return t;
  }
  if (status >= 500 || status < 200) {
    return authError(ApiError::Kind::Transient, status, "AUTH_UNAVAILABLE",
                     fmt::format("{}: the token endpoint answered HTTP {}", what, status));
  }
  const std::string error = text("error");
  if (!error.empty()) {
    const std::string description = text("error_description");
    return authError(
        ApiError::Kind::Unauthorized, status, errorClass(error),
        fmt::format("{} refused: {}: {} (a configuration problem: {})", what, outsideText(error),
                    description.empty() ? "(no description)" : outsideText(description),
                    hintFor(error)));
  }
  return authError(ApiError::Kind::Unauthorized, status, "AUTH_REFUSED",
                   fmt::format("{} refused with HTTP {} and no OAuth error object", what, status));
}

OAuthTokenProvider::OAuthTokenProvider(OAuthOptions options, const model::Clock* clock)
    : FetchingTokenProvider(options.errorBackoff, clock), options_(std::move(options)) {
  auto need = [&](const std::string& value, std::string_view field) {
    if (value.empty()) {
      throw std::invalid_argument(fmt::format("flow {} needs {}", flowName(options_.flow), field));
    }
  };
  need(options_.loginUrl, "login-url");
  need(options_.clientId, "client-id");
  switch (options_.flow) {
    case OAuthFlow::JwtBearer:
      need(options_.username, "username");
      need(options_.privateKeyPem, "private-key");
      key_ = parsePrivateKey(options_.privateKeyPem);
      break;
    case OAuthFlow::ClientCredentials:
      need(options_.clientSecret, "client-secret");
      break;
    case OAuthFlow::RefreshToken:
      need(options_.refreshToken, "refresh-token");
      break;
  }
  endpoint_ = options_.loginUrl + std::string(kTokenPath);
  TransportOptions t = options_.transport;
  // A token is asked for once per its lifetime: a kept-alive connection would sit idle for hours,
  // one per org. Each token request opens its own and closes it.
  t.poolSize = 0;
  transport_ = std::make_unique<HttpTransport>(options_.loginUrl, t);  // throws invalid_argument
}

OAuthTokenProvider::~OAuthTokenProvider() = default;

std::string OAuthTokenProvider::formBody(const std::string& refreshToken) const {
  switch (options_.flow) {
    case OAuthFlow::JwtBearer: {
      const std::string audience =
          options_.audience.empty() ? defaultAudience(options_.loginUrl) : options_.audience;
      // The system's time, not the injected clock: Salesforce checks exp against its own.
      Poco::Timestamp expires;
      expires +=
          std::chrono::duration_cast<std::chrono::microseconds>(options_.assertionLifetime).count();
      return "grant_type=" + formEncode("urn:ietf:params:oauth:grant-type:jwt-bearer") +
             "&assertion=" +
             formEncode(
                 makeJwtAssertion(key_, options_.clientId, options_.username, audience, expires));
    }
    case OAuthFlow::ClientCredentials:
      return "grant_type=client_credentials&client_id=" + formEncode(options_.clientId) +
             "&client_secret=" + formEncode(options_.clientSecret);
    case OAuthFlow::RefreshToken: {
      std::string body = "grant_type=refresh_token&refresh_token=" + formEncode(refreshToken) +
                         "&client_id=" + formEncode(options_.clientId);
      if (!options_.clientSecret.empty()) {
        body += "&client_secret=" + formEncode(options_.clientSecret);
      }
      return body;
    }
  }
  return {};
}

std::string OAuthTokenProvider::pickRefreshToken() {
  std::string token;
  std::string source;
  if (!rotated_.empty() && !rotatedSaved_) {
    token = rotated_;
    source = "the rotated refresh token kept in memory (its file could not be written)";
  } else {
    std::optional<std::string> stored;
    if (options_.refreshTokenStore) {
      try {
        stored = options_.refreshTokenStore->load(options_.refreshToken);
      } catch (const RefreshTokenStoreError& e) {
        log::warning("{}: {}; ignoring it", options_.label, e.what());
      }
    }
    if (stored) {
      token = std::move(*stored);
      source = "the rotated refresh token in " + options_.refreshTokenStore->path();
    } else if (!rotated_.empty()) {
      token = rotated_;
      source = "the newest rotated refresh token (its file is gone or unreadable)";
    } else {
      token = options_.refreshToken;
      source = "the configured refresh token";
    }
  }
  if (source != lastSource_) {
    log::info("{}: using {}", options_.label, source);
    lastSource_ = source;
  }
  return token;
}

void OAuthTokenProvider::keepRotated(const std::string& token) {
  rotated_ = token;
  rotatedSaved_ = false;
  if (!options_.refreshTokenStore) return;
  try {
    options_.refreshTokenStore->save(options_.refreshToken, token);
    rotatedSaved_ = true;
    log::info("{}: the token endpoint rotated the refresh token; the new one is stored in {}",
              options_.label, options_.refreshTokenStore->path());
  } catch (const RefreshTokenStoreError& e) {
    // The token just sent is dead now, so refusing the new access token would gain nothing: keep
    // the new refresh token in memory, use it, and try the file again at the next rotation.
    log::error(
        "{}: {}; the rotated refresh token is kept in memory only: after a restart bulkwarden "
        "would send an invalidated one",
        options_.label, e.what());
  }
}

Result<FetchedToken> OAuthTokenProvider::fetch() {
  // Not "jwt-bearer login": the log redactor masks the word after "bearer".
  const std::string what = fmt::format("login to {} ({})", endpoint_, flowName(options_.flow));
  const bool refreshFlow = options_.flow == OAuthFlow::RefreshToken;
  std::string refreshToken = refreshFlow ? pickRefreshToken() : std::string();
  Result<FetchedToken> result = ApiError{};
  // Twice at most: a refresh token refused as invalid_grant is tried again only if the token file
  // meanwhile holds another one (another bulkwarden process, e.g. `validate --connect`, rotated
  // it).
  for (int attempt = 0; attempt < 2; ++attempt) {
    log::debug("{}: requesting an access token ({})", options_.label, what);
    HttpRequest request;
    request.method = "POST";
    request.target = std::string(kTokenPath);
    request.headers = {{"Accept", "application/json"},
                       {"User-Agent", "bulkwarden/" BULKWARDEN_VERSION}};
    request.body = formBody(refreshToken);
    request.contentType = "application/x-www-form-urlencoded";
    // A token request has no effect worth protecting: sending it twice mints two tokens. (With
    // rotation a lost reply loses the new refresh token; a resend then gets invalid_grant, which
    // is what would have happened anyway.)
    request.idempotent = true;
    auto reply = transport_->send(request);
    result = [&]() -> Result<FetchedToken> {
      if (!reply) {
        const ApiError& sent = reply.error();
        return authError(sent.kind == ApiError::Kind::Malformed ? ApiError::Kind::Malformed
                                                                : ApiError::Kind::Transient,
                         0, sent.code.empty() ? "AUTH_UNAVAILABLE" : sent.code,
                         fmt::format("{} failed: {}", what, sent.message));
      }
      return parseTokenResponse(reply.value().status, reply.value().body, what);
    }();
    if (result || !refreshFlow || result.error().code != "AUTH_INVALID_GRANT" || attempt > 0) break;
    std::string again = pickRefreshToken();
    if (again == refreshToken) break;
    log::info("{}: the refresh token was refused, and the token file holds another; trying it",
              options_.label);
    refreshToken = std::move(again);
  }
  if (result && refreshFlow && !result.value().refreshToken.empty() &&
      result.value().refreshToken != refreshToken) {
    keepRotated(result.value().refreshToken);  // durable before the access token is used
  }
  if (result) {
    log::info("{}: logged in ({}){}", options_.label, flowName(options_.flow),
              result.value().instanceUrl.empty()
                  ? ""
                  : "; instance " + log::outside(result.value().instanceUrl, 200));
  } else {
    std::string hint;
    if (refreshFlow && result.error().code == "AUTH_INVALID_GRANT" &&
        refreshToken != options_.refreshToken) {
      hint =
          "; the refused refresh token is a rotated one: put a new refresh token in the config "
          "(a changed configured token replaces the stored one)";
    }
    log::error("{}: {}: {}{}; no new token request for {} s", options_.label, result.error().code,
               result.error().message, hint,
               std::chrono::duration_cast<std::chrono::seconds>(options_.errorBackoff).count());
  }
  return result;
}

}  // namespace bulkwarden::salesforce
