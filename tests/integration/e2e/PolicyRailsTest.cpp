// The policy language's safety rails end to end: the real binary against the simulated org, for
// limits, exemptions, in-state-for across a restart, exactly one catch-up pass, and plan.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "Eventually.h"
#include "model/Time.h"
#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

sim::JobSeed stuckQuery(std::chrono::milliseconds age, std::string object = "Account") {
  sim::JobSeed s;
  s.kind = "query";
  s.state = "InProgress";
  s.age = age;
  s.object = std::move(object);
  return s;
}

class PolicyRails : public EndToEnd {
 protected:
  int runStarts() const { return static_cast<int>(audit("run-start").size()); }
};

TEST_F(PolicyRails, OverItsLimitAPolicyActsOnNothingAndTheAuditSaysWhy) {
  startSim();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(org().addJob(stuckQuery(hours(2))));
  auto config = writeConfig(R"(policies:
  - name: abort-stuck
    resource: query-jobs
    mode: enforce
    filters: [ { state: InProgress }, { older-than: 30m } ]
    action: abort
    limits: { max-actions: 4 }
)");
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  for (const auto& id : ids) EXPECT_EQ(org().state(id), "InProgress");
  EXPECT_EQ(org().counters().patches, 0);
  auto limits = audit("limit");
  ASSERT_EQ(limits.size(), 1u);
  EXPECT_NE(limits[0]->getValue<std::string>("reason").find("5 matches > max-actions 4"),
            std::string::npos);
  EXPECT_NE(err().find("acts on nothing this pass"), std::string::npos) << err();
}

TEST_F(PolicyRails, ExemptJobsAreLeftAloneWithTheirReasonInTheAudit) {
  startSim();
  auto keep = org().addJob(stuckQuery(hours(2)));
  auto keepByObject = org().addJob(stuckQuery(hours(2), "Contact"));
  auto expired = org().addJob(stuckQuery(hours(2), "Lead"));
  auto abort = org().addJob(stuckQuery(hours(2)));
  auto config = writeConfig(fmt::format(R"(policies:
  - name: abort-stuck
    resource: query-jobs
    mode: enforce
    filters: [ {{ state: InProgress }}, {{ older-than: 30m }} ]
    action: abort
    exempt:
      - {{ job: {}, reason: nightly export }}
      - {{ object: Contact, until: 2999-01-01T00:00:00Z, reason: migration }}
      - {{ object: Lead, until: 2001-01-01T00:00:00Z, reason: long over }}
)",
                                        keep));
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  EXPECT_EQ(org().state(keep), "InProgress");
  EXPECT_EQ(org().state(keepByObject), "InProgress");
  EXPECT_EQ(org().state(expired), "Aborted");
  EXPECT_EQ(org().state(abort), "Aborted");
  // One `held` record per exemption that held a job back, naming it.
  int held = 0;
  for (auto& h : audit("held")) {
    held += h->getValue<int>("count");
    auto why = h->getValue<std::string>("reason");
    EXPECT_TRUE(why.find("nightly export") != std::string::npos ||
                why.find("migration") != std::string::npos)
        << why;
  }
  EXPECT_EQ(held, 2);
  for (auto& d : audit("decision")) EXPECT_FALSE(d->has("held"));
}

TEST_F(PolicyRails, InStateForSurvivesARestart) {
  startSim();
  auto id = org().addJob(stuckQuery(hours(5)));
  auto config = writeConfig(R"(policies:
  - name: abort-stuck
    resource: query-jobs
    mode: enforce
    filters: [ { state: InProgress }, { in-state-for: 2s } ]
    action: abort
)");
  // First sighting: however old the job is, bulkwarden has not seen it in this state for 2s.
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  EXPECT_EQ(org().state(id), "InProgress");
  // Wait until the daemon's state says the job has been InProgress for 2s: `plan` reads that
  // state (read-only) and exits 2 once it would abort.
  ASSERT_TRUE(eventually(
      [&] {
        return run({"plan", "--detailed-exitcode", "--config", config}) == 2;
      },
      std::chrono::seconds(20)))
      << err();
  EXPECT_EQ(org().state(id), "InProgress");
  // A new process: the first sighting comes from the state store in state-dir.
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  EXPECT_EQ(org().state(id), "Aborted");
  EXPECT_TRUE(fs::exists(dir_ / "state" / "state.sqlite"));
}

TEST_F(PolicyRails, ExactlyOneCatchUpPassAfterDowntime) {
  startSim();
  org().addJob(stuckQuery(hours(1)));
  auto config = writeConfig(R"(policies:
  - name: report-stuck
    resource: query-jobs
    schedule: { every: 2s }
    filters: [ { state: InProgress } ]
    action: report
  - name: report-hourly
    resource: ingest-jobs
    schedule: { every: 1h }
    filters: [ { state: InProgress } ]
    action: report
)");
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  ASSERT_EQ(runStarts(), 2);
  // Down for two ticks of report-stuck and more; report-hourly missed none. (The downtime is
  // what is under test: real time must pass.)
  std::this_thread::sleep_for(std::chrono::milliseconds(4500));
  auto daemon = start({"run", "--config", config});
  ASSERT_TRUE(eventually([&] { return runStarts() >= 3; })) << daemon->err();
  // One catch-up only: nothing more before report-stuck's next tick (2 s after the catch-up).
  EXPECT_TRUE(holdsFor([&] { return runStarts() == 3; }, std::chrono::milliseconds(1000)))
      << daemon->err();
  daemon->signal(SIGTERM);
  ASSERT_EQ(daemon->wait(), 0) << daemon->err();
  auto starts = audit("run-start");
  ASSERT_EQ(starts.size(), 3u) << daemon->err();  // one catch-up, for the query policy only
  EXPECT_EQ(starts.back()->getValue<std::string>("policies"), "report-stuck");
  EXPECT_NE(daemon->err().find("one catch-up pass now"), std::string::npos) << daemon->err();
}

TEST_F(PolicyRails, PlanShowsWhatALimitOrAnExemptionHeldBack) {
  startSim();
  auto keep = org().addJob(stuckQuery(hours(2)));
  org().addJob(stuckQuery(hours(2)));
  org().addJob(stuckQuery(hours(2)));
  auto config = writeConfig(fmt::format(R"(policies:
  - name: abort-stuck
    resource: query-jobs
    mode: enforce
    filters: [ {{ state: InProgress }}, {{ older-than: 30m }} ]
    action: abort
    exempt: [ {{ job: {}, reason: nightly export }} ]
  - name: abort-capped
    resource: query-jobs
    mode: enforce
    filters: [ {{ state: InProgress }} ]
    action: abort
    limits: {{ max-percent: 10 }}
)",
                                        keep));
  ASSERT_EQ(run({"plan", "--config", config}), 0) << err();
  EXPECT_NE(out().find("HELD (exempted"), std::string::npos) << out();
  EXPECT_NE(out().find("nightly export"), std::string::npos) << out();
  EXPECT_EQ(org().counters().patches, 0);
  ASSERT_EQ(run({"plan", "--config", config, "--format", "json"}), 0) << err();
  EXPECT_NE(out().find("\"held\""), std::string::npos) << out();
}

TEST_F(PolicyRails, AJobIsAbortedWhenItCrossesItsAgeNotAtTheNextScheduledPass) {
  startSim();
  auto young = org().addJob(stuckQuery(std::chrono::milliseconds(500)));
  auto config = writeConfig(R"(policies:
  - name: abort-stuck
    resource: query-jobs
    mode: enforce
    schedule: { every: 1h }
    filters: [ { state: InProgress }, { older-than: 3s } ]
    action: abort
)");
  auto daemon = start({"run", "--config", config});
  // The first pass sees the job 0.5s old; the next scheduled pass is an hour away. A follow-up
  // pass comes when it crosses 3s.
  eventually([&] { return org().state(young) == "Aborted"; }, std::chrono::seconds(10));
  daemon->signal(SIGTERM);
  ASSERT_EQ(daemon->wait(), 0) << daemon->err();
  EXPECT_EQ(org().state(young), "Aborted") << daemon->err();
  EXPECT_EQ(audit("run-start").size(), 2u);
  EXPECT_NE(daemon->err().find("follow-up for"), std::string::npos) << daemon->err();
}

// Issue 15 "Done when": a job crossing an `every` policy's older-than is aborted within about a
// second of crossing, the follow-up costs one GET of that job (the sim's request counters), and
// the listings are what the schedule alone needs (one: the start's pass; the next is an hour away).
TEST_F(PolicyRails, AFollowUpActsWithinASecondOfTheCrossingForOneReadAndNoListing) {
  startSim();
  auto crossing = org().addJob(stuckQuery(std::chrono::milliseconds(1500)));
  for (int i = 0; i < 5; ++i) {  // listed, never matching: not read again
    sim::JobSeed done = stuckQuery(std::chrono::hours(2));
    done.state = "JobComplete";
    org().addJob(done);
  }
  auto config = writeConfig(R"(policies:
  - name: abort-stuck
    resource: query-jobs
    mode: enforce
    schedule: { every: 1h }
    filters: [ { state: InProgress }, { older-than: 4s } ]
    action: abort
)");
  auto daemon = start({"run", "--config", config});
  ASSERT_TRUE(waitFor([&] { return org().state(crossing) == "Aborted"; })) << daemon->err();
  ASSERT_TRUE(waitFor([&] { return audit("run-end").size() >= 2; })) << daemon->err();
  daemon->signal(SIGTERM);
  ASSERT_EQ(daemon->wait(), 0) << daemon->err();
  auto c = org().counters();
  EXPECT_EQ(c.lists, 1) << "a follow-up relisted the resource";
  EXPECT_EQ(c.gets, 1) << "the follow-up reads the crossing job once";
  EXPECT_EQ(c.patches, 1);
  // The lag: from the crossing (createdDate + 4s, the sim's clock is the wall clock) to the
  // intent, written before the abort went out.
  auto intents = audit("intent");
  ASSERT_EQ(intents.size(), 1u);
  auto created =
      model::parseTimestamp(intents[0]->getObject("job")->getValue<std::string>("createdDate"));
  auto at = model::parseTimestamp(intents[0]->getValue<std::string>("ts"));
  ASSERT_TRUE(created && at);
  auto lag = *at - (*created + std::chrono::seconds(4));
  EXPECT_GE(lag, std::chrono::milliseconds(0)) << "acted before the job crossed";
  EXPECT_LT(lag, std::chrono::milliseconds(2000)) << "acted too long after the crossing";
  auto starts = audit("run-start");
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_TRUE(starts[1]->optValue<bool>("follow_up", false));
}

TEST_F(PolicyRails, ValidateReportsEveryNewKindOfErrorInOneRun) {
  startSim();
  auto config = writeConfig(R"(policies:
  - name: a
    resource: query-jobs
    action: abort
    schedule: { cron: "*/5 * * * 9", timezone: Mars/Olympus }
    filters: [ { state: InProgress }, { in-state-for: soon } ]
    limits: { max-percent: 101 }
    exempt: [ { job: x, until: never } ]
    windows: { allow: [ { days: mon-fri, from: "25:00", to: "18:00" } ] }
  - name: b
    resource: query-jobs
    action: delete
    filters: [ { state: InProgress } ]
)");
  ASSERT_EQ(run({"validate", "--config", config}), 78) << err();
  for (const char* text :
       {"policies.yaml:5:23: bad cron", "policies.yaml:5:48: bad time zone",
        "policies.yaml:6:55: bad duration 'soon'", "policies.yaml:7:28: bad max-percent",
        "policies.yaml:8:32: bad time", "policies.yaml:9:48: bad time of day",
        "policies.yaml:13:18: delete only works on finished jobs"}) {
    EXPECT_NE(err().find(text), std::string::npos) << text << "\n" << err();
  }
}

// The documented escalation (policies/cookbook/escalate-stuck-query-jobs.yaml, in enforce):
// abort a query stuck for 30 minutes, then delete it once it has been Aborted for 10.
TEST_F(PolicyRails, EscalationAbortsThenDeletesAfterTheGraceTime) {
  startSim();
  auto stuck = org().addJob(stuckQuery(minutes(40)));
  auto young = org().addJob(stuckQuery(minutes(5)));
  auto aborted = [&](std::chrono::minutes ago) {
    sim::JobSeed s = stuckQuery(hours(3));
    s.state = "Aborted";
    s.modifiedAgo = ago;
    return org().addJob(s);
  };
  auto abortedLongAgo = aborted(minutes(11));
  auto abortedRecently = aborted(minutes(5));
  auto config = writeConfig(R"(policies:
  - name: abort-stuck-queries
    resource: query-jobs
    mode: enforce
    filters:
      - state: [InProgress, UploadComplete]
      - older-than: { field: createdDate, age: 30m }
    action: abort
  - name: delete-aborted-queries
    resource: query-jobs
    mode: enforce
    schedule: { cron: "*/10 * * * *" }
    filters:
      - state: Aborted
      - or:
          - in-state-for: 10m
          - older-than: { field: systemModstamp, age: 10m }
    action: delete
)");
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  // Aborted now, and not deleted in the same pass: its grace time starts now.
  EXPECT_EQ(org().state(stuck), "Aborted");
  EXPECT_EQ(org().state(young), "InProgress");
  // Jobs aborted 11 and 5 minutes ago: the first is past its grace time, the second is not.
  EXPECT_FALSE(org().state(abortedLongAgo).has_value());
  EXPECT_EQ(org().state(abortedRecently), "Aborted");
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  EXPECT_EQ(org().state(stuck), "Aborted");
}

}  // namespace
}  // namespace bulkwarden::testing
