// The pass against a scripted BulkJobs (the engine's own seam) and a real audit file.
#include "Eventually.h"
#include "JobFixtures.h"
#include "ManualClock.h"
#include "engine/Pass.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "ScriptedJobs.h"
#include "audit/AuditLog.h"
#include "state/StateStore.h"

namespace bulkwarden::engine {
namespace {

namespace fs = std::filesystem;
using model::JobState;
using model::ResourceKind;
using salesforce::ApiError;
using testing::ScriptedJobs;

using testing::t;

model::Job job(std::string id, JobState state, const char* created) {
  return testing::queryJob(std::move(id), state, created);
}

// A page of `n` InProgress jobs created at 10:00, ids 750R0000000{0000..}AAA.
salesforce::Page inProgressPage(int n) {
  salesforce::Page page;
  for (int i = 0; i < n; ++i) {
    page.jobs.push_back(job(fmt::format("750R0000000{:04d}AAA", i), JobState::InProgress,
                            "2026-11-29T10:00:00.000Z"));
  }
  return page;
}

policy::Policy statePolicy(std::string name, std::initializer_list<JobState> states,
                           policy::Action action, policy::Mode mode = policy::Mode::Enforce) {
  policy::Policy p;
  p.name = std::move(name);
  p.resource = ResourceKind::Query;
  p.action = action;
  p.mode = mode;
  policy::Filter f;
  f.kind = policy::Filter::Kind::State;
  for (auto s : states) f.stateMask |= 1u << static_cast<int>(s);
  p.filter.kind = policy::Filter::Kind::All;
  p.filter.children.push_back(f);
  return p;
}

class PassTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-pass-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auditPath_ = (dir_ / "audit.jsonl").string();
    audit_ = std::make_unique<audit::AuditLog>(auditPath_);
    org_.auditPath = auditPath_;
  }
  void TearDown() override { fs::remove_all(dir_); }

  PassSummary run(std::vector<const policy::Policy*> policies, bool dryRun = false,
                  int concurrency = 4) {
    PassOptions o;
    o.org = "acme";
    o.resource = ResourceKind::Query;
    o.policies = std::move(policies);
    o.dryRun = dryRun;
    o.concurrency = concurrency;
    o.runId = "run-1";
    o.state = state_;
    o.nextPass = nextPass_;
    o.rate = rate_;
    o.maxJobsPerListing = maxJobs_;
    // Backoffs and the rate cap sleep on the clock: recorded, never waited in real time.
    clock_.onSleep([this](model::Duration delay) {
      std::lock_guard lock(waitsMutex_);
      waits_.push_back(delay);
    });
    pass_ = std::make_unique<Pass>(o, org_, *audit_, clock_, stop_);
    return pass_->run();
  }
  std::vector<Poco::JSON::Object::Ptr> records(const std::string& type) {
    audit_->sync();
    return testing::auditObjects(auditPath_, testing::recordType(type));
  }

  fs::path dir_;
  std::string auditPath_;
  std::unique_ptr<audit::AuditLog> audit_;
  ScriptedJobs org_;
  testing::ManualClock clock_{"2026-11-29T12:00:00Z"};
  model::StopSignal stop_;
  std::unique_ptr<Pass> pass_;
  state::StateStore* state_ = nullptr;
  std::map<std::string, model::Timestamp> nextPass_;
  RateLimiter* rate_ = nullptr;
  int64_t maxJobs_ = kDefaultMaxJobsPerListing;
  std::mutex waitsMutex_;
  std::vector<std::chrono::milliseconds> waits_;  // retry backoffs asked for (none really waited)
};

TEST_F(PassTest, AbortsExactlyTheMatchingJobsWithAnIntentBeforeEachRequest) {
  salesforce::Page page;
  page.jobs = {job("750R00000000001AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z"),
               job("750R00000000002AAA", JobState::JobComplete, "2026-11-29T10:00:00.000Z"),
               job("750R00000000003AAA", JobState::UploadComplete, "2026-11-29T11:00:00.000Z")};
  org_.pages = {page};
  auto p = statePolicy("abort-running", {JobState::InProgress, JobState::UploadComplete},
                       policy::Action::Abort);
  auto s = run({&p});
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.jobsSeen, 3);
  EXPECT_EQ(s.matched, 2);
  EXPECT_EQ(s.acted, 2);
  EXPECT_EQ(s.outcomes[Outcome::Applied], 2);
  std::set<std::string> acted(org_.actions.begin(), org_.actions.end());
  EXPECT_EQ(acted, (std::set<std::string>{"abort:750R00000000001AAA", "abort:750R00000000003AAA"}));
  EXPECT_TRUE(org_.intentMissing.empty());
  auto intents = records("intent");
  auto results = records("result");
  ASSERT_EQ(intents.size(), 2u);
  ASSERT_EQ(results.size(), 2u);
  for (auto& r : results) {
    EXPECT_EQ(r->getValue<std::string>("outcome"), "applied");
    EXPECT_EQ(r->getValue<int>("http"), 200);
    EXPECT_EQ(r->getValue<std::string>("policy"), "abort-running");
    EXPECT_EQ(r->getValue<std::string>("mode"), "enforce");
    auto j = r->getObject("job");
    EXPECT_EQ(j->getValue<std::string>("kind"), "query");
    EXPECT_EQ(j->getValue<std::string>("createdDate").substr(0, 10), "2026-11-29");
  }
  EXPECT_EQ(records("decision").size(), 2u);
  EXPECT_TRUE(audit::verifyFile(auditPath_).ok);
  EXPECT_TRUE(audit::verifyFile(auditPath_).openIntents.empty());
}

TEST_F(PassTest, AListingThatFailsPartWayActsOnNothing) {
  salesforce::Page page;
  page.jobs = {job("750R00000000001AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z")};
  org_.pages = {page};
  org_.listErrorAfterPages = ApiError{ApiError::Kind::Transient, 503, "SERVER_UNAVAILABLE", "busy"};
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  auto s = run({&p});
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.listingComplete);
  EXPECT_TRUE(org_.actions.empty());
  EXPECT_TRUE(records("intent").empty());
  EXPECT_TRUE(records("decision").empty());
  auto end = records("run-end");
  ASSERT_EQ(end.size(), 1u);
  EXPECT_FALSE(end[0]->getValue<bool>("listing_complete"));
  EXPECT_NE(end[0]->getValue<std::string>("error").find("SERVER_UNAVAILABLE"), std::string::npos);
}

TEST_F(PassTest, DryRunRecordsDecisionsAndSendsNothing) {
  salesforce::Page page;
  page.jobs = {job("750R00000000001AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z")};
  org_.pages = {page};
  auto enforce = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  auto s = run({&enforce}, /*dryRun=*/true);
  EXPECT_TRUE(org_.actions.empty());
  EXPECT_EQ(s.outcomes[Outcome::Recorded], 1);
  auto d = records("decision");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0]->getValue<std::string>("mode"), "dry-run");
  EXPECT_TRUE(records("intent").empty());
}

TEST_F(PassTest, APolicyInDryRunModeSendsNothingEvenWhenOthersEnforce) {
  salesforce::Page page;
  page.jobs = {job("750R00000000001AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z")};
  org_.pages = {page};
  auto shadow =
      statePolicy("shadow", {JobState::InProgress}, policy::Action::Abort, policy::Mode::DryRun);
  run({&shadow});
  EXPECT_TRUE(org_.actions.empty());
  EXPECT_EQ(records("decision")[0]->getValue<std::string>("mode"), "dry-run");
}

TEST_F(PassTest, OutcomesAreMappedFromSalesforceAnswers) {
  salesforce::Page page;
  page.jobs = {job("750R00000000001AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z"),
               job("750R00000000002AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z"),
               job("750R00000000003AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z"),
               job("750R00000000004AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z")};
  org_.pages = {page};
  org_.actionErrors["750R00000000001AAA"] =
      ApiError{ApiError::Kind::InvalidState, 400, "INVALIDJOBSTATE",
               "Aborting already Completed Job not allowed"};
  org_.actionErrors["750R00000000002AAA"] =
      ApiError{ApiError::Kind::NotFound, 404, "NOT_FOUND", "The requested resource does not exist"};
  ApiError reset{ApiError::Kind::Transient, 0, "", "connection reset by peer"};
  reset.sent = true;
  org_.actionErrors["750R00000000003AAA"] = reset;
  // INVALIDJOBSTATE is read back: the job finished first.
  org_.gets.emplace("750R00000000001AAA",
                    job("750R00000000001AAA", JobState::JobComplete, "2026-11-29T10:00:00.000Z"));
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  auto s = run({&p});
  EXPECT_EQ(s.outcomes[Outcome::AlreadyTerminal], 1);
  EXPECT_EQ(s.outcomes[Outcome::NotFound], 1);
  EXPECT_EQ(s.outcomes[Outcome::Unknown], 1);
  EXPECT_EQ(s.outcomes[Outcome::Applied], 1);
  std::map<std::string, std::string> byJob;
  for (auto& r : records("result")) {
    byJob[r->getObject("job")->getValue<std::string>("id")] = r->getValue<std::string>("outcome");
  }
  EXPECT_EQ(byJob["750R00000000001AAA"], "already-terminal");
  EXPECT_EQ(byJob["750R00000000002AAA"], "not-found");
  EXPECT_EQ(byJob["750R00000000003AAA"], "unknown");
  EXPECT_EQ(byJob["750R00000000004AAA"], "applied");
  auto alreadyTerminal = records("result");
  for (auto& r : alreadyTerminal) {
    if (r->getValue<std::string>("outcome") == "already-terminal") {
      EXPECT_EQ(r->getObject("error")->getValue<std::string>("code"), "INVALIDJOBSTATE");
      EXPECT_EQ(r->getValue<int>("http"), 400);
    }
  }
}

// docs/reliability.md C7: the connection resets after the request went out. A GET settles what
// happened; the action is sent again only when the GET shows it was not applied (job 2, still
// running: retried up to RetryOptions::maxAttempts, each time read back first).
TEST_F(PassTest, AnUnknownOutcomeIsSettledByReadingTheJob) {
  salesforce::Page page;
  page.jobs = {job("750R00000000001AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z"),
               job("750R00000000002AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z"),
               job("750R00000000003AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z")};
  org_.pages = {page};
  ApiError reset{ApiError::Kind::Transient, 0, "", "Connection reset by peer"};
  reset.sent = true;
  for (const auto& j : page.jobs) org_.actionErrors[j.id] = reset;
  org_.gets.emplace("750R00000000001AAA",
                    job("750R00000000001AAA", JobState::Aborted, "2026-11-29T10:00:00.000Z"));
  org_.gets.emplace("750R00000000002AAA",
                    job("750R00000000002AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z"));
  // 3: the GET fails too: the outcome stays unknown.
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  auto s = run({&p});
  // Jobs 1 and 3: one request each (applied, or no way to know). Job 2: 6 attempts, each read
  // back after its reset.
  EXPECT_EQ(org_.actions.size(), 8u);
  EXPECT_EQ(std::count(org_.actions.begin(), org_.actions.end(), "abort:750R00000000002AAA"), 6);
  EXPECT_EQ(org_.getCalls, 8);
  std::map<std::string, Poco::JSON::Object::Ptr> byJob;
  for (auto& r : records("result")) byJob[r->getObject("job")->getValue<std::string>("id")] = r;
  EXPECT_EQ(byJob["750R00000000001AAA"]->getValue<std::string>("outcome"), "applied");
  EXPECT_EQ(byJob["750R00000000001AAA"]->getValue<std::string>("settled_by"), "get");
  EXPECT_EQ(byJob["750R00000000001AAA"]->getValue<std::string>("observed_state"), "Aborted");
  EXPECT_EQ(byJob["750R00000000002AAA"]->getValue<std::string>("outcome"), "failed");
  EXPECT_EQ(byJob["750R00000000003AAA"]->getValue<std::string>("outcome"), "unknown");
  EXPECT_EQ(s.outcomes[Outcome::Applied], 1);
}

TEST_F(PassTest, AnExpiredSessionStopsThePassAfterOneRefusedCall) {
  salesforce::Page page;
  for (int i = 0; i < 20; ++i) {
    page.jobs.push_back(job("750R000000000" + std::to_string(10 + i) + "AAA", JobState::InProgress,
                            "2026-11-29T10:00:00.000Z"));
  }
  org_.pages = {page};
  for (auto& j : page.jobs) {
    org_.actionErrors[j.id] = ApiError{ApiError::Kind::Unauthorized, 401, "INVALID_SESSION_ID",
                                       "Session expired or invalid"};
  }
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  auto s = run({&p}, false, /*concurrency=*/1);
  EXPECT_EQ(org_.actions.size(), 1u);
  EXPECT_EQ(s.outcomes[Outcome::Failed], 1);
  EXPECT_EQ(s.outcomes[Outcome::NotStarted], 19);
  // The intent of the next action was written a round (one action) ahead: its result says it
  // was never sent.
  EXPECT_EQ(records("intent").size(), 2u);
  auto results = records("result");
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0]->getValue<std::string>("outcome"), "failed");
  EXPECT_EQ(results[1]->getValue<std::string>("outcome"), "not-started");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.unauthorized);
  EXPECT_FALSE(s.limitExceeded) << "a 401 is reported as a limit";
}

TEST_F(PassTest, TwoPoliciesMatchingOneJobGiveOneActionAndSayWhichWon) {
  salesforce::Page page;
  page.jobs = {job("750R00000000001AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z")};
  org_.pages = {page};
  auto first = statePolicy("first", {JobState::InProgress}, policy::Action::Abort);
  auto second = statePolicy("second", {JobState::InProgress}, policy::Action::Abort);
  auto report = statePolicy("watch", {JobState::InProgress}, policy::Action::Report);
  auto s = run({&first, &second, &report});
  EXPECT_EQ(org_.actions.size(), 1u);
  EXPECT_EQ(s.matched, 2);  // the winning abort and the report
  auto d = records("decision");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0]->getValue<std::string>("policy"), "first");
  EXPECT_EQ(d[0]->getValue<std::string>("also_matched"), "second");
  EXPECT_EQ(d[1]->getValue<std::string>("policy"), "watch");
}

// An audit sink whose intents fail: the action they announce must not be sent.
class FailingIntents : public audit::AuditSink {
 public:
  uint64_t append(std::string_view type, std::string_view, const audit::Fields&, Sync) override {
    if (type == "intent") throw audit::AuditError("No space left on device");
    return ++seq_;
  }
  void sync() override {}

 private:
  uint64_t seq_ = 0;
};

TEST_F(PassTest, NoActionWithoutItsAuditRecord) {
  salesforce::Page page;
  page.jobs = {job("750R00000000001AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z"),
               job("750R00000000002AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z")};
  org_.pages = {page};
  org_.auditPath.clear();
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  FailingIntents failing;
  PassOptions o;
  o.org = "acme";
  o.policies = {&p};
  o.runId = "r";
  Pass pass(o, org_, failing, clock_, stop_);
  auto s = pass.run();
  EXPECT_TRUE(org_.actions.empty());
  ASSERT_TRUE(s.auditError.has_value());
  EXPECT_NE(s.auditError->find("No space"), std::string::npos);
  EXPECT_EQ(s.outcomes[Outcome::NotStarted], 2);
}

TEST_F(PassTest, AStopRequestStartsNoNewAction) {
  salesforce::Page page;
  page.jobs = {job("750R00000000001AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z")};
  org_.pages = {page};
  stop_.request();
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  auto s = run({&p});
  EXPECT_TRUE(org_.actions.empty());
  EXPECT_TRUE(s.stopped);
  EXPECT_EQ(s.outcomes[Outcome::NotStarted], 1);
}

TEST_F(PassTest, ConcurrencyIsBounded) {
  org_.pages = {inProgressPage(24)};
  org_.actionDelay = std::chrono::milliseconds(15);
  org_.auditPath.clear();
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  auto s = run({&p}, false, /*concurrency=*/4);
  EXPECT_EQ(s.outcomes[Outcome::Applied], 24);
  EXPECT_LE(org_.maxInFlight, 4);
  EXPECT_GE(org_.maxInFlight, 2);  // and actually concurrent
}

TEST_F(PassTest, IntentsAreWrittenARoundAhead) {
  org_.pages = {inProgressPage(12)};
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  auto s = run({&p}, false, /*concurrency=*/4);
  EXPECT_EQ(s.outcomes[Outcome::Applied], 12);
  EXPECT_TRUE(org_.intentMissing.empty());
  ASSERT_EQ(org_.intentsAtAction.size(), 12u);
  // Whoever wrote the first intent wrote the next round's with it.
  EXPECT_GE(*std::min_element(org_.intentsAtAction.begin(), org_.intentsAtAction.end()), 4);
  EXPECT_TRUE(audit::verifyFile(auditPath_).openIntents.empty());
}

TEST_F(PassTest, AStopMidPassGivesEveryIntentWrittenAheadAResult) {
  org_.pages = {inProgressPage(24)};
  org_.actionDelay = std::chrono::milliseconds(5);
  org_.onAction = [this] { stop_.request(); };  // SIGTERM as the first request goes out
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  auto s = run({&p}, false, /*concurrency=*/4);
  EXPECT_TRUE(s.stopped);
  size_t sent = org_.actions.size();
  EXPECT_GE(sent, 1u);
  EXPECT_LT(sent, 24u);
  auto intents = records("intent");
  auto results = records("result");
  ASSERT_EQ(results.size(), intents.size());  // every intent has its result
  EXPECT_GE(intents.size(), sent);
  size_t notStarted = 0;
  std::set<int64_t> answered;
  for (auto& r : results) {
    answered.insert(r->getValue<int64_t>("intent"));
    auto outcome = r->getValue<std::string>("outcome");
    if (outcome == "not-started") {
      ++notStarted;
    } else {
      EXPECT_EQ(outcome, "applied");
    }
  }
  EXPECT_EQ(answered.size(), intents.size());
  EXPECT_EQ(notStarted, intents.size() - sent);  // written ahead, never sent, and said so
  EXPECT_EQ(s.outcomes[Outcome::NotStarted], static_cast<int>(24 - sent));
  auto verified = audit::verifyFile(auditPath_);
  EXPECT_TRUE(verified.ok);
  EXPECT_TRUE(verified.openIntents.empty());
}

// --- Gates: exemptions, limits, windows, in-state-for, deadline crossings, rate -------------

policy::Filter inStateFor(model::Duration age) {
  policy::Filter f;
  f.kind = policy::Filter::Kind::InStateFor;
  f.age = age;
  return f;
}

TEST_F(PassTest, ExemptJobsAreRecordedWithTheirReasonAndNotActedOn) {
  salesforce::Page page;
  page.jobs = {job("750R00000000001AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z"),
               job("750R00000000002AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z"),
               job("750R00000000003AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z")};
  page.jobs[2].object = "Contact";
  org_.pages = {page};
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  policy::Exemption byId;
  byId.by = policy::Exemption::By::Job;
  byId.value = "750R00000000001AAA";
  byId.reason = "nightly export";
  policy::Exemption expired;
  expired.by = policy::Exemption::By::Object;
  expired.value = "Contact";
  expired.until = t("2026-11-29T11:00:00Z");  // before the clock's noon: no longer applies
  p.exempt = {byId, expired};
  auto s = run({&p});
  EXPECT_EQ(s.held, 1);
  EXPECT_EQ(s.acted, 2);
  std::set<std::string> acted(org_.actions.begin(), org_.actions.end());
  EXPECT_EQ(acted, (std::set<std::string>{"abort:750R00000000002AAA", "abort:750R00000000003AAA"}));
  EXPECT_EQ(records("decision").size(), 2u);  // the two acted on
  auto held = records("held");
  ASSERT_EQ(held.size(), 1u);
  EXPECT_NE(held[0]->getValue<std::string>("reason").find("nightly export"), std::string::npos);
  EXPECT_EQ(held[0]->getValue<int>("count"), 1);
  EXPECT_EQ(held[0]->getArray("ids")->getElement<std::string>(0), "750R00000000001AAA");
}

TEST_F(PassTest, AnExemptionInTheWinningPolicyLeavesTheJobToTheNext) {
  salesforce::Page page;
  page.jobs = {job("750R00000000001AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z")};
  org_.pages = {page};
  auto first = statePolicy("abort-a", {JobState::InProgress}, policy::Action::Abort);
  policy::Exemption ex;
  ex.by = policy::Exemption::By::CreatedById;
  ex.value = "005R0000000GiwjIAC";
  first.exempt = {ex};
  auto second = statePolicy("abort-b", {JobState::InProgress}, policy::Action::Abort);
  auto s = run({&first, &second});
  EXPECT_EQ(s.acted, 1);
  ASSERT_EQ(pass_->decisions().size(), 2u);
  EXPECT_EQ(pass_->decisions()[1].policy->name, "abort-b");
  EXPECT_EQ(pass_->decisions()[1].outcome, Outcome::Applied);
}

TEST_F(PassTest, OverMaxActionsThePolicyActsOnNothingAndSaysWhy) {
  salesforce::Page page;
  for (int i = 0; i < 5; ++i) {
    page.jobs.push_back(job(fmt::format("750R0000000000{}AAA", i), JobState::InProgress,
                            "2026-11-29T10:00:00.000Z"));
  }
  org_.pages = {page};
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  p.limits.maxActions = 4;
  auto s = run({&p});
  EXPECT_EQ(s.acted, 0);
  EXPECT_TRUE(org_.actions.empty());
  EXPECT_EQ(s.held, 5);
  ASSERT_EQ(s.limited.size(), 1u);
  EXPECT_NE(s.limited[0].find("5 matches > max-actions 4"), std::string::npos);
  auto limits = records("limit");
  ASSERT_EQ(limits.size(), 1u);
  EXPECT_EQ(limits[0]->getValue<std::string>("policy"), "abort-running");
  EXPECT_TRUE(records("decision").empty());  // held in bulk: one `held` record, not five
  auto held = records("held");
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0]->getValue<int>("count"), 5);
  EXPECT_EQ(held[0]->getArray("ids")->size(), 5u);
  EXPECT_FALSE(held[0]->has("ids_omitted"));
}

TEST_F(PassTest, OverMaxPercentThePolicyActsOnNothing) {
  salesforce::Page page;
  for (int i = 0; i < 10; ++i) {
    page.jobs.push_back(job(fmt::format("750R0000000000{}AAA", i),
                            i < 3 ? JobState::InProgress : JobState::JobComplete,
                            "2026-11-29T10:00:00.000Z"));
  }
  org_.pages = {page};
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  p.limits.maxPercent = 25;  // 3 of 10 = 30% > 25%
  auto s = run({&p});
  EXPECT_EQ(s.acted, 0);
  ASSERT_EQ(s.limited.size(), 1u);
  EXPECT_NE(s.limited[0].find("max-percent"), std::string::npos);
  p.limits.maxPercent = 30;  // 30% is not over 30%
  org_.actions.clear();
  auto s2 = run({&p});
  EXPECT_EQ(s2.acted, 3);
}

// Cap mode: 70 matches, max-actions 50, on-limit: cap -> the 50 oldest (by createdDate, whatever
// the listing order) are acted on, the 20 newest are held as deferred in one `held` record.
TEST_F(PassTest, OnLimitCapActsOnTheOldestAndDefersTheRest) {
  salesforce::Page page;
  std::set<std::string> oldest;
  for (int k = 0; k < 70; ++k) {
    int i = (k * 37) % 70;  // listed out of age order
    std::string id = fmt::format("750R00000000{:02}AAA", i);
    page.jobs.push_back(
        job(id, JobState::InProgress,
            fmt::format("2026-11-29T{:02}:{:02}:00.000Z", 10 + i / 60, i % 60).c_str()));
    if (i < 50) oldest.insert("abort:" + id);
  }
  org_.pages = {page};
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  p.limits.maxActions = 50;
  p.limits.onLimit = policy::Limits::OnLimit::Cap;
  auto s = run({&p});
  EXPECT_EQ(s.acted, 50);
  EXPECT_EQ(s.held, 20);
  std::set<std::string> acted(org_.actions.begin(), org_.actions.end());
  EXPECT_EQ(acted, oldest);
  ASSERT_EQ(s.limited.size(), 1u);
  EXPECT_NE(s.limited[0].find("70 matches > max-actions 50"), std::string::npos);
  auto held = records("held");
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0]->getValue<int>("count"), 20);
  EXPECT_NE(held[0]->getValue<std::string>("reason").find("deferred by on-limit: cap"),
            std::string::npos);
  auto limits = records("limit");
  ASSERT_EQ(limits.size(), 1u);
  EXPECT_EQ(limits[0]->getValue<int>("acting"), 50);

  // hold (the default) is unchanged: over the limit, nothing.
  p.limits.onLimit = policy::Limits::OnLimit::Hold;
  org_.actions.clear();
  auto s2 = run({&p});
  EXPECT_EQ(s2.acted, 0);
  EXPECT_EQ(s2.held, 70);
  EXPECT_TRUE(org_.actions.empty());
}

TEST_F(PassTest, OnLimitCapConvertsMaxPercentToACountOfTheListedJobs) {
  salesforce::Page page;
  for (int i = 0; i < 20; ++i) {
    page.jobs.push_back(job(fmt::format("750R00000000{:02}AAA", i),
                            i < 8 ? JobState::InProgress : JobState::JobComplete,
                            fmt::format("2026-11-29T10:{:02}:00.000Z", 59 - i).c_str()));
  }
  org_.pages = {page};
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  p.limits.maxPercent = 25;  // 8 of 20 = 40% > 25%: cap at 5 of the 20 listed
  p.limits.onLimit = policy::Limits::OnLimit::Cap;
  auto s = run({&p});
  EXPECT_EQ(s.acted, 5);
  EXPECT_EQ(s.held, 3);
  std::set<std::string> acted(org_.actions.begin(), org_.actions.end());
  // The oldest of the eight are the last listed (ids 03..07).
  std::set<std::string> want;
  for (int i = 3; i < 8; ++i) want.insert(fmt::format("abort:750R00000000{:02}AAA", i));
  EXPECT_EQ(acted, want);
}

TEST_F(PassTest, OutsideItsWindowsAPolicyRecordsAndHoldsBack) {
  salesforce::Page page;
  page.jobs = {job("750R00000000001AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z")};
  org_.pages = {page};
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  policy::Window w;
  w.days = *policy::parseDays("mon-fri");  // the clock says Sunday
  w.from = 0;
  w.to = 24 * 60;
  p.windows.allow.push_back(w);
  auto s = run({&p});
  EXPECT_EQ(s.acted, 0);
  EXPECT_EQ(s.held, 1);
  EXPECT_EQ(pass_->decisions()[0].held, "outside the policy's windows");
}

TEST_F(PassTest, InStateForCountsFromTheFirstSightingInTheCurrentState) {
  state::MemoryStateStore store;
  state_ = &store;
  salesforce::Page page;
  page.jobs = {job("750R00000000001AAA", JobState::InProgress, "2026-11-01T00:00:00.000Z")};
  org_.pages = {page};
  auto p = statePolicy("abort-stuck", {JobState::InProgress}, policy::Action::Abort);
  p.filter.children.push_back(inStateFor(std::chrono::minutes(30)));
  clock_.set(t("2026-11-29T12:00:00Z"));
  EXPECT_EQ(run({&p}).acted, 0);  // first seen now, however old the job
  clock_.set(t("2026-11-29T12:30:00Z"));
  EXPECT_EQ(run({&p}).acted, 0);  // exactly 30m: not more than
  clock_.set(t("2026-11-29T12:31:00Z"));
  auto s = run({&p});
  EXPECT_EQ(s.acted, 1);
  EXPECT_NE(pass_->decisions()[0].reason.find("in state InProgress for 31m"), std::string::npos)
      << pass_->decisions()[0].reason;
}

TEST_F(PassTest, FirstSightingsAreRecordedOnlyForPoliciesThatUseInStateFor) {
  state::MemoryStateStore store;
  state_ = &store;
  salesforce::Page page;
  page.jobs = {job("750R00000000001AAA", JobState::InProgress, "2026-11-01T00:00:00.000Z"),
               job("750R00000000002AAA", JobState::JobComplete, "2026-11-01T00:00:00.000Z")};
  org_.pages = {page};
  auto plain = statePolicy("abort-stuck", {JobState::InProgress}, policy::Action::Abort,
                           policy::Mode::DryRun);
  EXPECT_EQ(run({&plain}).matched, 1);
  EXPECT_EQ(store.jobCount(), 0u);  // nothing reads them: no write per listed job

  auto timed = statePolicy("abort-long-in-state", {JobState::InProgress}, policy::Action::Abort,
                           policy::Mode::DryRun);
  timed.filter.children.push_back(inStateFor(std::chrono::minutes(30)));
  run({&plain, &timed});
  EXPECT_EQ(store.jobCount(), 2u);  // every listed job, in whatever state
}

TEST_F(PassTest, AJobCrossingAThresholdBeforeTheNextPassIsReported) {
  salesforce::Page page;
  page.jobs = {job("750R00000000001AAA", JobState::InProgress, "2026-11-29T11:40:00.000Z"),
               job("750R00000000002AAA", JobState::InProgress, "2026-11-29T11:50:00.000Z"),
               job("750R00000000003AAA", JobState::JobComplete, "2026-11-29T11:00:00.000Z")};
  org_.pages = {page};
  auto p = statePolicy("abort-stuck", {JobState::InProgress}, policy::Action::Abort);
  policy::Filter older;
  older.kind = policy::Filter::Kind::OlderThan;
  older.age = std::chrono::minutes(30);
  p.filter.children.push_back(older);
  nextPass_ = {{"abort-stuck", t("2026-11-29T13:00:00Z")}};
  auto s = run({&p});
  EXPECT_EQ(s.acted, 0);
  ASSERT_EQ(s.crossings.count("abort-stuck"), 1u);
  // The earliest: job 1 is 30m old at 12:10, older than 30m one millisecond later.
  EXPECT_EQ(model::formatRfc3339(s.crossings["abort-stuck"]), "2026-11-29T12:10:00.001Z");
  nextPass_ = {{"abort-stuck", t("2026-11-29T12:05:00Z")}};  // a pass comes first: nothing
  EXPECT_EQ(run({&p}).crossings.count("abort-stuck"), 0u);
}

TEST_F(PassTest, TheActionRateIsCappedPerOrg) {
  testing::ManualClock fake;
  RateLimiter limiter(60, 2, fake);  // 1 a second, 2 saved up
  EXPECT_EQ(limiter.reserve(), model::Duration::zero());
  EXPECT_EQ(limiter.reserve(), model::Duration::zero());
  EXPECT_EQ(limiter.reserve(), model::Duration(1000));
  EXPECT_EQ(limiter.reserve(), model::Duration(2000));
  fake.advance(std::chrono::seconds(10));  // refills, but never above the burst
  EXPECT_EQ(limiter.reserve(), model::Duration::zero());
  // In a pass: 3 actions at 600/minute with a burst of 1 wait 100 ms before the second and
  // 100 ms before the third, on the clock (which the waits move).
  salesforce::Page page;
  for (int i = 0; i < 3; ++i) {
    page.jobs.push_back(job(fmt::format("750R0000000000{}AAA", i), JobState::InProgress,
                            "2026-11-29T10:00:00.000Z"));
  }
  org_.pages = {page};
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  RateLimiter capped(600, 1, clock_);
  rate_ = &capped;
  clock_.sleepMode(testing::ManualClock::SleepMode::Advance);
  const auto started = clock_.now();
  EXPECT_EQ(run({&p}, false, 1).acted, 3);
  EXPECT_EQ(waits_,
            (std::vector<std::chrono::milliseconds>{model::Duration(100), model::Duration(100)}));
  EXPECT_EQ(clock_.now() - started, model::Duration(200));
}

// SIGTERM while an action waits for its turn under the rate cap: the wait ends at once and the
// actions not yet sent are not sent.
TEST_F(PassTest, AStopRequestInterruptsTheRateCapWait) {
  salesforce::Page page;
  for (int i = 0; i < 2; ++i) {
    page.jobs.push_back(job(fmt::format("750R0000000000{}AAA", i), JobState::InProgress,
                            "2026-11-29T10:00:00.000Z"));
  }
  org_.pages = {page};
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  RateLimiter capped(1, 1, clock_);  // one a minute: the second action waits a minute
  rate_ = &capped;
  clock_.sleepMode(testing::ManualClock::SleepMode::Block);  // only a stop ends the wait
  std::thread stopper([this] {
    EXPECT_TRUE(testing::eventually([this] { return clock_.sleepers() == 1; }));
    stop_.request();
  });
  auto s = run({&p}, false, 1);
  stopper.join();
  EXPECT_EQ(s.acted, 1);
  EXPECT_EQ(org_.actions.size(), 1u);
  ASSERT_EQ(waits_.size(), 1u);
  EXPECT_EQ(waits_[0], std::chrono::minutes(1));
}

// --- Listings that repeat jobs, or list too many (issue 11, items 5 and 11) -------------------

std::multiset<std::string> actedOn(const ScriptedJobs& org) {
  return std::multiset<std::string>(org.actions.begin(), org.actions.end());
}

TEST_F(PassTest, AJobListedTwiceOnAPageOrAgainOnALaterPageIsActedOnOnce) {
  auto a = job("750R00000000001AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z");
  auto b = job("750R00000000002AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z");
  auto c = job("750R00000000003AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z");
  salesforce::Page first;
  first.jobs = {a, b, a, a};
  salesforce::Page second;  // offset paging over a changing org repeats jobs of earlier pages
  second.jobs = {b, c, a};
  org_.pages = {first, second};
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  auto s = run({&p});
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(actedOn(org_),
            (std::multiset<std::string>{"abort:750R00000000001AAA", "abort:750R00000000002AAA",
                                        "abort:750R00000000003AAA"}));
  EXPECT_EQ(s.jobsSeen, 3);
  EXPECT_EQ(s.duplicates, 4);
  EXPECT_EQ(s.matched, 3);
  EXPECT_EQ(records("decision").size(), 3u);
  EXPECT_EQ(records("intent").size(), 3u);
  auto end = records("run-end");
  ASSERT_EQ(end.size(), 1u);
  EXPECT_EQ(end[0]->getValue<int>("jobs_seen"), 3);
  EXPECT_EQ(end[0]->getValue<int>("duplicates"), 4);
}

TEST_F(PassTest, ADuplicateCountsOnceForMaxPercent) {
  // 3 matching jobs of 10: 30%, not over max-percent 30. Listed twice, they would be 6 of 13.
  salesforce::Page page;
  for (int i = 0; i < 10; ++i) {
    page.jobs.push_back(job(fmt::format("750R0000000000{}AAA", i),
                            i < 3 ? JobState::InProgress : JobState::JobComplete,
                            "2026-11-29T10:00:00.000Z"));
  }
  salesforce::Page again;
  again.jobs = {page.jobs[0], page.jobs[1], page.jobs[2]};
  org_.pages = {page, again};
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  p.limits.maxPercent = 30;
  auto s = run({&p});
  EXPECT_TRUE(s.limited.empty()) << s.limited[0];
  EXPECT_EQ(s.jobsSeen, 10);
  EXPECT_EQ(s.acted, 3);
  EXPECT_EQ(actedOn(org_).size(), 3u);
  // And max-actions counts each job once too.
  org_.actions.clear();
  p.limits = {};
  p.limits.maxActions = 3;
  EXPECT_EQ(run({&p}).acted, 3);
}

// Offset paging repeats a job that changed during the listing (BULK_API item 12): which record is
// current is unknown, so that job is held back this pass; the listing stands and the other jobs
// are acted on.
TEST_F(PassTest, ADuplicateWithOtherFieldsIsHeldBackAndTheOthersAreActedOn) {
  auto running = job("750R00000000001AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z");
  auto other = job("750R00000000002AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z");
  struct Case {
    const char* what;
    model::Job again;
  };
  std::vector<Case> cases;
  auto finished = running;
  finished.state = JobState::JobComplete;
  cases.push_back({"state", finished});
  auto renamed = running;
  renamed.object = "Contact";
  cases.push_back({"object", renamed});
  auto touched = running;
  touched.systemModstamp += std::chrono::seconds(1);
  cases.push_back({"systemModstamp", touched});
  auto shortForm = running;  // the 15-character form of the same id, other fields equal
  shortForm.id = "750R00000000001";
  cases.push_back({"id form", shortForm});
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    salesforce::Page first;
    first.jobs = {running, other};
    salesforce::Page second;
    second.jobs = {c.again};
    org_.pages = {first, second};
    org_.actions.clear();
    auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
    auto s = run({&p});
    EXPECT_TRUE(s.listingComplete);
    EXPECT_FALSE(s.listingError.has_value());
    EXPECT_EQ(s.changedWhileListed, 1);
    EXPECT_EQ(s.jobsSeen, 2);
    EXPECT_EQ(actedOn(org_), std::multiset<std::string>{"abort:" + other.id})
        << "the others are acted on";
    EXPECT_EQ(s.held, 1);
  }
  auto held = records("held");
  ASSERT_EQ(held.size(), 4u);  // one per case
  for (const auto& h : held) {
    EXPECT_NE(h->getValue<std::string>("reason").find("listed twice with different fields"),
              std::string::npos);
    EXPECT_EQ(h->getArray("ids")->getElement<std::string>(0), running.id);
  }
  EXPECT_EQ(records("intent").size(), 4u);  // `other`, once per case
  // The same page repeating a job with another state: the same.
  salesforce::Page one;
  one.jobs = {running, other, finished};
  org_.pages = {one};
  org_.actions.clear();
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  auto s = run({&p});
  EXPECT_TRUE(s.listingComplete);
  EXPECT_EQ(actedOn(org_), std::multiset<std::string>{"abort:" + other.id});
}

TEST_F(PassTest, AListingOverTheCapStopsListingAndActsOnNothing) {
  maxJobs_ = 25;
  org_.pages.clear();
  for (int n = 0; n < 6; ++n) {
    salesforce::Page page;
    for (int i = 0; i < 10; ++i) {
      page.jobs.push_back(job(fmt::format("750R000000{:02d}{:02d}AAA", n, i), JobState::InProgress,
                              "2026-11-29T10:00:00.000Z"));
    }
    org_.pages.push_back(page);
  }
  auto p = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  auto s = run({&p});
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.listingComplete);
  EXPECT_EQ(s.pages, 3);  // the third page went over: no page after it was read
  ASSERT_TRUE(s.listingError.has_value());
  EXPECT_NE(s.listingError->message.find("more than 25 jobs (max-jobs-per-listing)"),
            std::string::npos)
      << s.listingError->message;
  EXPECT_TRUE(org_.actions.empty());
  EXPECT_TRUE(records("decision").empty());
  EXPECT_TRUE(records("held").empty());
  auto end = records("run-end");
  ASSERT_EQ(end.size(), 1u);
  EXPECT_FALSE(end[0]->getValue<bool>("listing_complete"));
  EXPECT_NE(end[0]->getValue<std::string>("error").find("max-jobs-per-listing"), std::string::npos);
  // At the cap exactly, the pass acts; repeats do not count towards it.
  maxJobs_ = 60;
  org_.pages.push_back(org_.pages[0]);
  auto full = run({&p});
  EXPECT_TRUE(full.ok());
  EXPECT_EQ(full.jobsSeen, 60);
  EXPECT_EQ(full.acted, 60);
}

TEST_F(PassTest, JobsHeldBackInBulkGetOneSummaryRecordNotOneEach) {
  org_.pages = {inProgressPage(1000)};
  auto limited = statePolicy("abort-running", {JobState::InProgress}, policy::Action::Abort);
  limited.limits.maxActions = 10;
  auto watch = statePolicy("watch", {JobState::InProgress}, policy::Action::Report);
  policy::Window w;
  w.days = *policy::parseDays("mon-fri");  // the clock says Sunday
  w.from = 0;
  w.to = 24 * 60;
  watch.windows.allow.push_back(w);
  auto s = run({&limited, &watch});
  EXPECT_TRUE(org_.actions.empty());
  EXPECT_EQ(s.held, 2000);
  EXPECT_EQ(s.matched, 2000);
  EXPECT_EQ(s.outcomes[Outcome::Held], 2000);
  EXPECT_TRUE(records("decision").empty());
  auto held = records("held");
  ASSERT_EQ(held.size(), 2u);
  std::map<std::string, Poco::JSON::Object::Ptr> byPolicy;
  for (auto& h : held) byPolicy[h->getValue<std::string>("policy")] = h;
  auto& overLimit = byPolicy.at("abort-running");
  EXPECT_EQ(overLimit->getValue<std::string>("org"), "acme");
  EXPECT_EQ(overLimit->getValue<std::string>("action"), "abort");
  EXPECT_EQ(overLimit->getValue<std::string>("mode"), "enforce");
  EXPECT_EQ(overLimit->getValue<std::string>("reason"),
            "over its limit: 1000 matches > max-actions 10");
  EXPECT_EQ(overLimit->getValue<int>("count"), 1000);
  auto ids = overLimit->getArray("ids");
  ASSERT_EQ(ids->size(), kHeldIdsShown);
  EXPECT_EQ(ids->getElement<std::string>(0), "750R00000000000AAA");  // the first listed
  EXPECT_EQ(ids->getElement<std::string>(19), "750R00000000019AAA");
  EXPECT_EQ(overLimit->getValue<int>("ids_omitted"), 980);
  auto& closed = byPolicy.at("watch");
  EXPECT_EQ(closed->getValue<std::string>("reason"), "outside the policy's windows");
  EXPECT_EQ(closed->getValue<int>("count"), 1000);
  // The trail stays small: a few records, not one per held job.
  EXPECT_LT(fs::file_size(auditPath_), 16u * 1024);
  EXPECT_TRUE(audit::verifyFile(auditPath_).ok);
  // `plan` still sees every held decision.
  EXPECT_EQ(pass_->decisions().size(), 2000u);
}

// A filter that cannot be decided (here a regex that cannot run, under `not`) never acts: the
// job is recorded as held with the reason, and another policy may still act on it.
TEST_F(PassTest, AnUndecidedFilterHoldsTheJobBackWithItsReason) {
  salesforce::Page page;
  page.jobs = {job("750R00000000001AAA", JobState::InProgress, "2026-11-29T10:00:00.000Z")};
  org_.pages = {page};
  auto p = statePolicy("abort-unless-ab", {JobState::InProgress}, policy::Action::Abort);
  policy::Filter re;
  re.kind = policy::Filter::Kind::Field;
  re.field = model::JobField::Object;
  re.op = policy::Op::Regex;
  re.values = {"^(a|b)*$"};
  re.regex = std::make_shared<const policy::Regex>("^(a|b)*$", 64);  // too little memory to run
  policy::Filter notRe;
  notRe.kind = policy::Filter::Kind::Not;
  notRe.children = {re};
  p.filter.children.push_back(notRe);
  auto s = run({&p});
  EXPECT_EQ(s.acted, 0);
  EXPECT_EQ(s.held, 1);
  EXPECT_TRUE(org_.actions.empty());
  // Held back in bulk: one `held` summary record carries the reason and the job.
  auto h = records("held");
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0]->getValue<std::string>("reason").rfind(
                "undecided: could not decide object matches ^(a|b)*$", 0),
            0u)
      << h[0]->getValue<std::string>("reason");
  EXPECT_EQ(h[0]->getValue<int>("count"), 1);
  EXPECT_TRUE(records("decision").empty());
}

}  // namespace
}  // namespace bulkwarden::engine
