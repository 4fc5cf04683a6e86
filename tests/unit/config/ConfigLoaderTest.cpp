#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "config/Config.h"

namespace bulkwarden::config {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "bulkwarden-config-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    if (made == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& text, mode_t mode = 0644) const {
    fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    ::chmod(p.c_str(), mode);
    return p.string();
  }
  std::string path(const std::string& name = "") const {
    return name.empty() ? path_.string() : (path_ / name).string();
  }

 private:
  fs::path path_;
};

constexpr char kOrg[] = R"(orgs:
  - name: acme-prod
    api-version: "62.0"
    instance-url: https://acme.my.salesforce.com
    auth:
      flow: access-token
      access-token: { credential: sf-access-token }
)";

constexpr char kPolicy[] = R"(policies:
  - name: {}
    resource: query-jobs
    action: abort
    filters:
      - state: InProgress
)";

std::vector<Diagnostic> errorsOf(const std::string& configPath) {
  try {
    loadConfig(configPath);
  } catch (const ConfigError& e) {
    return e.diagnostics();
  }
  return {};
}

// One diagnostic whose place and message are as given.
void expectOne(const std::string& configPath, const std::string& file, int line, int col,
               const std::string& text, const std::string& hint = "") {
  auto d = errorsOf(configPath);
  ASSERT_EQ(d.size(), 1u) << (d.empty() ? "(none)" : d[0].str() + " ... " + d.back().str());
  EXPECT_EQ(d[0].where.file, file) << d[0].str();
  EXPECT_EQ(d[0].where.line, line) << d[0].str();
  EXPECT_EQ(d[0].where.column, col) << d[0].str();
  EXPECT_THAT(d[0].message, HasSubstr(text)) << d[0].str();
  if (!hint.empty()) {
    EXPECT_THAT(d[0].hint, HasSubstr(hint)) << d[0].str();
  }
}

TEST(ConfigLoader, TheExamplePoliciesLoad) {
  TempDir dir;
  std::string cfg = dir.write(
      "bulkwarden.yaml",
      std::string(kOrg) + fmt::format("policies: {}/policies/*.yaml\n", BULKWARDEN_SOURCE_DIR));
  Config c = loadConfig(cfg);
  ASSERT_EQ(c.policyFiles.size(), 4u);
  std::vector<std::string> names;
  for (const auto& p : c.policies) names.push_back(p.name);
  EXPECT_THAT(names,
              ::testing::UnorderedElementsAre(
                  "abort-stuck-query-jobs", "abort-stuck-ingest-jobs", "delete-finished-query-jobs",
                  "delete-finished-ingest-jobs", "report-open-ingest-jobs"));
  for (const auto& p : c.policies) EXPECT_EQ(p.mode, policy::Mode::DryRun) << p.name;
}

TEST(ConfigLoader, TheExampleConfigLoads) {
  TempDir dir;
  std::ifstream in(std::string(BULKWARDEN_SOURCE_DIR) + "/config/bulkwarden.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string from = "/etc/bulkwarden/policies.d/*.yaml";
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), from.size(), "policies.d/*.yaml");
  dir.write("policies.d/a.yaml", fmt::format(kPolicy, "a"));
  Config c = loadConfig(dir.write("bulkwarden.yaml", text));
  ASSERT_EQ(c.orgs.size(), 1u);
  const OrgConfig& org = c.orgs[0];
  EXPECT_EQ(org.name, "acme-prod");
  EXPECT_EQ(org.apiVersion, "62.0");
  EXPECT_EQ(org.instanceUrl, "https://acme.my.salesforce.com");
  EXPECT_EQ(org.auth.flow, "access-token");
  ASSERT_TRUE(org.auth.accessToken.has_value());
  EXPECT_EQ(org.auth.accessToken->source, SecretRef::Source::Credential);
  EXPECT_EQ(org.auth.accessToken->name, "sf-access-token");
  EXPECT_EQ(org.auth.accessToken->describe(), "credential sf-access-token");
  EXPECT_EQ(c.auditLog, "/var/log/bulkwarden/audit.jsonl");
  EXPECT_EQ(c.stateDir, "/var/lib/bulkwarden");
  ASSERT_TRUE(c.http.has_value());
  EXPECT_EQ(c.http->listen, "127.0.0.1:9464");
  EXPECT_EQ(c.concurrency, 8);
  EXPECT_FALSE(c.dryRun);
  ASSERT_EQ(c.policies.size(), 1u);
  EXPECT_EQ(c.policyFiles, std::vector<std::string>{dir.path("policies.d/a.yaml")});
}

TEST(ConfigLoader, DefaultsAndRelativePaths) {
  TempDir dir;
  dir.write("p/b.yaml", fmt::format(kPolicy, "b"));
  dir.write("p/a.yaml", fmt::format(kPolicy, "a"));
  dir.write("extra.yaml", fmt::format(kPolicy, "c"));
  std::string cfg = dir.write("c.yaml", std::string(kOrg) +
                                            "policies: [p/*.yaml, extra.yaml, p/a.yaml]\n"
                                            "audit-log: log/audit.jsonl\n"
                                            "state-dir: ./state\n"
                                            "concurrency: 3\n"
                                            "dry-run: true\n");
  std::string withWorkers = dir.write("w.yaml", std::string(kOrg) +
                                                    "policies: [extra.yaml]\n"
                                                    "workers: 12\n");
  EXPECT_EQ(loadConfig(withWorkers).workers, 12);
  Config c = loadConfig(cfg);
  EXPECT_EQ(c.path, cfg);
  // Globs expand sorted, in the order given; a file named twice is read once.
  EXPECT_EQ(c.policyFiles, (std::vector<std::string>{dir.path("p/a.yaml"), dir.path("p/b.yaml"),
                                                     dir.path("extra.yaml")}));
  ASSERT_EQ(c.policies.size(), 3u);
  EXPECT_EQ(c.policies[0].name, "a");
  EXPECT_EQ(c.policies[2].name, "c");
  EXPECT_EQ(c.policies[0].where.file, dir.path("p/a.yaml"));
  EXPECT_EQ(c.auditLog, dir.path("log/audit.jsonl"));
  EXPECT_EQ(c.stateDir, dir.path("state"));
  EXPECT_FALSE(c.http.has_value());
  EXPECT_EQ(c.concurrency, 3);
  EXPECT_EQ(c.workers, 0) << "default: from the CPU count";
  EXPECT_TRUE(c.dryRun);
  // Reliability defaults.
  EXPECT_EQ(c.auditRotateBytes, 0u);
  EXPECT_EQ(c.auditReserveBytes, 16u << 20);
  EXPECT_DOUBLE_EQ(c.apiUsageShare, 0.9);
  EXPECT_EQ(c.limitPause, std::chrono::hours(1));
  EXPECT_EQ(c.maxJobsPerListing, 200'000);
}

TEST(ConfigLoader, ReliabilityKeys) {
  TempDir dir;
  dir.write("p.yaml", fmt::format(kPolicy, "a"));
  Config c = loadConfig(dir.write("c.yaml", std::string(kOrg) + "policies: p.yaml\n"
                                                                "audit-rotate-size: 100MiB\n"
                                                                "audit-reserve: 512KiB\n"
                                                                "api-usage-limit: 75%\n"
                                                                "limit-pause: 2h\n"
                                                                "follow-up-precision: 3s\n"
                                                                "max-jobs-per-listing: 5000\n"));
  EXPECT_EQ(c.auditRotateBytes, 100u << 20);
  EXPECT_EQ(c.auditReserveBytes, 512u << 10);
  EXPECT_DOUBLE_EQ(c.apiUsageShare, 0.75);
  EXPECT_EQ(c.limitPause, std::chrono::hours(2));
  EXPECT_EQ(c.followUpPrecision, std::chrono::seconds(3));
  EXPECT_EQ(c.maxJobsPerListing, 5000);
  for (const char* bad :
       {"audit-rotate-size: 10TB\n", "audit-rotate-size: 1KiB\n", "audit-reserve: lots\n",
        "api-usage-limit: 150%\n", "api-usage-limit: 0\n", "limit-pause: soon\n",
        "follow-up-precision: 2m\n", "follow-up-precision: [1s]\n", "max-jobs-per-listing: 0\n",
        "max-jobs-per-listing: 1000001\n", "max-jobs-per-listing: many\n",
        "max-jobs-per-listing: [1]\n"}) {
    std::string path = dir.write("bad.yaml", std::string(kOrg) + "policies: p.yaml\n" + bad);
    try {
      loadConfig(path);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const ConfigError& e) {
      ASSERT_EQ(e.diagnostics().size(), 1u) << bad;
      EXPECT_EQ(e.diagnostics()[0].where.line, 9) << bad << e.what();
    }
  }
}

TEST(ConfigLoader, AuditKeyIsASecretReference) {
  TempDir dir;
  dir.write("p.yaml", fmt::format(kPolicy, "a"));
  Config c = loadConfig(dir.write("c.yaml", std::string(kOrg) + "policies: p.yaml\n"
                                                                "audit-key: { credential: ak }\n"));
  ASSERT_TRUE(c.auditKey);
  EXPECT_EQ(c.auditKey->source, SecretRef::Source::Credential);
  EXPECT_EQ(c.auditKey->name, "ak");
  EXPECT_FALSE(loadConfig(dir.write("d.yaml", std::string(kOrg) + "policies: p.yaml\n")).auditKey);
  EXPECT_THROW(loadConfig(dir.write("e.yaml", std::string(kOrg) + "policies: p.yaml\n"
                                                                  "audit-key: plain text\n")),
               ConfigError);
}

TEST(ConfigLoader, ClusterSettings) {
  TempDir dir;
  dir.write("p.yaml", fmt::format(kPolicy, "a"));
  auto with = [&](const std::string& name, const std::string& cluster) {
    return dir.write(name, std::string(kOrg) + "policies: p.yaml\ncluster:\n" + cluster);
  };
  Config c = loadConfig(with("a.yaml",
                             "  postgres: { conninfo: \"host=db dbname=bw user=bw\", password: "
                             "{ credential: pg } }\n  node: node-a\n  lease: 2s\n"));
  ASSERT_TRUE(c.cluster);
  EXPECT_EQ(c.cluster->conninfo, "host=db dbname=bw user=bw");
  ASSERT_TRUE(c.cluster->password);
  EXPECT_EQ(c.cluster->password->name, "pg");
  EXPECT_EQ(c.cluster->node, "node-a");
  EXPECT_EQ(c.cluster->lease, std::chrono::seconds(2));
  // The password is a secret `validate` checks.
  auto refs = secretRefs(c);
  EXPECT_EQ(refs.back()->name, "pg");
  // Defaults: the host name, 15 s.
  Config d = loadConfig(with("b.yaml", "  postgres: { conninfo: \"dbname=bw\" }\n"));
  ASSERT_TRUE(d.cluster);
  EXPECT_FALSE(d.cluster->node.empty());
  EXPECT_EQ(d.cluster->lease, std::chrono::seconds(15));
  EXPECT_FALSE(loadConfig(dir.write("n.yaml", std::string(kOrg) + "policies: p.yaml\n")).cluster);
  // A password in the conninfo is refused, and not echoed.
  auto e = errorsOf(with("c.yaml", "  postgres: { conninfo: \"dbname=bw password=hunter2\" }\n"));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_THAT(e[0].message, HasSubstr("holds a password"));
  EXPECT_EQ(e[0].str().find("hunter2"), std::string::npos) << e[0].str();
  e = errorsOf(with("c2.yaml", "  postgres: { conninfo: \"postgresql://bw:hunter2@db/bw\" }\n"));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].str().find("hunter2"), std::string::npos) << e[0].str();
  EXPECT_TRUE(
      errorsOf(with("c3.yaml", "  postgres: { conninfo: \"postgresql://bw@db/bw\" }\n")).empty());
  expectOne(with("d.yaml", "  postgres: { conninfo: \"dbname=bw\" }\n  lease: 0s\n"),
            dir.path("d.yaml"), 11, 10, "from 1s to 10m for lease");
  expectOne(with("e.yaml", "  postgres: { conninfo: \"dbname=bw\" }\n  node: \"a b\"\n"),
            dir.path("e.yaml"), 11, 9, "bad node name");
  EXPECT_FALSE(errorsOf(with("f.yaml", "  node: x\n")).empty());  // postgres is required
  EXPECT_FALSE(
      errorsOf(with("g.yaml", "  postgres: { conninfo: \"dbname=bw\" }\n  leese: 1s\n")).empty());
}

// Cluster mode moves orgs between nodes, and a rotated refresh token lives in one node's
// state-dir: the refresh-token flow is warned about (not refused: without rotation it works).
TEST(ConfigLoader, ClusterWarnsAboutTheRefreshTokenFlow) {
  TempDir dir;
  dir.write("p.yaml", fmt::format(kPolicy, "a"));
  const std::string orgs = R"(orgs:
  - name: rt
    instance-url: https://acme.my.salesforce.com
    auth:
      flow: refresh-token
      client-id: 3MVG9abc
      refresh-token: { credential: sf-refresh }
  - name: cc
    instance-url: https://acme.my.salesforce.com
    auth:
      flow: client-credentials
      client-id: 3MVG9abc
      client-secret: { env: SF_SECRET }
policies: p.yaml
)";
  Config c =
      loadConfig(dir.write("c.yaml", orgs + "cluster:\n  postgres: { conninfo: \"dbname=bw\" }\n"));
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0].where.str(), dir.path("c.yaml") + ":2:5");
  EXPECT_THAT(c.warnings[0].str(), HasSubstr("org 'rt' uses the refresh-token flow in cluster"));
  EXPECT_THAT(c.warnings[0].str(), HasSubstr("jwt-bearer or client-credentials"));
  // One node alone: the rotated token stays where it is used.
  EXPECT_TRUE(loadConfig(dir.write("d.yaml", orgs)).warnings.empty());
}

TEST(ConfigLoader, OrgForms) {
  TempDir dir;
  dir.write("p.yaml", "policies: []\n");
  std::string cfg = dir.write("c.yaml", R"(orgs:
  - name: sim
    api-version: 66.0
    instance-url: http://127.0.0.1:41234/
    auth: { flow: access-token, access-token: { env: SF_TOKEN } }
  - name: sim6
    api-version: 62
    instance-url: http://[::1]:8080
    auth: { flow: access-token, access-token: { file: token } }
  - name: local
    instance-url: http://localhost:9
    auth: { access-token: { env: X } }
  - name: future
    api-version: "100.0"
    instance-url: http://localhost:9
    auth: { access-token: { env: X } }
  - name: future2
    api-version: 101
    instance-url: http://localhost:9
    auth: { access-token: { env: X } }
policies: p.yaml
http: { listen: "[::1]:0" }
)");
  Config c = loadConfig(cfg);
  ASSERT_EQ(c.orgs.size(), 5u);
  EXPECT_EQ(c.orgs[3].apiVersion, "100.0") << "three-digit versions come some years";
  EXPECT_EQ(c.orgs[4].apiVersion, "101.0");
  EXPECT_EQ(c.orgs[0].apiVersion, "66.0");
  EXPECT_EQ(c.orgs[0].instanceUrl, "http://127.0.0.1:41234");
  EXPECT_EQ(c.orgs[0].auth.accessToken->source, SecretRef::Source::Env);
  EXPECT_EQ(c.orgs[1].apiVersion, "62.0");
  EXPECT_EQ(c.orgs[1].auth.accessToken->name, dir.path("token"));
  EXPECT_EQ(c.orgs[2].apiVersion, "62.0");
  EXPECT_EQ(c.orgs[2].where.line, 10);
  EXPECT_EQ(c.http->listen, "[::1]:0");
}

struct ConfigCase {
  const char* name;
  std::string text;  // the config file (policies: p.yaml is appended)
  int line;
  int col;
  const char* message;
  const char* hint;
};

TEST(ConfigLoader, OAuthFlows) {
  TempDir dir;
  dir.write("p.yaml", "policies: []\n");
  dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  std::string cfg = dir.write("c.yaml", R"(orgs:
  - name: jwt
    ca-file: ca.pem
    auth:
      flow: jwt-bearer
      client-id: 3MVG9abc
      username: bulkwarden@acme.com
      private-key: { credential: sf-jwt-key }
  - name: sandbox
    auth:
      flow: jwt-bearer
      login-url: https://test.salesforce.com/
      audience: https://test.salesforce.com
      client-id: 3MVG9abc
      username: bulkwarden@acme.com.uat
      private-key: { file: key.pem }
      error-backoff: 15m
  - name: cc
    instance-url: https://acme.my.salesforce.com
    auth:
      flow: client-credentials
      client-id: 3MVG9abc
      client-secret: { env: SF_SECRET }
  - name: rt
    auth:
      flow: refresh-token
      client-id: 3MVG9abc
      refresh-token: { credential: sf-refresh }
policies: p.yaml
)");
  Config c = loadConfig(cfg);
  ASSERT_EQ(c.orgs.size(), 4u);
  const auto& jwt = c.orgs[0];
  EXPECT_EQ(jwt.auth.flow, "jwt-bearer");
  EXPECT_EQ(jwt.auth.loginUrl, "https://login.salesforce.com");
  EXPECT_EQ(jwt.auth.clientId, "3MVG9abc");
  EXPECT_EQ(jwt.auth.username, "bulkwarden@acme.com");
  ASSERT_TRUE(jwt.auth.privateKey.has_value());
  EXPECT_EQ(jwt.auth.privateKey->describe(), "credential sf-jwt-key");
  EXPECT_EQ(jwt.instanceUrl, "") << "learned from the token response";
  EXPECT_EQ(jwt.caFile, dir.path("ca.pem"));
  EXPECT_EQ(jwt.auth.errorBackoff, std::chrono::minutes(5));
  const auto& sandbox = c.orgs[1];
  EXPECT_EQ(sandbox.auth.loginUrl, "https://test.salesforce.com");
  EXPECT_EQ(sandbox.auth.audience, "https://test.salesforce.com");
  EXPECT_EQ(sandbox.auth.privateKey->name, dir.path("key.pem"));
  EXPECT_EQ(sandbox.auth.errorBackoff, std::chrono::minutes(15));
  const auto& cc = c.orgs[2];
  EXPECT_EQ(cc.auth.loginUrl, "https://acme.my.salesforce.com") << "My Domain = instance-url";
  EXPECT_EQ(cc.auth.clientSecret->describe(), "env SF_SECRET");
  const auto& rt = c.orgs[3];
  EXPECT_EQ(rt.auth.refreshToken->describe(), "credential sf-refresh");
  EXPECT_FALSE(rt.auth.clientSecret.has_value());
}

TEST(ConfigLoader, ConfigErrors) {
  const std::string org = "orgs:\n  - name: a\n    instance-url: https://a.my.salesforce.com\n";
  const std::string auth = "    auth: { flow: access-token, access-token: { env: T } }\n";
  std::vector<ConfigCase> cases = {
      {"unknown top key", org + auth + "audit: x\n", 5, 1, "unknown key 'audit'",
       "did you mean 'audit-log'?"},
      {"unknown org key", org + auth + "    instanceUrl: x\n", 5, 5,
       "unknown key 'instanceUrl' in an org", "did you mean 'instance-url'?"},
      {"unknown auth key",
       org + "    auth: { flow: access-token, access-token: { env: T }, x: 1 }\n", 4, 59,
       "unknown key 'x' in an auth map", "valid keys: flow, access-token"},
      {"orgs not a list", "orgs: { name: a }\n", 1, 7, "expected a list of orgs, got a map", ""},
      {"no orgs", "orgs: []\n", 1, 7, "the config needs at least one org", ""},
      {"missing orgs", "audit-log: x\n", 1, 1, "missing key 'orgs'", ""},
      {"bad org name", "orgs:\n  - name: Acme_Prod\n    instance-url: https://a.b\n" + auth, 2, 11,
       "bad org name 'Acme_Prod'", "lowercase"},
      {"duplicate org",
       org + auth + "  - name: a\n    instance-url: https://b.my.salesforce.com\n" + auth, 5, 11,
       "duplicate org name 'a'; first defined at", ""},
      {"four-digit api-version", org + auth + "    api-version: \"1000.0\"\n", 5, 18,
       "bad api-version '1000.0'", ""},
      {"bad api-version", org + auth + "    api-version: v62\n", 5, 18, "bad api-version 'v62'",
       "\"NN.N\""},
      {"old api-version", org + auth + "    api-version: \"41.0\"\n", 5, 18,
       "api-version 41.0 is too old", ""},
      {"http not loopback",
       "orgs:\n  - name: a\n    instance-url: http://acme.my.salesforce.com\n" + auth, 3, 19,
       "uses http on a host that is not loopback", "use https"},
      {"http look-alike",
       "orgs:\n  - name: a\n    instance-url: http://127.0.0.1.evil.com\n" + auth, 3, 19,
       "not loopback", ""},
      {"url with path", "orgs:\n  - name: a\n    instance-url: https://a.com/services\n" + auth, 3,
       19, "has more than a scheme, host and port", ""},
      {"url not a url", "orgs:\n  - name: a\n    instance-url: acme\n" + auth, 3, 19,
       "bad instance-url 'acme'", ""},
      {"missing instance-url", "orgs:\n  - name: a\n" + auth, 2, 5, "missing key 'instance-url'",
       ""},
      {"jwt missing key", org + "    auth: { flow: jwt-bearer, client-id: x, username: u }\n", 4,
       11, "missing key 'private-key' in an auth map", ""},
      {"client-credentials on login.salesforce.com",
       org + "    auth: { flow: client-credentials, client-id: x, client-secret: { env: S }, "
             "login-url: https://login.salesforce.com }\n",
       4, 91, "flow client-credentials needs the org's My Domain, not login.salesforce.com",
       "my.salesforce.com"},
      {"client-credentials without My Domain",
       "orgs:\n  - name: a\n    auth: { flow: client-credentials, client-id: x, client-secret: { "
       "env: S } }\n",
       2, 5, "flow client-credentials needs the org's My Domain URL", "instance-url"},
      {"key of refresh-token flow",
       org + "    auth: { flow: refresh-token, client-id: x, refresh-token: { env: R }, username: "
             "u }\n",
       4, 75, "'username' does not apply to flow refresh-token", "client-id, refresh-token"},
      {"bad error-backoff",
       org + "    auth: { flow: jwt-bearer, client-id: x, username: u, private-key: { env: K }, "
             "error-backoff: 0s }\n",
       4, 98, "bad error-backoff '0s'", "1s to 24h"},
      {"login-url http",
       org + "    auth: { flow: jwt-bearer, client-id: x, username: u, private-key: { env: K }, "
             "login-url: http://login.example.com }\n",
       4, 94, "login-url 'http://login.example.com' uses http on a host that is not loopback", ""},
      {"ca-file missing", org + auth + "    ca-file: nope.pem\n", 5, 14,
       "nope.pem' is not a readable file", ""},
      {"unknown flow", org + "    auth: { flow: jwt }\n", 4, 19, "unknown auth flow 'jwt'", ""},
      {"key of another flow",
       org + "    auth: { flow: access-token, client-id: x, access-token: { env: T } }\n", 4, 33,
       "'client-id' does not apply to flow access-token", ""},
      {"missing token", org + "    auth: { flow: access-token }\n", 4, 11,
       "missing key 'access-token'", ""},
      {"secret two sources",
       org + "    auth: { flow: access-token, access-token: { env: T, file: x } }\n", 4, 47,
       "a secret has exactly one source", ""},
      {"secret unknown source",
       org + "    auth: { flow: access-token, access-token: { vault: T } }\n", 4, 49,
       "unknown key 'vault'", ""},
      {"secret plain string", org + "    auth: { flow: access-token, access-token: 00Dxx!AQ }\n", 4,
       47, "expected a secret for 'access-token'", ""},
      {"bad credential name",
       org + "    auth: { flow: access-token, access-token: { credential: ../x } }\n", 4, 61,
       "bad credential name '../x'", ""},
      {"concurrency", org + auth + "concurrency: 0\n", 5, 14, "expected an integer from 1 to 256",
       ""},
      {"concurrency text", org + auth + "concurrency: lots\n", 5, 14, "got 'lots'", ""},
      {"workers", org + auth + "workers: 0\n", 5, 10,
       "expected an integer from 1 to 256 for workers", ""},
      {"workers huge", org + auth + "workers: 100000\n", 5, 10, "from 1 to 256 for workers", ""},
      {"workers list", org + auth + "workers: [4]\n", 5, 10, "for workers, got a list", ""},
      {"dry-run", org + auth + "dry-run: maybe\n", 5, 10, "expected true or false for dry-run", ""},
      {"listen", org + auth + "http: { listen: 9464 }\n", 5, 17, "bad listen address '9464'", ""},
      {"http key", org + auth + "http: { port: 9464 }\n", 5, 9, "unknown key 'port'", ""},
      {"audit-log type", org + auth + "audit-log: [a]\n", 5, 12, "expected a file path, got a list",
       ""},
  };
  for (const ConfigCase& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    dir.write("p.yaml", "policies: []\n");
    std::string cfg = dir.write("c.yaml", c.text + "policies: p.yaml\n");
    expectOne(cfg, cfg, c.line, c.col, c.message, c.hint);
  }
}

TEST(ConfigLoader, APolicyFileGivenAsTheConfigSaysSo) {
  TempDir dir;
  std::string file = dir.write("p.yaml", fmt::format(kPolicy, "a"));
  expectOne(file, file, 1, 1, "missing key 'orgs'", "this looks like a policy file");
  // A config that only lacks orgs gets no such hint.
  dir.write("q.yaml", fmt::format(kPolicy, "a"));
  std::string cfg = dir.write("c.yaml", "policies: q.yaml\n");
  auto d = errorsOf(cfg);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_THAT(d[0].message, HasSubstr("missing key 'orgs'"));
  EXPECT_EQ(d[0].hint.find("policy file"), std::string::npos) << d[0].str();
}

TEST(ConfigLoader, GlobalExemptionsApplyToEveryPolicyAfterItsOwn) {
  TempDir dir;
  dir.write("p.yaml", fmt::format(kPolicy, "a") +
                          "    exempt: [ { object: Contact, reason: own } ]\n" +
                          "  - name: b\n    resource: query-jobs\n    action: abort\n"
                          "    filters:\n      - state: InProgress\n");
  std::string cfg = dir.write(
      "c.yaml",
      std::string(kOrg) +
          "policies: p.yaml\n"
          "exempt:\n"
          "  - { job: 750R0000000zlh9IAA, until: 2999-12-31T00:00:00Z, reason: close }\n");
  Config c = loadConfig(cfg);
  ASSERT_EQ(c.exempt.size(), 1u);
  EXPECT_EQ(c.exempt[0].where.str(), cfg + ":10:5");
  ASSERT_EQ(c.policies.size(), 2u);
  ASSERT_EQ(c.policies[0].exempt.size(), 2u);
  EXPECT_EQ(c.policies[0].exempt[0].reason, "own");
  EXPECT_EQ(c.policies[0].exempt[1].reason, "close");
  ASSERT_EQ(c.policies[1].exempt.size(), 1u);
  model::Job job;
  job.id = "750R0000000zlh9IAA";
  auto now = *model::parseTimestamp("2026-12-02T00:00:00Z");
  const auto* ex = c.policies[1].exemptionFor(job, now);
  ASSERT_NE(ex, nullptr);
  EXPECT_EQ(ex->reason, "close");
  EXPECT_TRUE(c.warnings.empty());
}

TEST(ConfigLoader, AGlobalExemptionIsCheckedLikeAPolicysOne) {
  TempDir dir;
  dir.write("p.yaml", fmt::format(kPolicy, "a"));
  std::string cfg = dir.write("c.yaml", std::string(kOrg) +
                                            "policies: p.yaml\n"
                                            "exempt:\n"
                                            "  - { job: 750R0000000zlh9IAA, until: tomorrow }\n");
  expectOne(cfg, cfg, 10, 39, "bad time 'tomorrow'");
}

TEST(ConfigLoader, AnExemptionAlreadyExpiredIsAWarningWithItsPlace) {
  TempDir dir;
  std::string policies =
      dir.write("p.yaml", fmt::format(kPolicy, "a") +
                              "    exempt:\n"
                              "      - { job: 750R0000000zlh9IAA, until: 2020-01-01T00:00:00Z }\n"
                              "      - { job: 750R0000000zlh8IAA, until: 2999-01-01T00:00:00Z }\n");
  std::string cfg =
      dir.write("c.yaml", std::string(kOrg) +
                              "policies: p.yaml\n"
                              "exempt:\n"
                              "  - { object: Account, until: 2021-06-01T00:00:00Z, reason: x }\n");
  Config c = loadConfig(cfg);  // loads: a warning, not an error
  ASSERT_EQ(c.warnings.size(), 2u);
  EXPECT_EQ(c.warnings[0].where.str(), cfg + ":10:5");
  EXPECT_THAT(c.warnings[0].str(), HasSubstr("expired at 2021-06-01T00:00:00"));
  EXPECT_EQ(c.warnings[1].where.str(), policies + ":8:9");
  EXPECT_THAT(c.warnings[1].str(), HasSubstr("warning: this exemption expired at 2020-01-01"));
}

TEST(ConfigLoader, PolicyFileProblems) {
  TempDir dir;
  std::string cfg = dir.write("c.yaml", std::string(kOrg) + "policies: [none/*.yaml]\n");
  expectOne(cfg, cfg, 8, 12, "no file matches '" + dir.path("none/*.yaml") + "'");

  cfg = dir.write("c.yaml", std::string(kOrg) + "policies: [missing.yaml]\n");
  expectOne(cfg, cfg, 8, 12, "policy file '" + dir.path("missing.yaml") + "' does not exist");

  cfg = dir.write("c.yaml", std::string(kOrg) + "policies: { a: b }\n");
  expectOne(cfg, cfg, 8, 11, "expected a file, a glob or a list of them, got a map");

  fs::create_directories(dir.path("adir"));
  cfg = dir.write("c.yaml", std::string(kOrg) + "policies: [adir]\n");
  expectOne(cfg, dir.path("adir"), 0, 0, "is not a regular file");

  ASSERT_EQ(::mkfifo(dir.path("fifo.yaml").c_str(), 0600), 0);
  cfg = dir.write("c.yaml", std::string(kOrg) + "policies: fifo.yaml\n");
  expectOne(cfg, dir.path("fifo.yaml"), 0, 0, "is not a regular file");

  std::string big = "policies: []\n# " + std::string(256 * 1024, 'x') + "\n";
  std::string bigFile = dir.write("big.yaml", big);
  cfg = dir.write("c.yaml", std::string(kOrg) + "policies: big.yaml\n");
  expectOne(cfg, bigFile, 0, 0, "file is larger than 256 KiB");

  std::string p = dir.write("org.yaml", R"(policies:
  - name: x
    resource: query-jobs
    orgs: [acme-prod, acme-dev]
    action: abort
    filters: [ { state: InProgress } ]
)");
  cfg = dir.write("c.yaml", std::string(kOrg) + "policies: org.yaml\n");
  expectOne(cfg, p, 4, 23, "unknown org 'acme-dev'", "orgs in the config: acme-prod");
}

TEST(ConfigLoader, DuplicatePolicyNamesAcrossFilesNameBothPlaces) {
  TempDir dir;
  std::string a = dir.write("p/a.yaml", fmt::format(kPolicy, "same"));
  std::string b = dir.write("p/b.yaml", "# second\n" + fmt::format(kPolicy, "same"));
  std::string cfg = dir.write("c.yaml", std::string(kOrg) + "policies: p/*.yaml\n");
  expectOne(cfg, b, 3, 11,
            fmt::format("duplicate policy name 'same'; first defined at {}:2:11", a));
}

TEST(ConfigLoader, TheConfigFileItself) {
  TempDir dir;
  expectOne(dir.path("nope.yaml"), dir.path("nope.yaml"), 0, 0, "does not exist");
  expectOne(dir.path(), dir.path(), 0, 0, "is not a regular file");
  std::string huge =
      dir.write("huge.yaml", std::string(kOrg) + "# " + std::string(1024 * 1024, 'x') + "\n");
  expectOne(huge, huge, 0, 0, "file is larger than 1 MiB");
  std::string empty = dir.write("empty.yaml", "");
  expectOne(empty, empty, 0, 0, "the config file is empty");
  std::string list = dir.write("list.yaml", "- a\n");
  expectOne(list, list, 1, 1, "expected the config file (a map), got a list");
  std::string alias = dir.write("alias.yaml", std::string(kOrg) + "x: &a 1\npolicies: *a\n");
  expectOne(alias, alias, 8, 4, "YAML anchors (&name) are not allowed");
  std::string deep =
      dir.write("deep.yaml", "orgs: " + std::string(40, '[') + std::string(40, ']') + "\n");
  expectOne(deep, deep, 1, 22, "nesting deeper than 16 levels");
  std::string syntax = dir.write("syntax.yaml", "orgs: [\n  - a\n");
  auto d = errorsOf(syntax);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_THAT(d[0].message, HasSubstr("YAML syntax error"));
}

TEST(ConfigLoader, CollectsEveryProblemAcrossFiles) {
  TempDir dir;
  std::string a = dir.write("a.yaml", R"(policies:
  - name: one
    resource: query-jobs
    action: abort
    filters: [ { state: Open } ]
)");
  std::string b = dir.write("b.yaml", R"(policies:
  - name: two
    resource: ingest-jobs
    action: nuke
    filters: [ { older-than: soon } ]
)");
  std::string cfg = dir.write("c.yaml", R"(orgs:
  - name: acme
    instance-url: http://example.com
    auth: { flow: access-token, access-token: { env: T } }
concurrency: 1000
policies: [a.yaml, b.yaml]
)");
  auto d = errorsOf(cfg);
  ASSERT_EQ(d.size(), 5u);
  EXPECT_EQ(d[0].where.str(), cfg + ":3:19");
  EXPECT_EQ(d[1].where.str(), cfg + ":5:14");
  EXPECT_EQ(d[2].where.str(), a + ":5:25");
  EXPECT_EQ(d[3].where.str(), b + ":4:13");
  EXPECT_EQ(d[4].where.str(), b + ":5:30");
  try {
    loadConfig(cfg);
  } catch (const ConfigError& e) {
    std::string what = e.what();
    EXPECT_EQ(std::count(what.begin(), what.end(), '\n'), 4);
    EXPECT_THAT(what, HasSubstr(a + ":5:25: query jobs are never Open"));
  }
}

// Secrets ---------------------------------------------------------------------------------------

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

SecretRef ref(SecretRef::Source source, std::string name) {
  SecretRef r;
  r.source = source;
  r.name = std::move(name);
  r.where = policy::SourceLocation{"c.yaml", 7, 21};
  return r;
}

std::string resolveError(const SecretRef& r) {
  try {
    r.resolve();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.diagnostics().size(), 1u);
    EXPECT_EQ(e.diagnostics()[0].where.line, 7);
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

TEST(SecretRef, FileNeedsPrivatePermissions) {
  TempDir dir;
  std::string open = dir.write("open", "s3cr3t-value\n", 0644);
  std::string err = resolveError(ref(SecretRef::Source::File, open));
  EXPECT_THAT(err, HasSubstr(fmt::format("permissions 0644 for '{}' are too open", open)));
  EXPECT_THAT(err, HasSubstr("chmod 600"));
  EXPECT_THAT(err, ::testing::Not(HasSubstr("s3cr3t")));
  std::string group = dir.write("group", "s3cr3t-value\n", 0640);
  EXPECT_THAT(resolveError(ref(SecretRef::Source::File, group)), HasSubstr("0640"));

  std::string ok = dir.write("ok", "s3cr3t-value\r\n", 0600);
  EXPECT_EQ(ref(SecretRef::Source::File, ok).resolve(), "s3cr3t-value");
  std::string ro = dir.write("ro", "tok", 0400);
  EXPECT_EQ(ref(SecretRef::Source::File, ro).resolve(), "tok");

  std::string empty = dir.write("empty", "\n", 0600);
  EXPECT_THAT(resolveError(ref(SecretRef::Source::File, empty)),
              HasSubstr("secret from file " + empty + " is empty"));
  EXPECT_THAT(resolveError(ref(SecretRef::Source::File, dir.path("missing"))),
              HasSubstr("cannot read secret from file " + dir.path("missing")));
}

TEST(SecretRef, Credential) {
  TempDir dir;
  dir.write("sf-access-token", "00Dxx!AQtoken\n", 0400);
  dir.write("blank", "", 0400);
  {
    ScopedEnv env("CREDENTIALS_DIRECTORY", dir.path().c_str());
    EXPECT_EQ(ref(SecretRef::Source::Credential, "sf-access-token").resolve(), "00Dxx!AQtoken");
    EXPECT_THAT(resolveError(ref(SecretRef::Source::Credential, "other")),
                HasSubstr("no such credential"));
    EXPECT_THAT(resolveError(ref(SecretRef::Source::Credential, "blank")),
                HasSubstr("secret from credential blank is empty"));
  }
  ScopedEnv env("CREDENTIALS_DIRECTORY", nullptr);
  std::string err = resolveError(ref(SecretRef::Source::Credential, "sf-access-token"));
  EXPECT_THAT(err, HasSubstr("$CREDENTIALS_DIRECTORY is not set"));
  EXPECT_THAT(err, HasSubstr("LoadCredential=sf-access-token"));
}

TEST(SecretRef, Env) {
  {
    ScopedEnv env("BULKWARDEN_TEST_TOKEN", "abc\n");
    EXPECT_EQ(ref(SecretRef::Source::Env, "BULKWARDEN_TEST_TOKEN").resolve(), "abc");
  }
  {
    ScopedEnv env("BULKWARDEN_TEST_TOKEN", "");
    EXPECT_THAT(resolveError(ref(SecretRef::Source::Env, "BULKWARDEN_TEST_TOKEN")),
                HasSubstr("secret from env BULKWARDEN_TEST_TOKEN is empty"));
  }
  ScopedEnv env("BULKWARDEN_TEST_TOKEN", nullptr);
  EXPECT_THAT(resolveError(ref(SecretRef::Source::Env, "BULKWARDEN_TEST_TOKEN")),
              HasSubstr("cannot read env BULKWARDEN_TEST_TOKEN: the variable is not set"));
}

TEST(Diagnostic, Str) {
  Diagnostic d{policy::SourceLocation{"a.yaml", 3, 7}, "bad thing", "fix it"};
  EXPECT_EQ(d.str(), "a.yaml:3:7: bad thing (fix it)");
  d.hint.clear();
  d.where.line = 0;
  EXPECT_EQ(d.str(), "a.yaml: bad thing");
}

}  // namespace
}  // namespace bulkwarden::config
