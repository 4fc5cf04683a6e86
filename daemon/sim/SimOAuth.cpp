#include "sim/SimOAuth.h"

#include <Poco/Crypto/RSAKey.h>
#include <Poco/Crypto/X509Certificate.h>
#include <Poco/Exception.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/URI.h>
#include <fmt/format.h>

#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "sim/SimText.h"

namespace bulkwarden::sim {
namespace {

constexpr std::string_view kJwtGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer";

TokenVerdict refuse(std::string grant, std::string error, std::string description,
                    int status = 400) {
  return TokenVerdict{status, std::move(error), std::move(description), std::move(grant)};
}

// application/x-www-form-urlencoded; a repeated key is refused (nil: malformed).
std::optional<std::map<std::string, std::string>> parseForm(const std::string& body) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t amp = body.find('&', start);
    if (amp == std::string::npos) amp = body.size();
    const std::string pair = body.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    std::string key, value;
    try {
      std::string rawKey = pair.substr(0, eq);
      std::string rawValue = eq == std::string::npos ? "" : pair.substr(eq + 1);
      for (auto* s : {&rawKey, &rawValue}) {
        for (char& c : *s) {
          if (c == '+') c = ' ';
        }
      }
      Poco::URI::decode(rawKey, key);
      Poco::URI::decode(rawValue, value);
    } catch (const Poco::Exception&) {
      return std::nullopt;
    }
    if (!out.emplace(key, value).second) return std::nullopt;
  }
  return out;
}

std::string field(const std::map<std::string, std::string>& form, const std::string& key) {
  auto it = form.find(key);
  return it == form.end() ? std::string() : it->second;
}

}  // namespace

SimOAuth::SimOAuth(SimOAuthOptions options) : options_(std::move(options)) {
  if (options_.jwtCertificatePem.empty()) return;
  try {
    std::istringstream in(options_.jwtCertificatePem);
    Poco::SharedPtr<Poco::Crypto::RSAKey> key;
    if (options_.jwtCertificatePem.find("BEGIN CERTIFICATE") != std::string::npos) {
      Poco::Crypto::X509Certificate cert(in);
      key = new Poco::Crypto::RSAKey(cert);
    } else {
      key = new Poco::Crypto::RSAKey(&in, nullptr, "");
    }
    verifier_ = std::make_unique<Poco::JWT::Signer>(key);
    verifier_->setAlgorithms({Poco::JWT::Signer::ALGO_RS256});
  } catch (const Poco::Exception& e) {
    throw std::invalid_argument(
        fmt::format("the JWT certificate is not a PEM X.509 certificate or RSA public key: {}",
                    e.displayText()));
  }
}

SimOAuth::~SimOAuth() = default;

TokenVerdict SimOAuth::check(const std::string& method, const std::string& contentType,
                             const std::string& body) const {
  if (method != "POST") return refuse("", "invalid_request", "must use HTTP POST");
  if (contentType.rfind("application/x-www-form-urlencoded", 0) != 0) {
    return refuse("", "invalid_request", "request must be application/x-www-form-urlencoded");
  }
  const auto form = parseForm(body);
  if (!form) return refuse("", "invalid_request", "malformed request body");
  const std::string grant = field(*form, "grant_type");
  if (grant == kJwtGrant) {
    if (!verifier_) return refuse(grant, "unsupported_grant_type", "grant type not supported");
    const std::string assertion = field(*form, "assertion");
    if (assertion.empty()) return refuse(grant, "invalid_request", "assertion is required");
    return checkJwt(assertion);
  }
  if (grant == "client_credentials") {
    if (options_.clientSecret.empty()) {
      return refuse(grant, "unsupported_grant_type", "grant type not supported");
    }
    if (field(*form, "client_id") != options_.clientId) {
      return refuse(grant, "invalid_client_id", "client identifier invalid");
    }
    if (field(*form, "client_secret") != options_.clientSecret) {
      return refuse(grant, "invalid_client", "invalid client credentials");
    }
    if (!options_.userApproved) {
      return refuse(grant, "invalid_grant", "no client credentials user enabled");
    }
    return TokenVerdict{200, "", "", grant};
  }
  if (grant == "refresh_token") {
    if (options_.refreshToken.empty()) {
      return refuse(grant, "unsupported_grant_type", "grant type not supported");
    }
    if (field(*form, "client_id") != options_.clientId) {
      return refuse(grant, "invalid_client_id", "client identifier invalid");
    }
    if (form->count("client_secret") != 0 && !options_.clientSecret.empty() &&
        field(*form, "client_secret") != options_.clientSecret) {
      return refuse(grant, "invalid_client", "invalid client credentials");
    }
    if (field(*form, "refresh_token") != options_.refreshToken || !options_.userApproved) {
      return refuse(grant, "invalid_grant", "expired access/refresh token");
    }
    return TokenVerdict{200, "", "", grant};
  }
  if (grant.empty()) return refuse(grant, "invalid_request", "grant type is required");
  return refuse(grant, "unsupported_grant_type", "grant type not supported");
}

TokenVerdict SimOAuth::checkJwt(const std::string& assertion) const {
  const std::string grant(kJwtGrant);
  Poco::JWT::Token token;
  try {
    token = verifier_->verify(assertion);
  } catch (const Poco::Exception&) {
    // A bad signature, another algorithm (none, HS256) or a token that is not a JWT.
    return refuse(grant, "invalid_grant", "invalid assertion");
  }
  if (token.getIssuer() != options_.clientId) {
    return refuse(grant, "invalid_client_id", "client identifier invalid");
  }
  const auto audiences = token.getAudience();
  if (audiences.size() != 1 || audiences[0] != options_.audience) {
    return refuse(grant, "invalid_grant", "audience is invalid");
  }
  const auto& payload = token.payload();
  if (!payload.has("exp") || !payload.get("exp").isNumeric()) {
    return refuse(grant, "invalid_grant", "invalid assertion");
  }
  const double exp = payload.getValue<double>("exp");
  const double now = static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
  if (exp <= now) return refuse(grant, "invalid_grant", "expired authorization code");
  if (exp > now + static_cast<double>(options_.maxAssertionAhead.count())) {
    return refuse(grant, "invalid_grant", "invalid assertion: exp is too far in the future");
  }
  if (token.getSubject() != options_.username || !options_.userApproved) {
    return refuse(grant, "invalid_grant", "user hasn't approved this consumer");
  }
  return TokenVerdict{200, "", "", grant};
}

std::string SimOAuth::errorBody(const TokenVerdict& v) {
  return fmt::format(R"({{"error":{},"error_description":{}}})", jsonString(v.error),
                     jsonString(v.description));
}

std::string SimOAuth::successBody(const std::string& token, int64_t issuedMs,
                                  const std::string& refreshToken) const {
  const std::string org = token.substr(0, token.find('!'));
  const std::string refresh =
      refreshToken.empty() ? "" : fmt::format(R"("refresh_token":{},)", jsonString(refreshToken));
  return fmt::format(
      R"({{"access_token":{},{}"signature":"c2ltdWxhdGVkIG9yZyBzaWduYXR1cmU=","scope":"api","instance_url":{},"id":{},"token_type":"Bearer","issued_at":"{}"}})",
      jsonString(token), refresh, jsonString(options_.instanceUrl),
      jsonString(fmt::format("https://login.salesforce.com/id/{}/{}", org, options_.userId)),
      issuedMs);
}

}  // namespace bulkwarden::sim
