// The Salesforce client against the simulated org over loopback: the two were written from
// docs/salesforce.md independently, so each checks the other's reading of it.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "salesforce/BulkClient.h"
#include "salesforce/TokenProvider.h"
#include "sim/SimServer.h"

namespace bulkwarden::salesforce {
namespace {

using model::JobState;
using model::ResourceKind;
using std::chrono::hours;
using std::chrono::minutes;

class BulkClientSim : public ::testing::Test {
 protected:
  void start(sim::SimOptions options = {}) {
    server_ = std::make_unique<sim::SimServer>(std::move(options));
    server_->start();
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  std::unique_ptr<BulkClient> client(std::string token = "", int concurrency = 8) {
    ClientOptions o;
    o.instanceUrl = server_->baseUrl();
    o.apiVersion = "62.0";
    o.concurrency = concurrency;
    return std::make_unique<BulkClient>(
        o, std::make_shared<AccessTokenProvider>(token.empty() ? server_->token() : token));
  }
  std::string add(const char* kind, const char* state, std::chrono::milliseconds age,
                  const char* object = "Account") {
    sim::JobSeed s;
    s.kind = kind;
    s.state = state;
    s.age = age;
    s.object = object;
    return server_->org().addJob(s);
  }
  std::vector<Page> listAll(BulkClient& c, ResourceKind kind, Result<ListStats>* out = nullptr) {
    std::vector<Page> pages;
    auto r = c.list(kind, [&](Page&& p) { pages.push_back(std::move(p)); });
    if (out) *out = r;
    return pages;
  }
  std::unique_ptr<sim::SimServer> server_;
};

TEST_F(BulkClientSim, ListsEveryPageOfEachKindWithTheJobsAsTheOrgHasThem) {
  start();
  std::set<std::string> queries, ingests;
  for (int i = 0; i < 2345; ++i) queries.insert(add("query", "JobComplete", hours(2)));
  for (int i = 0; i < 1001; ++i) ingests.insert(add("ingest", "Open", minutes(5), "Contact"));
  auto c = client();
  Result<ListStats> stats = ApiError{};
  auto pages = listAll(*c, ResourceKind::Query, &stats);
  ASSERT_TRUE(stats.ok()) << stats.error().describe();
  EXPECT_EQ(stats.value().pages, 3);
  EXPECT_EQ(stats.value().jobs, 2345);
  std::set<std::string> seen;
  for (auto& p : pages) {
    EXPECT_LE(p.jobs.size(), 1000u);
    EXPECT_TRUE(p.skipped.empty());
    for (auto& j : p.jobs) {
      EXPECT_TRUE(seen.insert(j.id).second) << "listed twice: " << j.id;
      EXPECT_EQ(j.kind, ResourceKind::Query);
      EXPECT_EQ(j.state, JobState::JobComplete);
      EXPECT_EQ(j.object, "Account");
      EXPECT_EQ(j.apiVersion, "62.0");
      EXPECT_EQ(j.jobType, "V2Query");
    }
  }
  EXPECT_EQ(seen, queries);
  EXPECT_EQ(c->calls(), 3);

  auto ingestPages = listAll(*c, ResourceKind::Ingest, &stats);
  ASSERT_TRUE(stats.ok());
  std::set<std::string> seenIngest;
  for (auto& p : ingestPages) {
    for (auto& j : p.jobs) {
      seenIngest.insert(j.id);
      EXPECT_EQ(j.state, JobState::Open);
      EXPECT_EQ(j.operation, "insert");
    }
  }
  EXPECT_EQ(seenIngest, ingests);
}

TEST_F(BulkClientSim, AgesSurviveTheTripThroughThePlus0000Form) {
  start();
  auto before = std::chrono::system_clock::now();
  add("query", "InProgress", hours(3));
  auto c = client();
  auto pages = listAll(*c, ResourceKind::Query);
  ASSERT_EQ(pages.size(), 1u);
  ASSERT_EQ(pages[0].jobs.size(), 1u);
  auto age = before - pages[0].jobs[0].createdDate;
  EXPECT_GT(age, hours(3) - minutes(1));
  EXPECT_LT(age, hours(3) + minutes(1));
}

TEST_F(BulkClientSim, FollowsTheLocatorOnTheQueryPathWhenTheUrlPointsAtIngest) {
  sim::SimOptions o;
  o.queryNextUrlOnIngestPath = true;
  start(o);
  for (int i = 0; i < 2100; ++i) add("query", "InProgress", hours(1));
  for (int i = 0; i < 700; ++i) add("ingest", "InProgress", hours(1));
  auto c = client();
  Result<ListStats> stats = ApiError{};
  auto pages = listAll(*c, ResourceKind::Query, &stats);
  ASSERT_TRUE(stats.ok()) << stats.error().describe();
  EXPECT_EQ(stats.value().jobs, 2100);
  for (auto& p : pages) {
    for (auto& j : p.jobs) EXPECT_EQ(j.kind, ResourceKind::Query);
  }
}

TEST_F(BulkClientSim, ARepeatedLocatorEndsTheListingAsMalformed) {
  start();
  for (int i = 0; i < 4500; ++i) add("query", "InProgress", hours(1));
  server_->org().repeatLocatorOnPage(3);
  auto c = client();
  Result<ListStats> stats = ApiError{};
  listAll(*c, ResourceKind::Query, &stats);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().kind, ApiError::Kind::Malformed);
  EXPECT_NE(stats.error().message.find("repeat"), std::string::npos) << stats.error().message;
  EXPECT_LE(c->calls(), 4);
}

TEST_F(BulkClientSim, DoneFalseWithoutANextUrlEndsTheListingAsMalformed) {
  start();
  for (int i = 0; i < 2500; ++i) add("query", "InProgress", hours(1));
  server_->org().doneFalseWithoutUrlOnPage(2);
  auto c = client();
  Result<ListStats> stats = ApiError{};
  listAll(*c, ResourceKind::Query, &stats);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().kind, ApiError::Kind::Malformed);
}

TEST_F(BulkClientSim, AbortAndDeleteFollowTheStateRules) {
  start();
  auto running = add("query", "InProgress", hours(1));
  auto done = add("query", "JobComplete", hours(1));
  auto ingestQueued = add("ingest", "UploadComplete", hours(1));
  auto c = client();

  auto aborted = c->abort(ResourceKind::Query, running);
  ASSERT_TRUE(aborted.ok()) << aborted.error().describe();
  EXPECT_EQ(aborted.value().http, 200);
  EXPECT_EQ(aborted.value().state, "Aborted");
  EXPECT_EQ(server_->org().state(running), "Aborted");

  auto again = c->abort(ResourceKind::Query, done);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ApiError::Kind::InvalidState);
  EXPECT_EQ(again.error().http, 400);
  EXPECT_EQ(again.error().code, "INVALIDJOBSTATE");

  auto notTerminated = c->remove(ResourceKind::Ingest, add("ingest", "InProgress", hours(1)));
  ASSERT_FALSE(notTerminated.ok());
  EXPECT_EQ(notTerminated.error().kind, ApiError::Kind::InvalidState);
  EXPECT_EQ(notTerminated.error().code, "API_ERROR");

  auto deleted = c->remove(ResourceKind::Query, running);  // Aborted now: deletable
  ASSERT_TRUE(deleted.ok()) << deleted.error().describe();
  EXPECT_EQ(deleted.value().http, 204);
  EXPECT_FALSE(server_->org().state(running).has_value());
  // docs/salesforce.md: ingest jobs may be deleted in UploadComplete.
  EXPECT_TRUE(c->remove(ResourceKind::Ingest, ingestQueued).ok());

  auto gone = c->get(ResourceKind::Query, running);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().kind, ApiError::Kind::NotFound);
  auto goneDelete = c->remove(ResourceKind::Query, running);
  ASSERT_FALSE(goneDelete.ok());
  EXPECT_EQ(goneDelete.error().kind, ApiError::Kind::NotFound);
}

TEST_F(BulkClientSim, NotFoundAs400IsStillNotFound) {
  sim::SimOptions o;
  o.notFoundAs400 = true;  // docs/salesforce.md 12.4
  start(o);
  auto c = client();
  auto r = c->abort(ResourceKind::Query, "750R0000000zzzzIAA");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::NotFound);
}

TEST_F(BulkClientSim, GetReturnsTheJob) {
  start();
  auto id = add("ingest", "InProgress", minutes(7), "Case");
  auto c = client();
  auto j = c->get(ResourceKind::Ingest, id);
  ASSERT_TRUE(j.ok()) << j.error().describe();
  EXPECT_EQ(j.value().id, id);
  EXPECT_EQ(j.value().object, "Case");
  EXPECT_EQ(j.value().state, JobState::InProgress);
}

TEST_F(BulkClientSim, ARejectedAccessTokenIsUnauthorizedAfterOneRequest) {
  start();
  add("query", "InProgress", hours(1));
  auto c = client("00DR00000000001!AQ4AQNotTheRightToken");
  Result<ListStats> stats = ApiError{};
  listAll(*c, ResourceKind::Query, &stats);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().kind, ApiError::Kind::Unauthorized);
  EXPECT_EQ(stats.error().code, "INVALID_SESSION_ID");
  EXPECT_EQ(server_->org().counters().unauthorized, 1);  // the access-token flow cannot renew
}

TEST_F(BulkClientSim, TracksTheApiUsageTheOrgReports) {
  sim::SimOptions o;
  o.apiMax = 15000;
  start(o);
  add("query", "InProgress", hours(1));
  auto c = client();
  listAll(*c, ResourceKind::Query);
  listAll(*c, ResourceKind::Query);
  EXPECT_EQ(c->usage().max, 15000);
  EXPECT_EQ(c->usage().used, server_->org().counters().requests);
}

TEST_F(BulkClientSim, ExhaustedAllowanceIsLimitExceeded) {
  sim::SimOptions o;
  o.apiMax = 2;
  start(o);
  add("query", "InProgress", hours(1));
  auto c = client();
  listAll(*c, ResourceKind::Query);
  listAll(*c, ResourceKind::Query);
  Result<ListStats> stats = ApiError{};
  listAll(*c, ResourceKind::Query, &stats);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().kind, ApiError::Kind::LimitExceeded);
  EXPECT_EQ(stats.error().code, "REQUEST_LIMIT_EXCEEDED");
}

TEST_F(BulkClientSim, ServerErrorsAreTransient) {
  start();
  add("query", "InProgress", hours(1));
  server_->org().failNextRequests(5, 503, "SERVER_UNAVAILABLE", "Server too busy");
  auto c = client();
  auto r = c->abort(ResourceKind::Query, server_->org().jobs()[0].id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Transient);
  EXPECT_EQ(r.error().http, 503);
  EXPECT_EQ(server_->org().counters().appliedAborts, 0);
}

std::unique_ptr<BulkClient> fastRetryClient(sim::SimServer& server) {
  ClientOptions o;
  o.instanceUrl = server.baseUrl();
  o.backoff = BackoffPolicy{3, std::chrono::milliseconds(5), std::chrono::milliseconds(20)};
  return std::make_unique<BulkClient>(o, std::make_shared<AccessTokenProvider>(server.token()));
}

TEST_F(BulkClientSim, AListingRidesOutTwoServerErrors) {
  start();
  for (int i = 0; i < 1500; ++i) add("query", "InProgress", hours(1));
  server_->org().failNextRequests(2, 503, "SERVER_UNAVAILABLE", "Server too busy");
  auto c = fastRetryClient(*server_);
  Result<ListStats> stats = ApiError{};
  listAll(*c, ResourceKind::Query, &stats);
  ASSERT_TRUE(stats.ok()) << stats.error().describe();
  EXPECT_EQ(stats.value().jobs, 1500);
  EXPECT_EQ(c->calls(), 4);  // two refused, then two pages
}

TEST_F(BulkClientSim, ReadsGiveUpAfterThreeAttempts) {
  start();
  add("query", "InProgress", hours(1));
  server_->org().failNextRequests(10, 500, "UNKNOWN_EXCEPTION", "boom");
  auto c = fastRetryClient(*server_);
  Result<ListStats> stats = ApiError{};
  listAll(*c, ResourceKind::Query, &stats);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().kind, ApiError::Kind::Transient);
  EXPECT_EQ(c->calls(), 3);
}

TEST_F(BulkClientSim, RetryAfterIsAFloorForTheWait) {
  start();
  add("query", "InProgress", hours(1));
  sim::SimResponse busy;
  busy.status = 503;
  busy.body = R"([{"errorCode":"SERVER_UNAVAILABLE","message":"Server too busy"}])";
  busy.headers.emplace_back("Retry-After", "1");
  server_->org().respondNext(1, busy);
  auto c = fastRetryClient(*server_);
  auto t0 = std::chrono::steady_clock::now();
  Result<ListStats> stats = ApiError{};
  listAll(*c, ResourceKind::Query, &stats);
  auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(stats.ok()) << stats.error().describe();
  EXPECT_GE(waited, std::chrono::milliseconds(1000));
  EXPECT_EQ(c->calls(), 2);
}

TEST_F(BulkClientSim, ARetryAfterLongerThanTheLimitEndsTheAttempt) {
  start();
  add("query", "InProgress", hours(1));
  sim::SimResponse busy;
  busy.status = 503;
  busy.body = R"([{"errorCode":"SERVER_UNAVAILABLE","message":"Server too busy"}])";
  busy.headers.emplace_back("Retry-After", "3600");
  server_->org().respondNext(1, busy);
  auto c = fastRetryClient(*server_);
  Result<ListStats> stats = ApiError{};
  listAll(*c, ResourceKind::Query, &stats);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().http, 503);
  EXPECT_EQ(c->calls(), 1);
}

// The engine retries a refused action itself (ActionRunner): the client hands it the reply's
// Retry-After, cut short when a server sends an absurd one.
TEST_F(BulkClientSim, ARefusedActionCarriesItsRetryAfterCapped) {
  start();
  auto id = add("query", "InProgress", hours(1));
  sim::SimResponse busy;
  busy.status = 503;
  busy.body = R"([{"errorCode":"SERVER_UNAVAILABLE","message":"Server too busy"}])";
  busy.headers.emplace_back("Retry-After", "7");
  server_->org().respondNext(1, busy);
  busy.headers = {{"Retry-After", std::string(5000, '9')}};
  server_->org().respondNext(1, busy);
  auto c = fastRetryClient(*server_);
  auto r = c->abort(ResourceKind::Query, id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().retryAfter, "7");
  EXPECT_TRUE(salesforce::refusedUnprocessed(r.error()));
  auto huge = c->remove(ResourceKind::Query, id);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().retryAfter.size(), 64u);
  EXPECT_EQ(c->calls(), 2);
}

TEST_F(BulkClientSim, ActionsAreNeverRetriedBlindly) {
  start();
  auto id = add("query", "InProgress", hours(1));
  server_->org().failNextRequests(1, 503, "SERVER_UNAVAILABLE", "Server too busy");
  auto c = fastRetryClient(*server_);
  auto r = c->abort(ResourceKind::Query, id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(c->calls(), 1);
  EXPECT_EQ(server_->org().state(id), "InProgress");
}

TEST_F(BulkClientSim, ConcurrentActionsReuseAFewConnections) {
  start();
  std::vector<std::string> ids;
  for (int i = 0; i < 400; ++i) ids.push_back(add("query", "InProgress", hours(1)));
  auto c = client("", 8);
  std::atomic<size_t> next{0};
  std::atomic<int> applied{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < ids.size();) {
        if (c->abort(ResourceKind::Query, ids[i]).ok()) ++applied;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(applied.load(), 400);
  EXPECT_EQ(server_->org().counters().appliedAborts, 400);
  EXPECT_EQ(c->calls(), 400);
}

}  // namespace
}  // namespace bulkwarden::salesforce
