// The scheduler's per-org guards (docs/reliability.md C2, C3, C4): a 403 REQUEST_LIMIT_EXCEEDED
// pauses the org, a high API usage stops new passes, repeated failures open a circuit breaker. A
// skipped pass makes no call at all.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "ManualClock.h"
#include "ScriptedJobs.h"
#include "audit/AuditLog.h"
#include "engine/Scheduler.h"

namespace bulkwarden::engine {
namespace {

namespace fs = std::filesystem;
using salesforce::ApiError;

class SchedulerGuard : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-guard-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    audit_ = std::make_unique<audit::AuditLog>((dir_ / "audit.jsonl").string());
    policy_.name = "watch";
    policy_.resource = model::ResourceKind::Query;
    policy_.action = policy::Action::Report;
    options_.breakerThreshold = 2;
    options_.breakerCooldown = std::chrono::minutes(5);
    options_.limitPause = std::chrono::hours(1);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<PassSummary> once() {
    Scheduler& s = scheduler();
    return s.runOnce();
  }
  Scheduler& scheduler() {
    if (!scheduler_) {
      scheduler_ = std::make_unique<Scheduler>(std::vector<OrgTarget>{{"acme", &org_}},
                                               std::vector<const policy::Policy*>{&policy_},
                                               options_, *audit_, clock_, stop_);
    }
    return *scheduler_;
  }
  fs::path dir_;
  std::unique_ptr<audit::AuditLog> audit_;
  testing::ScriptedJobs org_;  // lists no page: a listing that succeeds or fails at once
  testing::ManualClock clock_{"2026-11-29T12:00:00Z"};
  model::StopSignal stop_;
  policy::Policy policy_;
  SchedulerOptions options_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerGuard, RequestLimitExceededPausesTheOrgForTheConfiguredTime) {
  org_.listErrorAfterPages = ApiError{ApiError::Kind::LimitExceeded, 403, "REQUEST_LIMIT_EXCEEDED",
                                      "TotalRequests Limit exceeded."};
  once();
  EXPECT_EQ(org_.lists, 1);
  org_.listErrorAfterPages.reset();
  clock_.advance(std::chrono::minutes(59));
  auto skipped = once();
  EXPECT_EQ(org_.lists, 1) << "a paused org was called";
  ASSERT_EQ(skipped.size(), 1u);
  ASSERT_TRUE(skipped[0].notRun.has_value());
  EXPECT_NE(skipped[0].notRun->find("REQUEST_LIMIT_EXCEEDED"), std::string::npos);
  EXPECT_FALSE(skipped[0].ok());
  clock_.advance(std::chrono::minutes(2));
  auto again = once();
  EXPECT_EQ(org_.lists, 2);
  EXPECT_TRUE(again[0].ok());
}

// The daily allowance is a rolling 24 h window: after the pause one probe call asks for the
// usage, and passes resume only when it shows room.
TEST_F(SchedulerGuard, AfterTheDailyLimitAProbeDecidesWhenPassesResume) {
  org_.listErrorAfterPages = ApiError{ApiError::Kind::LimitExceeded, 403, "REQUEST_LIMIT_EXCEEDED",
                                      "TotalRequests Limit exceeded."};
  once();
  org_.listErrorAfterPages.reset();
  EXPECT_EQ(org_.lists, 1);
  org_.reported = {15000, 15000};
  clock_.advance(std::chrono::minutes(61));
  auto s = once();
  EXPECT_EQ(org_.probes, 1);
  EXPECT_EQ(org_.lists, 1) << "a pass ran while the probe showed the allowance used up";
  ASSERT_TRUE(s[0].notRun.has_value());
  EXPECT_NE(s[0].notRun->find("15000/15000"), std::string::npos) << *s[0].notRun;
  clock_.advance(std::chrono::minutes(30));
  once();
  EXPECT_EQ(org_.probes, 1) << "probed again before the next pause ended";
  org_.probeError = ApiError{ApiError::Kind::LimitExceeded, 403, "REQUEST_LIMIT_EXCEEDED",
                             "TotalRequests Limit exceeded."};
  clock_.advance(std::chrono::minutes(31));
  once();
  EXPECT_EQ(org_.probes, 2);
  EXPECT_EQ(org_.lists, 1);
  org_.probeError.reset();
  org_.reported = {12000, 15000};  // under the maximum, and under the 90% budget
  clock_.advance(std::chrono::minutes(61));
  auto resumed = once();
  EXPECT_EQ(org_.probes, 3);
  EXPECT_EQ(org_.lists, 2);
  EXPECT_TRUE(resumed[0].ok());
  once();
  EXPECT_EQ(org_.probes, 3) << "no probe once resumed";
  EXPECT_EQ(org_.lists, 3);
}

// The concurrent long-running request limit clears in seconds: it never pauses the org.
TEST_F(SchedulerGuard, TheConcurrentLimitDoesNotPauseTheOrg) {
  org_.listErrorAfterPages = ApiError{ApiError::Kind::Transient, 403, "REQUEST_LIMIT_EXCEEDED",
                                      "ConcurrentPerOrgLongTxn Limit exceeded."};
  ASSERT_TRUE(salesforce::isConcurrentLimit(*org_.listErrorAfterPages));
  once();
  org_.listErrorAfterPages.reset();
  auto s = once();
  EXPECT_EQ(org_.lists, 2) << "the org was paused";
  EXPECT_FALSE(s[0].notRun.has_value());
}

// A 401 during the actions is not a limit (it used to pause the org for an hour).
TEST_F(SchedulerGuard, UnauthorizedDuringActionsDoesNotPauseTheOrg) {
  model::Job j;
  j.id = "750R0000000001AAAA";
  j.kind = model::ResourceKind::Query;
  j.state = model::JobState::InProgress;
  j.createdDate = clock_.now() - std::chrono::hours(2);
  j.systemModstamp = j.createdDate;
  org_.pages = {salesforce::Page{{j}, {}}};
  org_.actionErrors[j.id] = ApiError{ApiError::Kind::Unauthorized, 401, "INVALID_SESSION_ID",
                                     "Session expired or invalid"};
  policy_.action = policy::Action::Abort;
  policy_.mode = policy::Mode::Enforce;
  auto first = once();
  ASSERT_EQ(org_.actions.size(), 1u);
  EXPECT_TRUE(first[0].unauthorized);
  EXPECT_FALSE(first[0].limitExceeded);
  auto next = once();
  EXPECT_EQ(org_.lists, 2) << "the org was paused as if a limit had been hit";
  EXPECT_FALSE(next[0].notRun.has_value());
}

TEST_F(SchedulerGuard, AboveTheApiUsageShareNoNewPassStarts) {
  org_.reported = {91, 100};
  auto s = once();
  EXPECT_EQ(org_.lists, 0);
  ASSERT_TRUE(s[0].notRun.has_value());
  EXPECT_NE(s[0].notRun->find("91/100"), std::string::npos) << *s[0].notRun;
  // The usage known is the last header seen; skipping cannot refresh it, so now and then one
  // pass runs anyway.
  clock_.advance(kBudgetRecheck - std::chrono::seconds(1));
  once();
  EXPECT_EQ(org_.lists, 0);
  clock_.advance(std::chrono::seconds(1));
  once();
  EXPECT_EQ(org_.lists, 1);
  once();
  EXPECT_EQ(org_.lists, 1);  // and then it waits again
  org_.reported = {89, 100};
  once();
  EXPECT_EQ(org_.lists, 2);
}

TEST_F(SchedulerGuard, TheBreakerOpensAfterFailuresAndProbesOnceAfterTheCooldown) {
  org_.listErrorAfterPages = ApiError{ApiError::Kind::Transient, 503, "SERVER_UNAVAILABLE", "busy"};
  once();
  once();
  EXPECT_EQ(org_.lists, 2);
  once();  // open: no call
  once();
  EXPECT_EQ(org_.lists, 2);
  clock_.advance(std::chrono::minutes(5));
  once();  // the probe, which fails: open again
  EXPECT_EQ(org_.lists, 3);
  once();
  EXPECT_EQ(org_.lists, 3);
  clock_.advance(std::chrono::minutes(5));
  org_.listErrorAfterPages.reset();
  once();  // the probe succeeds: closed
  once();
  EXPECT_EQ(org_.lists, 5);
}

}  // namespace
}  // namespace bulkwarden::engine

namespace bulkwarden::engine {
namespace {

// Actions refused for permission, or for an expired session, are not the daily limit: the org is
// not paused, and its next pass runs at once.
TEST_F(SchedulerGuard, APermissionRefusalOrA401DuringActionsDoesNotPauseTheOrg) {
  policy_.action = policy::Action::Abort;
  policy_.mode = policy::Mode::Enforce;
  policy::Filter running;
  running.kind = policy::Filter::Kind::State;
  running.stateMask = 1u << static_cast<int>(model::JobState::InProgress);
  policy_.filter.kind = policy::Filter::Kind::All;
  policy_.filter.children = {running};
  model::Job j;
  j.id = "750R00000000001AAA";
  j.state = model::JobState::InProgress;
  j.createdDate = *model::parseTimestamp("2026-11-29T10:00:00Z");
  j.systemModstamp = j.createdDate;
  org_.pages = {salesforce::Page{{j}, {}}};
  org_.actionErrors[j.id] =
      ApiError{ApiError::Kind::Permanent, 403, "INSUFFICIENT_ACCESS", "insufficient access", true};
  auto first = once();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].outcomes[Outcome::NotPermitted], 1);
  EXPECT_FALSE(first[0].limitExceeded);
  org_.actionErrors[j.id] = ApiError{ApiError::Kind::Unauthorized, 401, "INVALID_SESSION_ID",
                                     "Session expired or invalid", true};
  auto second = once();
  EXPECT_EQ(org_.lists, 2) << "a permission refusal paused the org";
  ASSERT_FALSE(second[0].notRun.has_value());
  EXPECT_TRUE(second[0].unauthorized);
  EXPECT_FALSE(second[0].limitExceeded);
  once();
  EXPECT_EQ(org_.lists, 3) << "a 401 during actions paused the org as if it were a limit";
}

}  // namespace
}  // namespace bulkwarden::engine
