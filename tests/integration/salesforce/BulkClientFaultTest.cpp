// The client against a simulated org whose network misbehaves (docs/reliability.md C7, C8, C2-style
// error rates): what comes back is a typed error that says whether the request may have been
// applied, within the request's deadline.
#include <gtest/gtest.h>

#include "salesforce/BulkClient.h"
#include "salesforce/TokenProvider.h"
#include "sim/SimServer.h"

namespace bulkwarden::salesforce {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

class Faults : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<sim::SimServer>(sim::SimOptions{});
    server_->start();
  }
  void TearDown() override { server_->stop(); }
  std::unique_ptr<BulkClient> client(milliseconds deadline = milliseconds(120'000)) {
    ClientOptions o;
    o.instanceUrl = server_->baseUrl();
    o.requestDeadline = deadline;
    o.readTimeout = std::min(deadline, o.readTimeout);
    o.backoff = BackoffPolicy{3, milliseconds(5), milliseconds(20)};
    return std::make_unique<BulkClient>(o, std::make_shared<AccessTokenProvider>(server_->token()));
  }
  std::string stuck() {
    sim::JobSeed s;
    s.kind = "query";
    s.state = "InProgress";
    s.age = hours(1);
    return server_->org().addJob(s);
  }
  std::unique_ptr<sim::SimServer> server_;
};

TEST_F(Faults, AResetAfterTheAbortWasAppliedIsAnUnknownOutcomeNotAFailure) {
  auto id = stuck();
  server_->org().injectNetFault(1, sim::NetFault::ResetAfterApply, "PATCH");
  auto c = client();
  auto r = c->abort(model::ResourceKind::Query, id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Transient);
  EXPECT_TRUE(r.error().sent) << "the request left: its outcome is unknown";
  EXPECT_EQ(r.error().http, 0);
  EXPECT_EQ(server_->org().state(id), "Aborted");      // it was applied
  EXPECT_EQ(server_->org().counters().patches, 1);     // and not sent again
  auto seen = c->get(model::ResourceKind::Query, id);  // what settles it
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen.value().state, model::JobState::Aborted);
}

TEST_F(Faults, AResetBeforeApplyingLeavesTheJobAlone) {
  auto id = stuck();
  server_->org().injectNetFault(1, sim::NetFault::ResetBeforeApply, "PATCH");
  auto c = client();
  auto r = c->abort(model::ResourceKind::Query, id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Transient);
  EXPECT_EQ(server_->org().state(id), "InProgress");
  EXPECT_EQ(server_->org().counters().appliedAborts, 0);
}

TEST_F(Faults, AResetListingPageIsReadAgain) {
  for (int i = 0; i < 10; ++i) stuck();
  server_->org().injectNetFault(1, sim::NetFault::ResetAfterApply, "GET");
  auto c = client();
  int64_t jobs = 0;
  auto r = c->list(model::ResourceKind::Query, [&](Page&& p) { jobs += p.jobs.size(); });
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(jobs, 10);
}

TEST_F(Faults, ATrickledReplyEndsAtTheDeadline) {
  auto id = stuck();
  server_->org().injectNetFault(3, sim::NetFault::Trickle, "GET", milliseconds(200));
  auto c = client(milliseconds(1000));
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->get(model::ResourceKind::Query, id);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Transient);
  // Three attempts, each cut at its 1 s deadline (a whole reply would take a minute or more).
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST_F(Faults, AListingCompletesThroughAThirtyPercentErrorRate) {
  for (int i = 0; i < 2500; ++i) stuck();
  server_->org().setFailureRate(0.3);
  auto c = client();
  int completed = 0;
  for (int round = 0; round < 10; ++round) {
    int64_t jobs = 0;
    auto r = c->list(model::ResourceKind::Query, [&](Page&& p) { jobs += p.jobs.size(); });
    if (r.ok()) {
      EXPECT_EQ(jobs, 2500);
      ++completed;
    } else {
      EXPECT_EQ(r.error().kind, ApiError::Kind::Transient);  // never a wrong or partial success
    }
  }
  // Three tries per page make a page fail with probability 0.027: most listings complete.
  EXPECT_GE(completed, 7);
}

}  // namespace
}  // namespace bulkwarden::salesforce
