// `bulkwarden run` as a daemon: keeps its schedule, and on SIGTERM finishes the actions in
// flight, records them, and exits 0.
#include <gtest/gtest.h>

#include <thread>

#include "audit/AuditLog.h"
#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

using std::chrono::hours;

class Daemon : public EndToEnd {};

constexpr const char* kWatchEverySecond = R"(policies:
  - name: watch
    resource: query-jobs
    schedule: { every: 1s }
    filters:
      - state: InProgress
    action: report
)";

TEST_F(Daemon, KeepsItsScheduleUntilSigterm) {
  startSim();
  addJobs(1, "query", "InProgress", hours(1));
  child_ = start({"run", "--config", writeConfig(kWatchEverySecond)});
  // Wait for three passes (three listings), then stop it.
  waitFor([&] { return org().counters().lists >= 3; });
  EXPECT_GE(org().counters().lists, 3);
  EXPECT_LE(org().counters().lists, 5);  // on schedule, not in a loop
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(std::chrono::seconds(10)), 0) << err();
  EXPECT_GE(audit("run-end").size(), 3u);
}

// logrotate's postrotate step: the file was moved away, SIGUSR1 makes the daemon write to a new
// file at the configured path; the chain goes on across the two.
TEST_F(Daemon, Sigusr1ReopensTheAuditLogAfterLogrotateMovedIt) {
  startSim();
  addJobs(1, "query", "InProgress", hours(1));
  child_ = start({"run", "--config", writeConfig(kWatchEverySecond)});
  ASSERT_TRUE(waitFor([&] { return !audit("run-end").empty(); })) << err();
  std::string rotated = auditPath() + ".1";
  fs::rename(auditPath(), rotated);
  child_->signal(SIGUSR1);
  ASSERT_TRUE(waitFor([&] { return fs::exists(auditPath()) && !audit("run-end").empty(); }))
      << err();
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(std::chrono::seconds(10)), 0) << err();
  EXPECT_NE(err().find("reopened"), std::string::npos) << err();
  auto report = audit::verifyFiles({rotated, auditPath()});
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_GT(fs::file_size(auditPath()), 0u);
}

// docs/reliability.md B4: a second instance on the same state directory exits at once, touching
// neither the org nor the audit trail; the first one is unaffected.
TEST_F(Daemon, ASecondInstanceOnTheSameStateDirectoryExitsWithLockHeld) {
  startSim();
  const char* policies = R"(policies:
  - name: watch
    resource: query-jobs
    schedule: { every: 1h }
    filters:
      - state: InProgress
    action: report
)";
  auto config = writeConfig(policies);
  auto first = start({"run", "--config", config});
  waitFor([&] { return !audit("run-end").empty(); });
  ASSERT_FALSE(audit("run-end").empty()) << first->err();
  auto lists = org().counters().lists;
  auto records = audit().size();
  EXPECT_EQ(run({"run", "--once", "--config", config}), 75);
  EXPECT_NE(err().find("lock held"), std::string::npos) << err();
  EXPECT_NE(err().find(std::to_string(first->pid())), std::string::npos) << err();
  EXPECT_EQ(org().counters().lists, lists);
  EXPECT_EQ(audit().size(), records);
  first->signal(SIGTERM);
  EXPECT_EQ(first->wait(std::chrono::seconds(10)), 0) << first->err();
}

TEST_F(Daemon, SigtermMidPassFinishesTheActionsInFlightAndRecordsThem) {
  startSim();
  addJobs(3000, "query", "InProgress", hours(1));
  const char* policies = R"(policies:
  - name: abort-all
    resource: query-jobs
    mode: enforce
    filters:
      - state: InProgress
    action: abort
)";
  child_ = start({"run", "--config", writeConfig(policies, "", "")});
  waitFor([&] { return org().counters().appliedAborts >= 50; }, std::chrono::seconds(20));
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(std::chrono::seconds(20)), 0) << err();
  int64_t applied = org().counters().appliedAborts;
  EXPECT_GE(applied, 50);
  EXPECT_LT(applied, 3000) << "the stop request did not stop the pass";
  // Every abort the org applied has its intent and its result; no intent is left open. Intents
  // written ahead whose request never went out say so in their result.
  auto report = audit::verifyFile(auditPath());
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_TRUE(report.openIntents.empty());
  auto results = audit("result");
  EXPECT_EQ(audit("intent").size(), results.size());
  int64_t appliedResults = 0, notStarted = 0;
  for (const auto& r : results) {
    auto outcome = r->getValue<std::string>("outcome");
    appliedResults += outcome == "applied";
    notStarted += outcome == "not-started";
  }
  EXPECT_EQ(appliedResults, applied);
  EXPECT_EQ(appliedResults + notStarted, static_cast<int64_t>(results.size()));
  EXPECT_LE(notStarted, 2 * 8) << "more written ahead than two rounds of actions";
  auto ends = audit("run-end");
  ASSERT_FALSE(ends.empty());
  EXPECT_TRUE(ends.back()->has("stopped"));
}

}  // namespace
}  // namespace bulkwarden::testing
