// The client's Bulk API 1.0 ("Classic") side against the simulated org: the jobType=Classic
// listing, GET and abort through /services/async/{ver}/job/{id} with X-SFDC-Session, and the 1.0
// errors (an expired session is a 400 InvalidSessionId there, renewed once as a 401 is).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>

#include "salesforce/BulkClient.h"
#include "salesforce/TokenProvider.h"
#include "sim/SimServer.h"

namespace bulkwarden::salesforce {
namespace {

using model::JobState;
using model::ResourceKind;
using std::chrono::hours;

// Hands out a dead token first; refresh() returns the org's: counts the renewals.
class StaleFirst final : public TokenProvider {
 public:
  explicit StaleFirst(std::string good) : good_(std::move(good)) {}
  Result<std::string> token() override {
    std::lock_guard lock(mutex_);
    return current_;
  }
  Result<std::string> refresh(const std::string&) override {
    std::lock_guard lock(mutex_);
    ++refreshes;
    current_ = good_;
    return current_;
  }
  std::atomic<int> refreshes{0};

 private:
  std::mutex mutex_;
  std::string good_;
  std::string current_ = "00Dstale!expired";
};

class ClassicClient : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<sim::SimServer>(sim::SimOptions{});
    server_->start();
  }
  void TearDown() override { server_->stop(); }
  std::unique_ptr<BulkClient> client(std::shared_ptr<TokenProvider> tokens = nullptr) {
    ClientOptions o;
    o.instanceUrl = server_->baseUrl();
    o.apiVersion = "62.0";
    if (!tokens) tokens = std::make_shared<AccessTokenProvider>(server_->token());
    return std::make_unique<BulkClient>(o, tokens);
  }
  std::string add(const char* kind, const char* state, const char* jobType,
                  const char* operation = "", const char* createdBy = "005R0000000GiwjIAC") {
    sim::JobSeed s;
    s.kind = kind;
    s.state = state;
    s.jobType = jobType;
    s.operation = operation;
    s.createdById = createdBy;
    s.age = hours(3);
    return server_->org().addJob(s);
  }
  std::set<std::string> ids(BulkClient& c, ResourceKind kind, bool classic) {
    std::set<std::string> out;
    auto sink = [&](Page&& p) {
      for (auto& j : p.jobs) {
        EXPECT_EQ(j.isClassic(), classic) << j.id;
        EXPECT_EQ(j.kind, kind) << j.id;
        out.insert(j.id);
      }
      EXPECT_TRUE(p.skipped.empty());
    };
    auto r = classic ? c.listClassic(kind, sink) : c.list(kind, sink);
    EXPECT_TRUE(r.ok()) << r.error().describe();
    return out;
  }
  std::unique_ptr<sim::SimServer> server_;
};

TEST_F(ClassicClient, EachListingHoldsItsOwnJobsOnly) {
  auto classicQuery = add("query", "InProgress", "Classic", "query");
  auto classicIngest = add("ingest", "Open", "Classic", "upsert");
  auto v2Query = add("query", "InProgress", "");
  auto v2Ingest = add("ingest", "InProgress", "");
  auto c = client();
  EXPECT_EQ(ids(*c, ResourceKind::Query, true), std::set<std::string>{classicQuery});
  EXPECT_EQ(ids(*c, ResourceKind::Ingest, true), std::set<std::string>{classicIngest});
  EXPECT_EQ(ids(*c, ResourceKind::Query, false), std::set<std::string>{v2Query});
  EXPECT_EQ(ids(*c, ResourceKind::Ingest, false), std::set<std::string>{v2Ingest});
}

TEST_F(ClassicClient, AbortGoesToTheOnePointOhResourceWithTheSessionHeader) {
  auto id = add("ingest", "InProgress", "Classic", "insert");
  std::mutex m;
  std::vector<sim::SimRequest> seen;
  server_->org().setRequestHook([&](const sim::SimRequest& r) {
    std::lock_guard lock(m);
    seen.push_back(r);
  });
  auto c = client();
  auto r = c->abortClassic(id);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r.value().http, 200);
  EXPECT_EQ(r.value().state, "Aborted");
  EXPECT_EQ(server_->org().state(id), "Aborted");
  EXPECT_EQ(server_->org().appliedActions(id), 1);
  {
    std::lock_guard lock(m);
    ASSERT_FALSE(seen.empty());
    const auto& post = seen.back();
    EXPECT_EQ(post.method, "POST");
    EXPECT_EQ(post.uri, "/services/async/62.0/job/" + id);
    EXPECT_EQ(post.sfdcSession, server_->token());
    EXPECT_TRUE(post.authorization.empty()) << "1.0 takes the session in X-SFDC-Session";
    EXPECT_EQ(post.contentType, "application/json; charset=UTF-8");
    EXPECT_EQ(post.body, R"({"state":"Aborted"})");
  }
  // Read back through the 1.0 resource; a second abort is refused for the job's state.
  auto got = c->getClassic(id);
  ASSERT_TRUE(got.ok()) << got.error().describe();
  EXPECT_EQ(got.value().state, JobState::Aborted);
  EXPECT_EQ(got.value().kind, ResourceKind::Ingest);
  auto again = c->abortClassic(id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ApiError::Kind::InvalidState);
  EXPECT_EQ(again.error().code, "InvalidJobState");
  // An unknown job is not found.
  auto missing = c->abortClassic("750R0000000zzzzIAA");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ApiError::Kind::NotFound);
}

// A Closed 1.0 job reads as running while a batch is in progress, and as finished when none is
// queued or running (1.0 has no "complete" job state).
TEST_F(ClassicClient, AClosedJobReadsByItsBatchCounters) {
  auto running = add("query", "InProgress", "Classic", "query");
  auto done = add("query", "JobComplete", "Classic", "query");
  auto c = client();
  auto got = c->getClassic(running);
  ASSERT_TRUE(got.ok()) << got.error().describe();
  EXPECT_EQ(got.value().state, JobState::InProgress);
  EXPECT_EQ(got.value().kind, ResourceKind::Query);
  auto finished = c->getClassic(done);
  ASSERT_TRUE(finished.ok()) << finished.error().describe();
  EXPECT_EQ(finished.value().state, JobState::JobComplete);
}

// 1.0 reports an expired session as 400 InvalidSessionId: the token is renewed once and the
// request sent once more, as for a 2.0 401.
TEST_F(ClassicClient, InvalidSessionIdRenewsTheTokenOnceAndSendsAgain) {
  auto id = add("ingest", "Open", "Classic", "insert");
  auto tokens = std::make_shared<StaleFirst>(server_->token());
  auto c = client(tokens);
  auto r = c->abortClassic(id);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(tokens->refreshes.load(), 1);
  EXPECT_EQ(server_->org().state(id), "Aborted");
  EXPECT_EQ(server_->org().appliedActions(id), 1);
  // A session that stays bad: Unauthorized after one renewal, not a loop.
  auto dead = client(std::make_shared<AccessTokenProvider>("00Dnope!dead"));
  auto refused = dead->getClassic(id);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ApiError::Kind::Unauthorized);
}

// Another user's job without "Manage Data Integrations": the 1.0 InvalidUser is a permission
// refusal, and nothing changes.
TEST_F(ClassicClient, AnotherUsersJobWithoutThePermissionIsAPermissionRefusal) {
  server_->org().setManageDataIntegrations(false);
  auto id = add("ingest", "InProgress", "Classic", "insert", "005R0000000OtherAAA");
  auto r = client()->abortClassic(id);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(isPermissionRefusal(r.error())) << r.error().describe();
  EXPECT_EQ(server_->org().state(id), "InProgress");
}

}  // namespace
}  // namespace bulkwarden::salesforce
