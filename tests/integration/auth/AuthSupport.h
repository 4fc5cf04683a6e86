// Shared setup for the auth tests: a simulated org over HTTPS (test CA) with its token endpoint
// configured for every flow, and the keys and secrets the client side needs.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "auth/TestPki.h"
#include "sim/SimServer.h"

namespace bulkwarden::testing {

constexpr const char* kClientId = "3MVG9TestConsumerKey.for.bulkwarden";
constexpr const char* kUsername = "integration@acme.example";
constexpr const char* kClientSecret = "S3cr3t-Cl1ent-Value-7781";
constexpr const char* kRefreshToken = "5Aep861TSESvWeug_refresh.token.value.QxZ";

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-auth-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    pki_ = std::make_unique<TestPki>(dir_.string());
    jwt_ = std::make_unique<JwtKeys>();
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  sim::SimOptions simOptions() const {
    sim::SimOptions o;
    o.oauth.clientId = kClientId;
    o.oauth.username = kUsername;
    o.oauth.jwtCertificatePem = jwt_->certificatePem;
    o.oauth.clientSecret = kClientSecret;
    o.oauth.refreshToken = kRefreshToken;
    return o;
  }

  sim::SimServer& startSim(sim::SimOptions o) {
    auto cert = pki_->server("sim");
    o.tlsCertificateFile = cert.certFile;
    o.tlsPrivateKeyFile = cert.keyFile;
    server_ = std::make_unique<sim::SimServer>(std::move(o));
    server_->start();
    return *server_;
  }
  sim::SimServer& startSim() { return startSim(simOptions()); }
  sim::SimOrg& org() { return server_->org(); }

  std::filesystem::path dir_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<JwtKeys> jwt_;
  std::unique_ptr<sim::SimServer> server_;
};

inline sim::JobSeed job(const char* kind, const char* state, std::chrono::milliseconds age) {
  sim::JobSeed s;
  s.kind = kind;
  s.state = state;
  s.age = age;
  return s;
}

}  // namespace bulkwarden::testing
