// `bulkwarden run --once` as a child process against the simulated org over loopback.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr const char* kAbortStuckQueries = R"(policies:
  - name: abort-stuck-queries
    description: Abort query jobs running for more than 30 minutes
    resource: query-jobs
    mode: enforce
    schedule: { every: 2m }
    filters:
      - state: [InProgress, UploadComplete]
      - older-than: { field: createdDate, age: 30m }
    action: abort
)";

sim::JobSeed seed(const char* kind, const char* state, std::chrono::milliseconds age) {
  sim::JobSeed s;
  s.kind = kind;
  s.state = state;
  s.age = age;
  return s;
}

class RunOnce : public EndToEnd {};

// The issue's "done when": 10,000 query jobs, 1,000 of them stuck; exactly those are aborted,
// every other job is left as it was, and each abort has an intent and a result.
TEST_F(RunOnce, AbortsExactlyTheThousandStuckJobsOfTenThousand) {
  startSim();
  std::mt19937 rng(42);
  std::set<std::string> stuck;
  for (int i = 0; i < 1000; ++i) {
    auto s = seed("query", i % 4 == 0 ? "UploadComplete" : "InProgress",
                  minutes(31 + static_cast<int>(rng() % 600)));
    stuck.insert(org().addJob(s));
  }
  for (int i = 0; i < 9000; ++i) {
    const char* states[] = {"JobComplete", "Failed", "Aborted", "InProgress", "UploadComplete"};
    const char* state = states[i % 5];
    bool active = i % 5 >= 3;
    // Active jobs younger than the threshold; finished ones of any age.
    auto age = active ? seconds(1 + static_cast<int>(rng() % (25 * 60)))
                      : minutes(1 + static_cast<int>(rng() % (3 * 24 * 60)));
    org().addJob(seed("query", state, age));
  }
  for (int i = 0; i < 50; ++i) org().addJob(seed("ingest", "InProgress", hours(5)));
  auto before = org().jobs();
  ASSERT_EQ(before.size(), 10050u);

  auto config = writeConfig(kAbortStuckQueries);
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();

  auto after = org().jobs();
  std::map<std::string, std::string> stateAfter;
  for (const auto& j : after) stateAfter[j.id] = j.state;
  int aborted = 0;
  for (const auto& j : before) {
    if (stuck.count(j.id)) {
      EXPECT_EQ(stateAfter[j.id], "Aborted") << j.id;
      EXPECT_EQ(org().appliedActions(j.id), 1) << j.id;
      ++aborted;
    } else {
      EXPECT_EQ(stateAfter[j.id], j.state) << j.id << " was touched";
      EXPECT_EQ(org().appliedActions(j.id), 0) << j.id;
    }
  }
  EXPECT_EQ(aborted, 1000);
  EXPECT_EQ(org().counters().patches, 1000);
  EXPECT_EQ(org().counters().deletes, 0);

  // One intent before and one result after each abort, paired by seq.
  std::map<std::string, int64_t> intentSeq, resultSeq;
  for (const auto& r : audit()) {
    auto type = r->getValue<std::string>("type");
    if (type != "intent" && type != "result") continue;
    auto id = r->getObject("job")->getValue<std::string>("id");
    EXPECT_TRUE(stuck.count(id)) << id;
    EXPECT_EQ(r->getValue<std::string>("action"), "abort");
    EXPECT_EQ(r->getValue<std::string>("mode"), "enforce");
    EXPECT_EQ(r->getValue<std::string>("org"), "test-org");
    EXPECT_EQ(r->getValue<std::string>("policy"), "abort-stuck-queries");
    if (type == "intent") {
      EXPECT_EQ(intentSeq.count(id), 0u) << "two intents for " << id;
      intentSeq[id] = r->getValue<int64_t>("seq");
    } else {
      EXPECT_EQ(resultSeq.count(id), 0u) << "two results for " << id;
      resultSeq[id] = r->getValue<int64_t>("seq");
      EXPECT_EQ(r->getValue<int64_t>("intent"), intentSeq[id]);
      EXPECT_EQ(r->getValue<std::string>("outcome"), "applied");
      EXPECT_EQ(r->getValue<int>("http"), 200);
    }
  }
  EXPECT_EQ(intentSeq.size(), 1000u);
  EXPECT_EQ(resultSeq.size(), 1000u);
  for (auto& [id, seq] : resultSeq) EXPECT_LT(intentSeq[id], seq);

  // The summary line: jobs seen, matched, acted, HTTP requests (10 list pages + 1000 aborts +
  // the api-version check GET /services/data/ before the first call).
  EXPECT_NE(err().find("10000 jobs in 10 pages, 1000 matched, 1000 acted"), std::string::npos)
      << err();
  EXPECT_NE(err().find("1011 API calls"), std::string::npos) << err();

  child_.reset();
  ASSERT_EQ(run({"audit", "verify", auditPath()}), 0) << err() << out();
  EXPECT_NE(out().find("hash chain intact"), std::string::npos);
}

TEST_F(RunOnce, DryRunRecordsDecisionsAndSendsNothing) {
  startSim();
  for (int i = 0; i < 30; ++i) org().addJob(seed("query", "InProgress", hours(2)));
  auto config = writeConfig(kAbortStuckQueries);
  ASSERT_EQ(run({"run", "--once", "--dry-run", "--config", config}), 0) << err();
  EXPECT_EQ(org().counters().patches, 0);
  EXPECT_EQ(org().counters().deletes, 0);
  for (const auto& j : org().jobs()) EXPECT_EQ(j.state, "InProgress");
  auto decisions = audit("decision");
  EXPECT_EQ(decisions.size(), 30u);
  for (auto& d : decisions) EXPECT_EQ(d->getValue<std::string>("mode"), "dry-run");
  EXPECT_TRUE(audit("intent").empty());
  EXPECT_TRUE(audit("result").empty());
}

TEST_F(RunOnce, APolicyWithoutModeIsDryRunByDefault) {
  startSim();
  org().addJob(seed("query", "InProgress", hours(2)));
  std::string p = kAbortStuckQueries;
  p.erase(p.find("    mode: enforce\n"), std::string("    mode: enforce\n").size());
  ASSERT_EQ(run({"run", "--once", "--config", writeConfig(p)}), 0) << err();
  EXPECT_EQ(org().counters().patches, 0);
  EXPECT_EQ(audit("decision").size(), 1u);
}

TEST_F(RunOnce, AJobThatFinishesBetweenListAndAbortIsAlreadyTerminalNotFailed) {
  startSim();
  auto s = seed("query", "InProgress", hours(3));
  s.finishesOnAbort = true;
  auto racer = org().addJob(s);
  auto plain = org().addJob(seed("query", "InProgress", hours(3)));
  ASSERT_EQ(run({"run", "--once", "--config", writeConfig(kAbortStuckQueries)}), 0) << err();
  std::map<std::string, std::string> outcome;
  for (auto& r : audit("result")) {
    outcome[r->getObject("job")->getValue<std::string>("id")] = r->getValue<std::string>("outcome");
    if (r->getObject("job")->getValue<std::string>("id") == racer) {
      EXPECT_EQ(r->getValue<int>("http"), 400);
      EXPECT_EQ(r->getObject("error")->getValue<std::string>("code"), "INVALIDJOBSTATE");
    }
  }
  EXPECT_EQ(outcome[racer], "already-terminal");
  EXPECT_EQ(outcome[plain], "applied");
  EXPECT_EQ(org().state(racer), "JobComplete");
  EXPECT_EQ(org().state(plain), "Aborted");
}

TEST_F(RunOnce, ARejectedTokenFailsThePassWithAClearErrorAndNoAction) {
  startSim();
  for (int i = 0; i < 5; ++i) org().addJob(seed("query", "InProgress", hours(2)));
  auto config = writeConfig(kAbortStuckQueries, "00DR00000000001!AQ4AQFakeButWellFormedToken12345");
  EXPECT_EQ(run({"run", "--once", "--config", config}), 69) << err();
  EXPECT_NE(err().find("INVALID_SESSION_ID"), std::string::npos) << err();
  EXPECT_EQ(org().counters().patches, 0);
  EXPECT_TRUE(audit("intent").empty());
  EXPECT_EQ(err().find("AQ4AQFakeButWellFormedToken12345"), std::string::npos)
      << "the token leaked into the log";
}

TEST_F(RunOnce, ARepeatedLocatorStopsPagingCleanlyAndNothingIsDone) {
  startSim();
  for (int i = 0; i < 3500; ++i) org().addJob(seed("query", "InProgress", hours(2)));
  org().repeatLocatorOnPage(3);
  EXPECT_EQ(run({"run", "--once", "--config", writeConfig(kAbortStuckQueries)}), 69) << err();
  EXPECT_NE(err().find("repeat"), std::string::npos) << err();
  EXPECT_EQ(org().counters().patches, 0);
  EXPECT_LE(org().counters().lists, 4);  // it stopped at the repeat instead of looping
  EXPECT_TRUE(audit("intent").empty());
  EXPECT_TRUE(audit("decision").empty());
}

TEST_F(RunOnce, PagesAcrossSeveralPagesWhenTheLocatorPointsAtTheIngestPath) {
  sim::SimOptions o;
  o.queryNextUrlOnIngestPath = true;  // docs/salesforce.md 12.1: the docs' example
  startSim(o);
  std::set<std::string> stuck;
  for (int i = 0; i < 2500; ++i) stuck.insert(org().addJob(seed("query", "InProgress", hours(1))));
  for (int i = 0; i < 1200; ++i) org().addJob(seed("ingest", "InProgress", hours(1)));
  ASSERT_EQ(run({"run", "--once", "--config", writeConfig(kAbortStuckQueries)}), 0) << err();
  EXPECT_EQ(org().counters().patches, 2500);
  for (const auto& j : org().jobs()) {
    EXPECT_EQ(j.state, j.kind == "query" ? "Aborted" : "InProgress") << j.id;
  }
}

TEST_F(RunOnce, DeletesFinishedJobsOfBothKindsAndLeavesTheRest) {
  startSim();
  auto oldDone = seed("query", "JobComplete", hours(50));
  oldDone.modifiedAgo = hours(49);
  auto recentDone = seed("query", "JobComplete", hours(3));
  recentDone.modifiedAgo = hours(2);
  auto oldIngest = seed("ingest", "Failed", hours(80));
  oldIngest.modifiedAgo = hours(79);
  auto running = seed("ingest", "InProgress", hours(80));
  std::string a = org().addJob(oldDone), b = org().addJob(recentDone), c = org().addJob(oldIngest),
              d = org().addJob(running);
  const char* policies = R"(policies:
  - name: delete-finished-queries
    resource: query-jobs
    mode: enforce
    filters:
      - state: [JobComplete, Aborted, Failed]
      - older-than: { field: systemModstamp, age: 1d }
    action: delete
  - name: delete-finished-ingest
    resource: ingest-jobs
    mode: enforce
    filters:
      - state: [JobComplete, Aborted, Failed]
      - older-than: { field: systemModstamp, age: 1d }
    action: delete
)";
  ASSERT_EQ(run({"run", "--once", "--config", writeConfig(policies)}), 0) << err();
  EXPECT_FALSE(org().state(a).has_value());
  EXPECT_EQ(org().state(b), "JobComplete");
  EXPECT_FALSE(org().state(c).has_value());
  EXPECT_EQ(org().state(d), "InProgress");
  auto results = audit("result");
  ASSERT_EQ(results.size(), 2u);
  for (auto& r : results) {
    EXPECT_EQ(r->getValue<std::string>("action"), "delete");
    EXPECT_EQ(r->getValue<int>("http"), 204);
  }
}

TEST_F(RunOnce, AConfigurationErrorNamesFileLineAndColumnAndExits78) {
  startSim();
  const char* bad = R"(policies:
  - name: broken
    resource: query-jobs
    filters:
      - state: [InProgres]
    action: abort
)";
  EXPECT_EQ(run({"run", "--once", "--config", writeConfig(bad)}), 78);
  EXPECT_NE(err().find("policies.yaml:5:"), std::string::npos) << err();
  EXPECT_NE(err().find("InProgres"), std::string::npos) << err();
  EXPECT_EQ(org().counters().requests, 0);
  child_.reset();
  EXPECT_EQ(run({"validate", "--config", (dir_ / "bulkwarden.yaml").string()}), 78);
}

TEST_F(RunOnce, ValidateAcceptsAGoodConfig) {
  startSim();
  EXPECT_EQ(run({"validate", "--config", writeConfig(kAbortStuckQueries)}), 0) << err();
  EXPECT_NE(out().find("abort-stuck-queries"), std::string::npos) << out();
  EXPECT_EQ(org().counters().requests, 0);  // validate never talks to Salesforce
}

TEST_F(RunOnce, PlanShowsWhatWouldHappenAndChangesNothing) {
  startSim();
  auto id = org().addJob(seed("query", "InProgress", hours(2)));
  org().addJob(seed("query", "InProgress", minutes(2)));
  auto config = writeConfig(kAbortStuckQueries);
  ASSERT_EQ(run({"plan", "--config", config, "--format", "json"}), 0) << err();
  EXPECT_NE(out().find(id), std::string::npos) << out();
  EXPECT_EQ(org().counters().patches, 0);
  EXPECT_FALSE(fs::exists(auditPath()));
}

}  // namespace
}  // namespace bulkwarden::testing
