// What a real org does that a kind one hides (issue 13): a token endpoint that rotates refresh
// tokens and rejects reuse, the two kinds of 403 REQUEST_LIMIT_EXCEEDED, a versions list without
// the configured version, and a token reply naming a new instance_url. Real HTTP over loopback
// against tests/integration/support/HostileServer.h.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>

#include "salesforce/BulkClient.h"
#include "salesforce/OAuthTokenProvider.h"
#include "salesforce/RefreshTokenStore.h"
#include "support/Child.h"
#include "support/HostileServer.h"

namespace bulkwarden::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using salesforce::ApiError;
using salesforce::BulkClient;
using salesforce::ClientOptions;

const char* kEmptyList = R"({"done":true,"records":[],"nextRecordsUrl":null})";
const char* kJobId = "750R0000000zlh9IAA";

HostileReply json(int status, std::string body) {
  HostileReply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HostileReply sessionExpired() {
  HostileReply r =
      json(401, R"([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}])");
  r.headers.emplace_back("WWW-Authenticate", "Token");
  return r;
}

std::string formValue(const std::string& body, const std::string& key) {
  const std::string k = key + "=";
  size_t at = body.rfind(k, 0) == 0 ? 0 : body.find("&" + k);
  if (at == std::string::npos) return {};
  if (at != 0) ++at;
  size_t end = body.find('&', at);
  return body.substr(at + k.size(),
                     end == std::string::npos ? std::string::npos : end - at - k.size());
}

// A connected app with refresh-token rotation on (docs/salesforce.md 14.1): each refresh
// returns a new refresh token and the one sent stops working at once; only the newest access
// token is valid, so that every expiry needs a renewal.
class RotatingOrg {
 public:
  explicit RotatingOrg(std::string firstRefresh) : refresh_(std::move(firstRefresh)) {}

  HostileReply route(const HostileRequest& r) {
    std::lock_guard lock(mutex_);
    if (r.target == "/services/oauth2/token") {
      ++tokenRequests;
      sentRefresh.push_back(formValue(r.body, "refresh_token"));
      if (formValue(r.body, "grant_type") != "refresh_token" || sentRefresh.back() != refresh_) {
        ++invalidGrants;
        return json(
            400, R"({"error":"invalid_grant","error_description":"expired access/refresh token"})");
      }
      ++rotations_;
      refresh_ = "5Aep861.rotated-" + std::to_string(rotations_);
      access_ = "00DR0!AQ.access-" + std::to_string(rotations_);
      return json(200, R"({"access_token":")" + access_ + R"(","refresh_token":")" + refresh_ +
                           R"(","instance_url":")" + instance + R"(","token_type":"Bearer"})");
    }
    auto auth = r.headers.find("Authorization");
    if (access_.empty() || auth == r.headers.end() || auth->second != "Bearer " + access_) {
      return sessionExpired();
    }
    if (!storeDir.empty()) {
      // Written before it is used: by the time its access token reaches the org, the newest
      // refresh token is on disk.
      std::optional<std::string> stored;
      try {
        stored = salesforce::RefreshTokenStore(storeDir, "acme").load(configured);
      } catch (const std::exception&) {
      }
      if (stored != refresh_) ++usedBeforeStored;
    }
    return json(200, kEmptyList);
  }
  void expireAccess() {
    std::lock_guard lock(mutex_);
    access_.clear();
  }
  // A person put a new refresh token in the config; the chain starts again from it.
  void reissue(std::string refresh) {
    std::lock_guard lock(mutex_);
    refresh_ = std::move(refresh);
  }
  void setConfigured(std::string token) {
    std::lock_guard lock(mutex_);
    configured = std::move(token);
  }
  std::string refresh() {
    std::lock_guard lock(mutex_);
    return refresh_;
  }
  void setInstance(std::string url) {
    std::lock_guard lock(mutex_);
    instance = std::move(url);
  }
  void setStoreDir(std::string dir) {
    std::lock_guard lock(mutex_);
    storeDir = std::move(dir);
  }
  // What the org has seen so far, copied under its lock (the server's threads write it).
  struct Seen {
    int tokenRequests = 0;
    int invalidGrants = 0;
    int usedBeforeStored = 0;
    std::vector<std::string> sentRefresh;
  };
  Seen seen() {
    std::lock_guard lock(mutex_);
    return {tokenRequests, invalidGrants, usedBeforeStored, sentRefresh};
  }

 private:
  std::string instance;
  std::string storeDir;
  std::string configured;
  int tokenRequests = 0;
  int invalidGrants = 0;
  int usedBeforeStored = 0;
  std::vector<std::string> sentRefresh;
  std::mutex mutex_;
  std::string refresh_;
  std::string access_;
  int rotations_ = 0;
};

class RefreshRotation : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-rotate-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    org_.setStoreDir(dir_.string());
    org_.setConfigured("5Aep861.configured");
    server_ =
        std::make_unique<HostileServer>([this](const HostileRequest& r) { return org_.route(r); });
    org_.setInstance(server_->url());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A new provider and client: what a restarted process builds.
  std::unique_ptr<BulkClient> process(const std::string& configured) {
    salesforce::OAuthOptions o;
    o.flow = salesforce::OAuthFlow::RefreshToken;
    o.label = "acme";
    o.loginUrl = server_->url();
    o.clientId = "3MVG9client";
    o.refreshToken = configured;
    o.refreshTokenStore.emplace(dir_.string(), "acme");
    o.errorBackoff = 0ms;
    return std::make_unique<BulkClient>(ClientOptions{},
                                        std::make_shared<salesforce::OAuthTokenProvider>(o));
  }
  bool lists(BulkClient& c) {
    auto r = c.list(model::ResourceKind::Query, [](salesforce::Page&&) {});
    EXPECT_TRUE(r.ok()) << r.error().describe();
    return r.ok();
  }

  fs::path dir_;
  RotatingOrg org_{"5Aep861.configured"};
  std::unique_ptr<HostileServer> server_;
};

TEST_F(RefreshRotation, ThreeRenewalsInARowSucceedAndEachNewTokenIsStoredBeforeUse) {
  auto client = process("5Aep861.configured");
  ASSERT_TRUE(lists(*client));  // the login
  for (int i = 0; i < 3; ++i) {
    org_.expireAccess();
    ASSERT_TRUE(lists(*client)) << "renewal " << i + 1;
  }
  EXPECT_EQ(org_.seen().tokenRequests, 4);
  EXPECT_EQ(org_.seen().invalidGrants, 0);
  EXPECT_EQ(org_.seen().usedBeforeStored, 0);
  EXPECT_EQ(org_.seen().sentRefresh,
            (std::vector<std::string>{"5Aep861.configured", "5Aep861.rotated-1",
                                      "5Aep861.rotated-2", "5Aep861.rotated-3"}));
  salesforce::RefreshTokenStore store(dir_.string(), "acme");
  EXPECT_EQ(store.load("5Aep861.configured"), "5Aep861.rotated-4");
  struct stat st {};
  ASSERT_EQ(::stat(store.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(RefreshRotation, ARestartedProcessUsesTheStoredToken) {
  {
    auto first = process("5Aep861.configured");
    ASSERT_TRUE(lists(*first));
    org_.expireAccess();
    ASSERT_TRUE(lists(*first));
  }
  org_.expireAccess();
  auto restarted = process("5Aep861.configured");
  ASSERT_TRUE(lists(*restarted));
  EXPECT_EQ(org_.seen().invalidGrants, 0);
  EXPECT_EQ(org_.seen().sentRefresh.back(), "5Aep861.rotated-2");
}

TEST_F(RefreshRotation, ANewConfiguredTokenWinsOverTheStoredOne) {
  {
    auto first = process("5Aep861.configured");
    ASSERT_TRUE(lists(*first));
  }
  org_.expireAccess();
  org_.reissue("5Aep861.from-a-person");
  org_.setConfigured("5Aep861.from-a-person");
  auto restarted = process("5Aep861.from-a-person");
  ASSERT_TRUE(lists(*restarted));
  EXPECT_EQ(org_.seen().sentRefresh.back(), "5Aep861.from-a-person");
  EXPECT_EQ(org_.seen().invalidGrants, 0);
  EXPECT_EQ(salesforce::RefreshTokenStore(dir_.string(), "acme").load("5Aep861.from-a-person"),
            org_.refresh());
}

// Another process (validate --connect) rotated the token: the daemon's in-memory one is dead,
// but the token file holds the newest.
TEST_F(RefreshRotation, ARenewalUsesTheTokenAnotherProcessStored) {
  auto daemon = process("5Aep861.configured");
  ASSERT_TRUE(lists(*daemon));
  {
    auto other = process("5Aep861.configured");
    org_.expireAccess();
    ASSERT_TRUE(lists(*other));
  }
  org_.expireAccess();
  ASSERT_TRUE(lists(*daemon));
  EXPECT_EQ(org_.seen().tokenRequests, 3) << "login, the other process's, one renewal";
  EXPECT_EQ(org_.seen().invalidGrants, 0);
}

TEST_F(RefreshRotation, AHostileTokenFileIsIgnoredAndNeverQuoted) {
  {
    std::ofstream out(dir_ / "refresh-token.acme");
    out << "bulkwarden refresh-token 1\nconfigured-sha256 "
        << salesforce::sha256Hex("5Aep861.configured") << "\nrefresh-token \x1b]0;pwned\x07\n";
  }
  auto client = process("5Aep861.configured");
  ASSERT_TRUE(lists(*client));
  EXPECT_EQ(org_.seen().sentRefresh.front(), "5Aep861.configured");
  EXPECT_EQ(salesforce::RefreshTokenStore(dir_.string(), "acme").load("5Aep861.configured"),
            "5Aep861.rotated-1")
      << "the bad file is replaced by the next rotation";
}

// The real binary, run twice (`run --once`) against the rotating token endpoint: the second
// process starts from the token the first one stored, not from the configured one (which the
// rotation invalidated), and the token file is 0600 in state-dir.
TEST_F(RefreshRotation, TheBinaryRestartedUsesTheStoredToken) {
  auto put = [&](const std::string& name, const std::string& text, fs::perms mode) {
    std::ofstream(dir_ / name) << text;
    fs::permissions(dir_ / name, mode);
  };
  put("rt", "5Aep861.configured", fs::perms::owner_read);
  put("p.yaml",
      "policies:\n  - name: watch\n    resource: query-jobs\n    mode: enforce\n"
      "    schedule: { every: 2m }\n    filters:\n      - state: [InProgress]\n"
      "    action: report\n",
      fs::perms::owner_read | fs::perms::owner_write);
  org_.setStoreDir((dir_ / "state").string());
  put("c.yaml",
      "orgs:\n  - name: acme\n    auth:\n      flow: refresh-token\n      login-url: " +
          server_->url() +
          "\n      client-id: 3MVG9client\n      refresh-token: { file: rt }\n"
          "policies: [p.yaml]\naudit-log: audit.jsonl\nstate-dir: state\n",
      fs::perms::owner_read | fs::perms::owner_write);
  for (int run = 1; run <= 2; ++run) {
    org_.expireAccess();
    Child child({"run", "--once", "--config", (dir_ / "c.yaml").string()},
                (dir_ / ("out" + std::to_string(run))).string(),
                (dir_ / ("err" + std::to_string(run))).string());
    ASSERT_EQ(child.wait(60s), 0) << "run " << run << ": " << child.err();
    EXPECT_EQ(child.err().find("5Aep861."), std::string::npos) << "a refresh token was logged";
  }
  EXPECT_EQ(org_.seen().invalidGrants, 0);
  EXPECT_EQ(org_.seen().sentRefresh,
            (std::vector<std::string>{"5Aep861.configured", "5Aep861.rotated-1"}));
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "state" / "refresh-token.acme").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(org_.seen().usedBeforeStored, 0);
}

// ---------------------------------------------------------------------------------------------
// 403 REQUEST_LIMIT_EXCEEDED: the daily and the concurrent kind.

class LimitKinds : public ::testing::Test {
 protected:
  std::unique_ptr<BulkClient> client(HostileServer& server) {
    ClientOptions o;
    o.instanceUrl = server.url();
    o.backoff = salesforce::BackoffPolicy{3, 1ms, 5ms};
    o.concurrentLimitBackoff = salesforce::BackoffPolicy{4, 1ms, 5ms};
    return std::make_unique<BulkClient>(o, std::make_shared<salesforce::AccessTokenProvider>("t"));
  }
  static HostileReply limit(const std::string& message, const std::string& usage) {
    HostileReply r =
        json(403, R"([{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":")" + message + R"("}])");
    r.headers.emplace_back("Sforce-Limit-Info", usage);
    return r;
  }
};

TEST_F(LimitKinds, ConcurrentLimitOnAListingIsRetriedWithinTheCall) {
  std::atomic<int> n{0};
  HostileServer server([&](const HostileRequest&) {
    if (n++ < 2) return limit("ConcurrentPerOrgLongTxn Limit exceeded.", "api-usage=120/15000");
    return json(200, kEmptyList);
  });
  auto c = client(server);
  auto r = c->list(model::ResourceKind::Query, [](salesforce::Page&&) {});
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(server.count("GET", "/services/data/v62.0/jobs/query"), 3u);
}

TEST_F(LimitKinds, ConcurrentLimitThatDoesNotClearEndsAsTransientAfterTheAttempts) {
  HostileServer server([&](const HostileRequest&) {
    return limit("ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
                 "api-usage=120/15000");
  });
  auto c = client(server);
  auto r = c->get(model::ResourceKind::Query, kJobId);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(salesforce::isConcurrentLimit(r.error())) << r.error().describe();
  EXPECT_EQ(server.count("GET", "/services/data/"), 4u);
}

TEST_F(LimitKinds, DailyLimitIsNotRetried) {
  HostileServer server([&](const HostileRequest&) {
    return limit("TotalRequests Limit exceeded.", "api-usage=15001/15000");
  });
  auto c = client(server);
  auto r = c->list(model::ResourceKind::Query, [](salesforce::Page&&) {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::LimitExceeded);
  EXPECT_EQ(server.count("GET", "/"), 1u);
  EXPECT_EQ(c->usage().used, 15001);
}

// Actions are not retried here (that is the pass's business); the refusal is classified as
// transient with its HTTP status, i.e. refused and not processed.
TEST_F(LimitKinds, ConcurrentLimitOnAnAbortIsTransientAndNotRetriedHere) {
  HostileServer server([&](const HostileRequest&) {
    return limit("ConcurrentPerOrgLongTxn Limit exceeded.", "api-usage=9/15000");
  });
  auto c = client(server);
  auto r = c->abort(model::ResourceKind::Query, kJobId);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Transient);
  EXPECT_EQ(r.error().http, 403);
  EXPECT_TRUE(r.error().sent);
  EXPECT_EQ(server.count("PATCH", "/"), 1u);
}

TEST_F(LimitKinds, TheProbeReadsTheUsageFromLimits) {
  HostileServer server([&](const HostileRequest& r) {
    if (r.target == "/services/data/v62.0/limits") {
      HostileReply reply = json(200, R"({"DailyApiRequests":{"Max":15000,"Remaining":2000}})");
      return reply;
    }
    return json(404, "");
  });
  auto c = client(server);
  auto u = c->probeUsage();
  ASSERT_TRUE(u.ok()) << u.error().describe();
  EXPECT_EQ(u.value().used, 13000);
  EXPECT_EQ(u.value().max, 15000);
}

// ---------------------------------------------------------------------------------------------
// GET /services/data/ at the first call.

std::unique_ptr<BulkClient> checkingClient(HostileServer& server, const std::string& version) {
  ClientOptions o;
  o.instanceUrl = server.url();
  o.apiVersion = version;
  o.checkApiVersion = true;
  return std::make_unique<BulkClient>(o, std::make_shared<salesforce::AccessTokenProvider>("t"));
}

HostileReply versionsOrList(const HostileRequest& r, const std::string& versions) {
  if (r.target == "/services/data/") {
    EXPECT_EQ(r.headers.count("Authorization"), 0u) << "the token was sent where it is not needed";
    return json(200, versions);
  }
  return json(200, kEmptyList);
}

TEST(ApiVersionCheck, AVersionTheOrgDoesNotServeFailsEveryCallClearly) {
  HostileServer server([](const HostileRequest& r) {
    return versionsOrList(
        r, R"([{"label":"Summer '26","url":"/services/data/v67.0","version":"67.0"},)"
           R"({"label":"Spring '26","url":"/services/data/v66.0","version":"66.0"}])");
  });
  auto c = checkingClient(server, "62.0");
  for (int i = 0; i < 2; ++i) {
    auto r = c->list(model::ResourceKind::Query, [](salesforce::Page&&) {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ApiError::Kind::Permanent);
    EXPECT_NE(r.error().message.find(
                  "api-version 62.0 is not served by this org (it serves 66.0 to 67.0)"),
              std::string::npos)
        << r.error().message;
  }
  EXPECT_EQ(server.count("GET", "/services/data/v"), 0u) << "a job call went out";
  EXPECT_EQ(server.count("GET", "/services/data/"), 1u) << "checked once";
}

TEST(ApiVersionCheck, AThreeDigitVersionIsAccepted) {
  HostileServer server([](const HostileRequest& r) {
    return versionsOrList(r, R"([{"version":"99.0"},{"version":"100.0"}])");
  });
  auto c = checkingClient(server, "100.0");
  ASSERT_TRUE(c->list(model::ResourceKind::Query, [](salesforce::Page&&) {}).ok());
  ASSERT_TRUE(c->list(model::ResourceKind::Query, [](salesforce::Page&&) {}).ok());
  EXPECT_EQ(server.count("GET", "/services/data/v100.0/jobs/query"), 2u);
  EXPECT_EQ(server.count("GET", "/services/data/"), 3u) << "versions checked once, two lists";
}

TEST(ApiVersionCheck, AnUnusableVersionsReplyIsSkipped) {
  HostileServer server(
      [](const HostileRequest& r) { return versionsOrList(r, "<html>busy</html>"); });
  auto c = checkingClient(server, "62.0");
  ASSERT_TRUE(c->list(model::ResourceKind::Query, [](salesforce::Page&&) {}).ok());
}

// ---------------------------------------------------------------------------------------------
// A token reply naming a new instance_url.

TEST(InstanceUrl, ATokenNamingANewInstanceIsFollowed) {
  std::atomic<int> logins{0};
  std::atomic<bool> expired{false};
  std::string second;  // set before the second login
  std::mutex mutex;
  HostileServer moved([&](const HostileRequest& r) {
    if (r.headers.count("Authorization") && r.headers.at("Authorization") == "Bearer access-2") {
      return json(200, kEmptyList);
    }
    return sessionExpired();
  });
  std::string movedUrl = moved.url();
  HostileServer first([&](const HostileRequest& r) {
    if (r.target == "/services/oauth2/token") {
      const int n = ++logins;
      std::string instance;
      {
        std::lock_guard lock(mutex);
        instance = n == 1 ? second : movedUrl;
      }
      return json(200, R"({"access_token":"access-)" + std::to_string(n) + R"(","instance_url":")" +
                           instance + R"("})");
    }
    if (r.headers.count("Authorization") && r.headers.at("Authorization") == "Bearer access-1" &&
        !expired) {
      return json(200, kEmptyList);
    }
    return sessionExpired();
  });
  {
    std::lock_guard lock(mutex);
    second = first.url();
  }
  salesforce::OAuthOptions o;
  o.flow = salesforce::OAuthFlow::ClientCredentials;
  o.loginUrl = first.url();
  o.clientId = "id";
  o.clientSecret = "secret";
  o.errorBackoff = 0ms;
  auto tokens = std::make_shared<salesforce::OAuthTokenProvider>(o);
  BulkClient c(ClientOptions{}, tokens);
  ASSERT_TRUE(c.list(model::ResourceKind::Query, [](salesforce::Page&&) {}).ok());
  EXPECT_EQ(c.instanceUrl(), first.url());
  // The session ends; the renewal names the other instance: the repeat goes there, and so does
  // everything after it.
  expired = true;
  auto r = c.list(model::ResourceKind::Query, [](salesforce::Page&&) {});
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(c.instanceUrl(), moved.url());
  ASSERT_TRUE(c.list(model::ResourceKind::Query, [](salesforce::Page&&) {}).ok());
  EXPECT_EQ(moved.count("GET", "/services/data/v62.0/jobs/query"), 2u);
  EXPECT_EQ(first.count("GET", "/services/data/v62.0/jobs/query"), 2u) << "one ok, one 401";
  EXPECT_EQ(c.calls(), 4) << "calls on the replaced transport still count";
}

TEST(InstanceUrl, AnUnusableNewInstanceIsRefusedNotUsed) {
  std::atomic<int> logins{0};
  std::atomic<bool> expired{false};
  std::string self;
  std::mutex mutex;
  HostileServer server([&](const HostileRequest& r) {
    if (r.target == "/services/oauth2/token") {
      const int n = ++logins;
      std::lock_guard lock(mutex);
      // http:// to a host that is not loopback is refused, as a configured instance-url is.
      return json(200, R"({"access_token":"access-)" + std::to_string(n) + R"(","instance_url":")" +
                           (n == 1 ? self : std::string("http://example.com")) + R"("})");
    }
    if (r.headers.count("Authorization") && r.headers.at("Authorization") == "Bearer access-1" &&
        !expired) {
      return json(200, kEmptyList);
    }
    return sessionExpired();
  });
  {
    std::lock_guard lock(mutex);
    self = server.url();
  }
  salesforce::OAuthOptions o;
  o.flow = salesforce::OAuthFlow::ClientCredentials;
  o.loginUrl = server.url();
  o.clientId = "id";
  o.clientSecret = "secret";
  o.errorBackoff = 0ms;
  BulkClient c(ClientOptions{}, std::make_shared<salesforce::OAuthTokenProvider>(o));
  ASSERT_TRUE(c.list(model::ResourceKind::Query, [](salesforce::Page&&) {}).ok());
  expired = true;
  auto r = c.list(model::ResourceKind::Query, [](salesforce::Page&&) {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("instance_url from the token response is unusable"),
            std::string::npos)
      << r.error().describe();
  EXPECT_EQ(server.count("GET", "/services/data/v62.0/jobs/query"), 2u)
      << "the repeat went to the old instance";
}

}  // namespace
}  // namespace bulkwarden::testing
