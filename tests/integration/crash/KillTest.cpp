// kill -9 of the real binary at every failpoint and at random moments, then a restart, checking
// the invariants of docs/reliability.md: every action the org applied had its intent on disk
// (I1), no job acted on twice (I2), the audit trail verifies with no intent left open after
// recovery (I3). Sized for CI; BULKWARDEN_KILL_RUNS=N runs N rounds of each (docs/reliability.md).
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>
#include <thread>

#include "Eventually.h"
#include "audit/AuditLog.h"
#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

using std::chrono::hours;

constexpr const char* kPolicy = R"(policies:
  - name: abort-stuck
    resource: query-jobs
    mode: enforce
    filters:
      - state: InProgress
      - older-than: 30m
    action: abort
)";

int rounds(int ciDefault) {
  const char* env = std::getenv("BULKWARDEN_KILL_RUNS");
  return env ? std::max(1, std::atoi(env)) : ciDefault;
}

class Kill : public EndToEnd {
 protected:
  // A fresh org with `n` stuck jobs and a fresh audit trail.
  void freshOrg(int n) {
    if (server_) server_->stop();
    server_.reset();
    fs::remove(auditPath());
    for (const auto& f : audit::trailFiles(auditPath())) fs::remove(f);
    fs::remove(dir_ / "state" / "audit.anchor");  // a new trail, not a cut one
    startSim();
    addJobs(n, "query", "InProgress", hours(2));
    config_ = writeConfig(kPolicy);
  }

  // After the crash: a clean run settles the open intents and finishes the work. Then I1-I3.
  void recoverAndCheck(int n, const std::string& what) {
    SCOPED_TRACE(what);
    child_ = start({"run", "--once", "--config", config_});
    ASSERT_EQ(child_->wait(), 0) << err();
    auto jobs = org().jobs();
    ASSERT_EQ(static_cast<int>(jobs.size()), n);
    for (const auto& j : jobs) {
      EXPECT_EQ(j.state, "Aborted") << j.id;
      EXPECT_EQ(org().appliedActions(j.id), 1) << j.id;  // I2: applied once
    }
    EXPECT_EQ(org().counters().patches, n) << "a job was sent an abort twice";  // I2: sent once

    auto report = audit::verifyFiles(audit::trailFiles(auditPath()));
    EXPECT_TRUE(report.ok) << report.problem;  // I3
    EXPECT_TRUE(report.openIntents.empty());   // I3
    // I1: every job the org aborted has an intent; exactly one result says it was done.
    std::map<std::string, int> intents, done;
    for (const auto& r : audit()) {
      auto type = r->getValue<std::string>("type");
      if (type == "intent") intents[r->getObject("job")->getValue<std::string>("id")]++;
      if (type == "result") {
        auto outcome = r->getValue<std::string>("outcome");
        if (outcome == "applied" || outcome == "confirmed") {
          done[r->getObject("job")->getValue<std::string>("id")]++;
        } else {
          EXPECT_EQ(outcome, "not-applied") << "unexpected outcome";
        }
      }
    }
    for (const auto& j : jobs) {
      EXPECT_GE(intents[j.id], 1) << j.id << " was aborted without an intent";
      EXPECT_EQ(done[j.id], 1) << j.id;
    }
    std::string all = err();
    EXPECT_EQ(all.find(server_->token()), std::string::npos) << "the token leaked";
  }
  std::string config_;
};

TEST_F(Kill, AtEveryFailpoint) {
  constexpr int kJobs = 24;
  std::mt19937 rng(7);
  const char* points[] = {"after_intent_write", "after_intent_fsync", "mid_record",
                          "after_response", "after_result_write"};
  int n = rounds(2);
  for (const char* point : points) {
    for (int round = 0; round < n; ++round) {
      freshOrg(kJobs);
      int nth = 1 + static_cast<int>(rng() % kJobs);
      std::string spec = std::string(point) + ":" + std::to_string(nth);
      child_ = start({"run", "--once", "--config", config_}, {"BULKWARDEN_FAILPOINT=" + spec});
      ASSERT_EQ(child_->wait(), 128 + SIGKILL) << spec << " did not fire: " << err();
      recoverAndCheck(kJobs, spec);
      if (HasFatalFailure()) return;
    }
  }
}

TEST_F(Kill, AtRandomMoments) {
  constexpr int kJobs = 150;
  std::mt19937 rng(11);
  int n = rounds(8);
  int killedMidWay = 0;
  for (int round = 0; round < n; ++round) {
    freshOrg(kJobs);
    auto delay = std::chrono::milliseconds(rng() % 300);
    child_ = start({"run", "--once", "--config", config_});
    // Even rounds: at a random moment from the start (start-up, listing, or acting). Odd rounds:
    // a random moment after the first abort reached the org, so that some kills surely land
    // while actions are in flight.
    if (round % 2 == 1) {
      eventually([&] { return org().counters().appliedAborts > 0; }, std::chrono::seconds(20));
      delay = std::chrono::milliseconds(rng() % 40);
    }
    std::this_thread::sleep_for(delay);  // the moment of the kill, not a wait for an event
    child_->signal(SIGKILL);
    int rc = child_->wait();
    if (rc == 128 + SIGKILL && org().counters().appliedAborts > 0 &&
        org().counters().appliedAborts < kJobs) {
      ++killedMidWay;
    }
    recoverAndCheck(kJobs, "kill after " + std::to_string(delay.count()) + " ms");
    if (HasFatalFailure()) return;
  }
  RecordProperty("killed_mid_pass", killedMidWay);
  // The test proves something only if kills landed between the first and the last action.
  if (n >= 2) {
    EXPECT_GT(killedMidWay, 0) << "no kill landed mid-pass in " << n << " rounds";
  }
}

}  // namespace
}  // namespace bulkwarden::testing
