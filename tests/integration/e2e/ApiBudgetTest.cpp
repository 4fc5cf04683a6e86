// The daily API budget (`api-budget`, engine/ApiBudget.h) against the simulated org, through the
// real binary: jobs keep crossing a policy's age threshold, the budget is tight, and the calls
// the org counted never exceed it, across restarts, while jobs are still aborted as far as it
// allows. And `validate` / `plan` print the projected calls a day next to the budget.
#include <gtest/gtest.h>

#include <csignal>

#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

class ApiBudgetE2E : public EndToEnd {
 protected:
  // `n` stuck query jobs that cross `threshold` one every `step`, the first after `step`.
  std::vector<std::string> crossingJobs(int n, std::chrono::milliseconds threshold,
                                        std::chrono::milliseconds step) {
    std::vector<std::string> ids;
    for (int k = 1; k <= n; ++k) {
      sim::JobSeed s;
      s.kind = "query";
      s.state = "InProgress";
      s.age = threshold - step * k;
      ids.push_back(org().addJob(s));
    }
    return ids;
  }
  int aborted(const std::vector<std::string>& ids) {
    int n = 0;
    for (const auto& id : ids) n += org().state(id) == "Aborted" ? 1 : 0;
    return n;
  }
  int64_t budgetCallsInRunEnds() {
    int64_t sum = 0;
    for (const auto& r : audit("run-end")) {
      auto calls = r->getObject("calls");
      EXPECT_TRUE(calls) << "every run-end says its calls by purpose";
      if (!calls) continue;
      for (const char* k : {"list", "follow-up", "action", "recovery", "token", "probe"}) {
        EXPECT_TRUE(calls->has(k)) << k;
        sum += calls->getValue<int64_t>(k);
      }
    }
    return sum;
  }
};

constexpr const char* kAbortStuck = R"(policies:
  - name: abort-stuck
    resource: query-jobs
    mode: enforce
    schedule: { every: 1h }
    filters: [ { state: InProgress }, { older-than: 20s } ]
    action: abort
)";

TEST_F(ApiBudgetE2E, JobsKeepCrossingAndTheOrgNeverCountsMoreCallsThanTheBudgetAcrossRestarts) {
  constexpr int64_t kBudget = 40;
  sim::SimOptions so;
  so.apiMax = 15'000;  // Sforce-Limit-Info on every reply
  startSim(so);
  // 120 jobs crossing 20s one every 100 ms: a follow-up a second, each reading and aborting ~10.
  auto ids = crossingJobs(120, std::chrono::seconds(20), std::chrono::milliseconds(100));
  auto config = writeConfig(kAbortStuck, "", "api-budget: " + std::to_string(kBudget) + "\n");

  auto daemon = start({"run", "--config", config});
  // The budget runs low: follow-ups wait for the next scheduled pass (an hour away), and the
  // daemon says so once.
  ASSERT_TRUE(waitFor(
      [&] { return daemon->err().find("follow-up skipped, no call made") != std::string::npos; },
      std::chrono::seconds(30)))
      << daemon->err();
  const int64_t atLow = org().counters().requests;
  daemon->signal(SIGTERM);
  ASSERT_EQ(daemon->wait(), 0) << daemon->err();
  const std::string firstErr = daemon->err();
  EXPECT_LE(org().counters().requests, kBudget) << firstErr;
  EXPECT_GE(atLow, kBudget * 3 / 4 - 2) << "the budget was used before it bound";
  EXPECT_GE(aborted(ids), 5) << "jobs are acted on as far as the budget allows\n" << firstErr;
  EXPECT_LT(aborted(ids), static_cast<int>(ids.size())) << "not every crossing could be afforded";
  // The skip says why: the budget, and how many calls are left. Whether it reads "is low" or
  // "is ok, N reads needed" depends on how many crossings one follow-up gathered (more on a
  // slower machine, or under ThreadSanitizer).
  auto skip = firstErr.find("follow-up skipped, no call made: the API budget (40 calls a day");
  ASSERT_NE(skip, std::string::npos) << firstErr;
  EXPECT_NE(firstErr.find(" of 40 calls left", skip), std::string::npos) << firstErr;
  EXPECT_EQ(budgetCallsInRunEnds(), org().counters().requests)
      << "the run-end records count every call the org saw";

  // Restarts: each new process reads the ledger from state-dir and spends only what is left;
  // a pass it cannot afford does not run (69, as for any pass that could not run).
  for (int i = 0; i < 3; ++i) {
    const int code = run({"run", "--once", "--config", config});
    EXPECT_TRUE(code == 0 || code == 69) << code << err();
    EXPECT_LE(org().counters().requests, kBudget) << err();
  }
  EXPECT_NE(err().find("cannot afford the listing"), std::string::npos) << err();
}

TEST_F(ApiBudgetE2E, APercentBudgetFollowsTheAllowanceTheOrgReports) {
  sim::SimOptions so;
  so.apiMax = 200;  // 10% (the default): 20 calls a day
  startSim(so);
  addJobs(30, "query", "InProgress", std::chrono::hours(1));
  auto config = writeConfig(kAbortStuck);
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  // The first pass knew no allowance (1,500: 10% of the smallest): it listed and learned 200.
  // Its actions were reserved after the listing, within 20.
  EXPECT_LE(org().counters().requests, 20) << err();
  EXPECT_GT(org().counters().patches, 0) << err();
  EXPECT_EQ(run({"run", "--once", "--config", config}), 69) << err();
  EXPECT_NE(err().find("cannot afford the listing"), std::string::npos) << err();
  EXPECT_LE(org().counters().requests, 20) << err();
}

TEST_F(ApiBudgetE2E, ABadBudgetIsAConfigErrorWithItsPlace) {
  startSim();
  auto config = writeConfig(kAbortStuck, "", "api-budget: 120%\n");
  EXPECT_EQ(run({"validate", "--config", config}), 78);
  EXPECT_NE(err().find("bulkwarden.yaml:12:13: api-budget must be more than 0% and at most 100%"),
            std::string::npos)
      << err();
}

TEST_F(ApiBudgetE2E, ValidateAndPlanPrintTheProjectedCallsADayAndWarnAboveTheBudget) {
  sim::SimOptions so;
  so.pageSize = 10;
  so.apiMax = 50'000;
  startSim(so);
  addJobs(25, "query", "JobComplete", std::chrono::hours(1));  // three pages of 10
  // Every 10s: 8,640 passes a day. One page each before anything was listed.
  auto config = writeConfig(R"(policies:
  - name: watch
    resource: query-jobs
    schedule: { every: 10s }
    filters: [ { state: InProgress } ]
    action: report
)",
                            "", "api-budget: 10000\n");
  ASSERT_EQ(run({"validate", "--config", config}), 0) << err();
  EXPECT_NE(out().find("test-org: 8,640 projected = 8,640 list (query 8,640 passes x 1 page, "
                       "ingest 0 x 1; pages never listed) + 0 other in the last 24 h; budget "
                       "10,000 (10000 calls a day); allowance not known yet"),
            std::string::npos)
      << out();
  EXPECT_EQ(out().find("warning:"), std::string::npos) << out();

  // A run learns three pages a listing and the allowance: 25,920 a day, over the budget.
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  const int64_t spent = org().counters().requests;
  ASSERT_EQ(run({"validate", "--config", config}), 0) << err();
  EXPECT_NE(out().find("query 8,640 passes x 3 pages"), std::string::npos) << out();
  EXPECT_NE(out().find("allowance 50,000"), std::string::npos) << out();
  EXPECT_NE(out().find("warning: test-org: the projected 25,9"), std::string::npos) << out();
  EXPECT_NE(out().find("exceed the API budget of 10,000"), std::string::npos) << out();
  EXPECT_EQ(org().counters().requests, spent) << "validate calls no org";

  ASSERT_EQ(run({"plan", "--config", config}), 0) << err();
  EXPECT_NE(out().find("warning: test-org: the projected 25,9"), std::string::npos) << out();
  ASSERT_EQ(run({"plan", "--config", config, "--format", "json"}), 0) << err();
  EXPECT_EQ(out().find("projected"), std::string::npos) << "stdout stays one JSON document";
  EXPECT_NE(err().find("warning: test-org: the projected"), std::string::npos) << err();
}

}  // namespace
}  // namespace bulkwarden::testing
