// `bulkwarden run --once` as a child process logging in to the simulated org over HTTPS with a
// test CA: each OAuth flow and secret source, a session expiring mid-pass, a refused login with
// its backoff, a refused certificate, credential file checks, and a sweep of everything the runs
// wrote for secret text (docs/reliability.md tests C5, C6, S1, S2, S3).
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "AuditRecords.h"
#include "Eventually.h"
#include "auth/AuthSupport.h"
#include "support/Child.h"
#include "support/SecretSweep.h"

namespace bulkwarden::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kPolicies = R"(policies:
  - name: abort-stuck-queries
    resource: query-jobs
    mode: enforce
    schedule: { every: 2m }
    filters:
      - state: [InProgress]
      - older-than: { field: createdDate, age: 30m }
    action: abort
  - name: report-old-ingest
    resource: ingest-jobs
    mode: enforce
    schedule: { every: 2m }
    filters:
      - state: [JobComplete]
    action: report
)";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class AuthEndToEnd : public AuthTest {
 protected:
  void SetUp() override {
    AuthTest::SetUp();
    writePrivate((dir_ / "jwt.key").string(), jwt_->privateKeyPem);
    writePrivate((dir_ / "policies.yaml").string(), kPolicies, 0644);
    fs::create_directories(dir_ / "creds");
    writePrivate((dir_ / "creds" / "sf-client-secret").string(), std::string(kClientSecret) + "\n",
                 0400);
    writePrivate((dir_ / "creds" / "sf-refresh-token").string(), std::string(kRefreshToken), 0400);
  }

  void TearDown() override {
    sweepForSecrets();
    AuthTest::TearDown();
  }

  // The org's config for `flow`, with the auth lines given.
  std::string writeConfig(const std::string& authLines, const std::string& orgExtra = "") {
    std::string cfg = "orgs:\n  - name: test-org\n    ca-file: ca.pem\n" + orgExtra +
                      "    auth:\n" + authLines +
                      "policies: [policies.yaml]\naudit-log: audit.jsonl\nstate-dir: state\n"
                      "concurrency: 8\n";
    const auto path = dir_ / "bulkwarden.yaml";
    writePrivate(path.string(), cfg, 0644);
    return path.string();
  }

  std::string jwtAuth(const std::string& extra = "") const {
    return "      flow: jwt-bearer\n      login-url: " + server_->baseUrl() +
           "\n      client-id: " + kClientId + "\n      username: " + kUsername +
           "\n      private-key: { file: jwt.key }\n      error-backoff: 30s\n" + extra;
  }

  int run(const std::string& config, std::vector<std::string> env = {}) {
    ++runs_;
    env.push_back("CREDENTIALS_DIRECTORY=" + (dir_ / "creds").string());
    env.push_back("SF_CLIENT_ID_UNUSED=1");
    child_ = std::make_unique<Child>(
        std::vector<std::string>{"run", "--once", "--log-level", "debug", "--config", config},
        (dir_ / ("out" + std::to_string(runs_))).string(),
        (dir_ / ("err" + std::to_string(runs_))).string(), env);
    return child_->wait(60s);
  }
  std::string err() const { return child_ ? child_->err() : ""; }

  std::vector<audit::Record> auditTypes(const std::string& type) const {
    return auditRecords((dir_ / "audit.jsonl").string(), recordType(type));
  }

  // S2: no secret, token or key text in any output or file the runs wrote.
  void sweepForSecrets() {
    if (!server_ || runs_ == 0) return;
    int swept = 0;
    for (const auto& leak : leaks(swept)) ADD_FAILURE() << leak;
    EXPECT_GE(swept, runs_ * 2) << "the sweep read less than each run's stdout and stderr";
  }

  // Files (other than the test's own inputs) holding secret-looking text or a known secret.
  std::vector<std::string> leaks(int& swept) const {
    std::set<std::string> literals = {kClientSecret, kRefreshToken, server_->token()};
    for (const auto& t : server_->org().issuedTokens()) literals.insert(t);
    // Lines of the private key's base64 body.
    std::istringstream key(jwt_->privateKeyPem);
    for (std::string line; std::getline(key, line);) {
      if (line.find("-----") == std::string::npos && line.size() > 20) literals.insert(line);
    }
    auto isInput = [](const fs::path& p) {
      static const std::set<std::string> inputs = {"jwt.key", "bulkwarden.yaml", "policies.yaml",
                                                   "ca.pem"};
      // state-dir's refresh-token.<org> holds a rotated refresh token by design (0600).
      return inputs.count(p.filename().string()) != 0 || p.parent_path().filename() == "creds" ||
             p.filename().string().rfind("refresh-token.", 0) == 0 || p.extension() == ".key" ||
             p.extension() == ".crt";
    };
    return findSecrets(dir_, literals, isInput, swept);
  }

  std::unique_ptr<Child> child_;
  int runs_ = 0;
};

TEST_F(AuthEndToEnd, JwtBearerOverHttpsWithATestCa) {
  startSim();
  std::vector<std::string> stuck;
  for (int i = 0; i < 12; ++i) stuck.push_back(org().addJob(job("query", "InProgress", 2h)));
  const std::string fresh = org().addJob(job("query", "InProgress", 5min));
  org().addJob(job("ingest", "JobComplete", 3h));
  // No instance-url: it comes from the token response.
  ASSERT_EQ(run(writeConfig(jwtAuth())), 0) << err();
  for (const auto& id : stuck) {
    EXPECT_EQ(org().state(id), "Aborted") << id;
    EXPECT_EQ(org().appliedActions(id), 1) << id;
  }
  EXPECT_EQ(org().state(fresh), "InProgress");
  EXPECT_EQ(org().counters().tokenRequests, 1) << "one login for both passes";
  EXPECT_EQ(org().counters().unauthorized, 0);
  EXPECT_EQ(auditTypes("intent").size(), 12u);
  EXPECT_EQ(auditTypes("result").size(), 12u);
  EXPECT_NE(err().find("logged in (jwt-bearer); instance " + server_->baseUrl()), std::string::npos)
      << err();
}

TEST_F(AuthEndToEnd, ClientCredentialsFromASystemdCredential) {
  startSim();
  const std::string id = org().addJob(job("query", "InProgress", 2h));
  const std::string cfg =
      writeConfig("      flow: client-credentials\n      client-id: " + std::string(kClientId) +
                      "\n      client-secret: { credential: sf-client-secret }\n",
                  "    instance-url: " + server_->baseUrl() + "\n");
  ASSERT_EQ(run(cfg), 0) << err();
  EXPECT_EQ(org().state(id), "Aborted");
  EXPECT_EQ(org().counters().tokenRequests, 1);
}

TEST_F(AuthEndToEnd, RefreshTokenFromTheEnvironmentAndACredential) {
  startSim();
  const std::string id = org().addJob(job("query", "InProgress", 2h));
  const std::string cfg =
      writeConfig("      flow: refresh-token\n      login-url: " + server_->baseUrl() +
                  "\n      client-id: " + kClientId +
                  "\n      client-secret: { env: BW_TEST_CLIENT_SECRET }\n"
                  "      refresh-token: { credential: sf-refresh-token }\n");
  ASSERT_EQ(run(cfg, {std::string("BW_TEST_CLIENT_SECRET=") + kClientSecret}), 0) << err();
  EXPECT_EQ(org().state(id), "Aborted");
  EXPECT_EQ(org().counters().tokenRequests, 1);
}

TEST_F(AuthEndToEnd, AccessTokenOverHttps) {
  startSim();
  const std::string id = org().addJob(job("query", "InProgress", 2h));
  writePrivate((dir_ / "creds" / "sf-access-token").string(), server_->token() + "\n", 0400);
  const std::string cfg =
      writeConfig("      flow: access-token\n      access-token: { credential: sf-access-token }\n",
                  "    instance-url: " + server_->baseUrl() + "\n");
  ASSERT_EQ(run(cfg), 0) << err();
  EXPECT_EQ(org().state(id), "Aborted");
  EXPECT_EQ(org().counters().tokenRequests, 0);
}

// C5: the session expires while the pass is aborting jobs. Exactly one token request renews it,
// each refused request is repeated once, the pass completes, and no abort is lost or repeated.
TEST_F(AuthEndToEnd, SessionExpiringMidPassIsRenewedOnce) {
  startSim();
  std::vector<std::string> stuck;
  for (int i = 0; i < 30; ++i) stuck.push_back(org().addJob(job("query", "InProgress", 2h)));
  std::atomic<bool> expired{false};
  sim::SimOrg* o = &org();
  org().setRequestHook([o, &expired](const sim::SimRequest& r) {
    if (r.method == "PATCH" && !expired.exchange(true)) o->expireIssuedTokens();
  });
  ASSERT_EQ(run(writeConfig(jwtAuth())), 0) << err();
  org().setRequestHook({});
  EXPECT_EQ(org().counters().tokenRequests, 2) << "one login, one renewal";
  EXPECT_GE(org().counters().unauthorized, 1);
  EXPECT_LE(org().counters().unauthorized, 8) << "at most the requests in flight";
  for (const auto& id : stuck) {
    EXPECT_EQ(org().state(id), "Aborted") << id;
    EXPECT_EQ(org().appliedActions(id), 1) << id;
  }
  const auto results = auditTypes("result");
  EXPECT_EQ(auditTypes("intent").size(), 30u);
  ASSERT_EQ(results.size(), 30u);
  for (const auto& r : results) EXPECT_EQ(r.outcome(), audit::Outcome::Applied) << r.seq;
}

// C6: the login is refused. No action, a clear AUTH_INVALID_GRANT error, and the second pass
// (ingest) makes no second token request: the backoff holds.
TEST_F(AuthEndToEnd, InvalidGrantTakesNoActionAndBacksOff) {
  auto o = simOptions();
  o.oauth.userApproved = false;
  startSim(o);
  const std::string id = org().addJob(job("query", "InProgress", 2h));
  EXPECT_EQ(run(writeConfig(jwtAuth())), 69) << err();
  EXPECT_EQ(org().state(id), "InProgress");
  EXPECT_EQ(org().counters().tokenRequests, 1);
  EXPECT_EQ(org().counters().requests, 1) << "nothing but the one token request";
  EXPECT_TRUE(auditTypes("intent").empty());
  const std::string e = err();
  EXPECT_NE(e.find("AUTH_INVALID_GRANT"), std::string::npos) << e;
  EXPECT_NE(e.find("invalid_grant: user hasn't approved this consumer"), std::string::npos) << e;
  EXPECT_NE(e.find("no new token request for"), std::string::npos) << e;
}

// S1 end to end: without ca-file the test CA is unknown; the run fails naming the reason and
// nothing reaches the org.
TEST_F(AuthEndToEnd, UntrustedCertificateFailsTheRunBeforeAnyRequest) {
  startSim();
  org().addJob(job("query", "InProgress", 2h));
  std::string cfg = writeConfig(jwtAuth());
  std::string text = slurp(cfg);
  text.replace(text.find("    ca-file: ca.pem\n"), 20, "");
  writePrivate(cfg, text, 0644);
  EXPECT_EQ(run(cfg), 69) << err();
  EXPECT_NE(err().find("TLS_UNTRUSTED"), std::string::npos) << err();
  EXPECT_NE(err().find("unable to get local issuer certificate"), std::string::npos) << err();
  EXPECT_EQ(org().counters().requests, 0);
}

// S3: a key readable by others is refused at startup (exit 78), as ssh does; so is a missing
// credential. Nothing is sent.
TEST_F(AuthEndToEnd, OpenKeyFileAndMissingCredentialAreRefusedAtStartup) {
  startSim();
  ::chmod((dir_ / "jwt.key").c_str(), 0644);
  EXPECT_EQ(run(writeConfig(jwtAuth())), 78) << err();
  EXPECT_NE(err().find("permissions 0644"), std::string::npos) << err();
  EXPECT_NE(err().find("too open"), std::string::npos) << err();
  ::chmod((dir_ / "jwt.key").c_str(), 0600);

  const std::string cfg = writeConfig(
      "      flow: client-credentials\n      client-id: x\n"
      "      client-secret: { credential: no-such-credential }\n",
      "    instance-url: " + server_->baseUrl() + "\n");
  EXPECT_EQ(run(cfg), 78) << err();
  EXPECT_NE(err().find("no such credential"), std::string::npos) << err();
  EXPECT_NE(err().find("LoadCredential=no-such-credential"), std::string::npos) << err();

  std::string bad =
      "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n";
  writePrivate((dir_ / "jwt.key").string(), bad);
  EXPECT_EQ(run(writeConfig(jwtAuth())), 78) << err();
  EXPECT_NE(err().find("not a usable unencrypted RSA private key"), std::string::npos) << err();
  EXPECT_NE(err().find("file " + (dir_ / "jwt.key").string()), std::string::npos) << err();
  EXPECT_EQ(err().find("bm90IGEga2V5"), std::string::npos) << "the key text was printed";
  writePrivate((dir_ / "jwt.key").string(), jwt_->privateKeyPem);
  EXPECT_EQ(org().counters().requests, 0);
}

// The daemon (not --once) with a pass every second and a refused login: the token endpoint is
// asked once per error-backoff, never in a loop, and nothing is done; once the admin fixes the
// app, the next attempt after the backoff logs in and the pass acts.
TEST_F(AuthEndToEnd, DaemonBacksOffThenRecoversWhenTheLoginIsFixed) {
  auto o = simOptions();
  o.oauth.userApproved = false;
  startSim(o);
  const std::string id = org().addJob(job("query", "InProgress", 2h));
  writePrivate((dir_ / "policies.yaml").string(), R"(policies:
  - name: abort-stuck-queries
    resource: query-jobs
    mode: enforce
    schedule: { every: 1s }
    filters:
      - state: [InProgress]
      - older-than: { field: createdDate, age: 30m }
    action: abort
)",
               0644);
  std::string auth = jwtAuth();
  auth.replace(auth.find("error-backoff: 30s"), 18, "error-backoff: 3s");
  const std::string cfg = writeConfig(auth);
  ++runs_;
  child_ = std::make_unique<Child>(
      std::vector<std::string>{"run", "--log-level", "debug", "--config", cfg},
      (dir_ / ("out" + std::to_string(runs_))).string(),
      (dir_ / ("err" + std::to_string(runs_))).string());
  for (int i = 0; i < 250 && org().counters().tokenRequests == 0; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(org().counters().tokenRequests, 1) << child_->err();
  // Passes every second, inside the 3 s backoff: no second token request meanwhile.
  EXPECT_TRUE(testing::holdsFor([&] { return org().counters().tokenRequests == 1; }, 1500ms))
      << child_->err();
  EXPECT_EQ(org().counters().patches, 0);
  org().setUserApproved(true);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (org().state(id) != "Aborted" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(20s), 0) << err();
  EXPECT_EQ(org().state(id), "Aborted") << err();
  EXPECT_EQ(org().appliedActions(id), 1);
  EXPECT_EQ(org().counters().tokenRequests, 2) << "one refused, one after the backoff";
  EXPECT_NE(err().find("AUTH_INVALID_GRANT"), std::string::npos);
}

// The sweep itself must be able to fail: a planted leak of each kind is found.
TEST_F(AuthEndToEnd, SweepFindsPlantedLeaks) {
  startSim();
  int swept = 0;
  EXPECT_TRUE(leaks(swept).empty());
  writePrivate((dir_ / "leak1.log").string(), "Authorization: Bearer abc\n");
  writePrivate((dir_ / "leak2.log").string(), "token " + server_->token() + "\n");
  writePrivate((dir_ / "leak3.log").string(), "x=" + std::string(kRefreshToken) + "\n");
  writePrivate((dir_ / "leak4.log").string(), jwt_->privateKeyPem.substr(40, 200));
  const auto found = leaks(swept);
  for (int i = 1; i <= 4; ++i) {
    const std::string file = "leak" + std::to_string(i) + ".log";
    EXPECT_TRUE(
        std::any_of(found.begin(), found.end(),
                    [&](const std::string& f) { return f.find(file) != std::string::npos; }))
        << file << " not flagged";
  }
  for (int i = 1; i <= 4; ++i) fs::remove(dir_ / ("leak" + std::to_string(i) + ".log"));
}

}  // namespace
}  // namespace bulkwarden::testing
