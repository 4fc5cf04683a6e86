// Follow-ups that cost one read (issue 15): the crossing jobs are read with one GET each and no
// listing, every policy rule is applied to the fresh record, and crossings within the precision
// are read together.
#include "JobFixtures.h"
#include "ManualClock.h"
#include "engine/FollowUp.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "ScriptedJobs.h"
#include "audit/AuditLog.h"
#include "engine/Pass.h"
#include "engine/Scheduler.h"

namespace bulkwarden::engine {
namespace {

namespace fs = std::filesystem;
using model::JobState;
using model::ResourceKind;
using salesforce::ApiError;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::ScriptedJobs;

using testing::t;

model::Job job(std::string id, JobState state, const char* created) {
  return testing::queryJob(std::move(id), state, created);
}

// Aborts InProgress query jobs older than 10 minutes.
policy::Policy stuckPolicy() {
  policy::Policy p;
  p.name = "abort-stuck";
  p.resource = ResourceKind::Query;
  p.action = policy::Action::Abort;
  p.mode = policy::Mode::Enforce;
  p.schedule.every = minutes(5);
  p.filter.kind = policy::Filter::Kind::All;
  policy::Filter state;
  state.kind = policy::Filter::Kind::State;
  state.stateMask = 1u << static_cast<int>(JobState::InProgress);
  p.filter.children.push_back(state);
  policy::Filter age;
  age.kind = policy::Filter::Kind::OlderThan;
  age.timeField = model::JobField::CreatedDate;
  age.age = minutes(10);
  p.filter.children.push_back(age);
  return p;
}

class FollowUpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-follow-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auditPath_ = (dir_ / "audit.jsonl").string();
    audit_ = std::make_unique<audit::AuditLog>(auditPath_);
    org_.auditPath = auditPath_;
  }
  void TearDown() override { fs::remove_all(dir_); }

  PassSummary followUp(std::vector<std::string> ids) {
    PassOptions o;
    o.org = "acme";
    o.resource = ResourceKind::Query;
    o.policies = {&policy_};
    o.concurrency = 4;
    o.runId = "follow-1";
    o.followUp = true;
    o.listedForLimits = 1000;
    reads_ = std::make_unique<FollowUpReads>(org_, std::move(ids), 4);
    pass_ = std::make_unique<Pass>(o, *reads_, *audit_, clock_, stop_);
    return pass_->run();
  }
  fs::path dir_;
  std::string auditPath_;
  std::unique_ptr<audit::AuditLog> audit_;
  ScriptedJobs org_;
  testing::ManualClock clock_{"2026-11-29T12:00:00Z"};
  model::StopSignal stop_;
  policy::Policy policy_ = stuckPolicy();
  std::unique_ptr<FollowUpReads> reads_;
  std::unique_ptr<Pass> pass_;
};

TEST_F(FollowUpTest, CostsOneGetPerCrossingJobAndNoListing) {
  // Crossed 10 minutes just now, and a second ago.
  org_.gets.emplace("750R00000000001AAA",
                    job("750R00000000001AAA", JobState::InProgress, "2026-11-29T11:49:59.999Z"));
  org_.gets.emplace("750R00000000002AAA",
                    job("750R00000000002AAA", JobState::InProgress, "2026-11-29T11:49:59.000Z"));
  auto s = followUp({"750R00000000001AAA", "750R00000000002AAA", "750R00000000001AAA"});
  EXPECT_EQ(org_.lists.load(), 0) << "a follow-up relisted the resource";
  EXPECT_EQ(org_.getCalls.load(), 2) << "one read per job, a job named twice read once";
  EXPECT_EQ(s.acted, 2);
  EXPECT_EQ(s.apiCalls, 4);  // two reads, two aborts
  EXPECT_EQ(org_.actions.size(), 2u);
  EXPECT_TRUE(org_.intentMissing.empty()) << "an action went out before its intent";
  audit_->sync();
  auto starts = testing::auditRecords(auditPath_, audit::RecordType::RunStart);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_TRUE(starts[0].object->optValue<bool>("follow_up", false));
  EXPECT_EQ(testing::auditRecords(auditPath_, audit::RecordType::RunEnd).size(), 1u);
}

TEST_F(FollowUpTest, AJobThatNoLongerMatchesOnItsFreshReadIsLeftAlone) {
  // It finished since the listing that reported the crossing; another one is gone (404).
  org_.gets.emplace("750R00000000001AAA",
                    job("750R00000000001AAA", JobState::JobComplete, "2026-11-29T11:40:00.000Z"));
  org_.gets.emplace("750R00000000002AAA",
                    ApiError{ApiError::Kind::NotFound, 404, "NOT_FOUND", "gone"});
  auto s = followUp({"750R00000000001AAA", "750R00000000002AAA"});
  EXPECT_TRUE(s.listingComplete);
  EXPECT_EQ(s.matched, 0);
  EXPECT_TRUE(org_.actions.empty());
}

TEST_F(FollowUpTest, AnExemptionOnTheFreshRecordHoldsTheJob) {
  policy::Exemption ex;
  ex.by = policy::Exemption::By::Job;
  ex.value = "750R00000000001AAA";
  ex.reason = "month-end load";
  policy_.exempt.push_back(ex);
  org_.gets.emplace("750R00000000001AAA",
                    job("750R00000000001AAA", JobState::InProgress, "2026-11-29T11:40:00.000Z"));
  auto s = followUp({"750R00000000001AAA"});
  EXPECT_EQ(s.held, 1);
  EXPECT_TRUE(org_.actions.empty());
}

// max-percent in a follow-up counts the last full listing's jobs (1000 here), not the three
// jobs read: for the over-limit test and for the size of the cap alike; the limit record says
// which count is which.
TEST_F(FollowUpTest, MaxPercentCapCountsTheLastFullListingNotTheReads) {
  policy_.limits.maxPercent = 0.2;  // 2 of 1000
  policy_.limits.onLimit = policy::Limits::OnLimit::Cap;
  const char* ids[] = {"750R00000000001AAA", "750R00000000002AAA", "750R00000000003AAA"};
  const char* created[] = {"2026-11-29T11:40:00.000Z", "2026-11-29T11:30:00.000Z",
                           "2026-11-29T11:45:00.000Z"};
  for (int i = 0; i < 3; ++i) {
    org_.gets.emplace(ids[i], job(ids[i], JobState::InProgress, created[i]));
  }
  auto s = followUp({ids[0], ids[1], ids[2]});
  EXPECT_EQ(s.matched, 3);
  EXPECT_EQ(s.acted, 2) << "the cap is 0.2% of the listing's 1000 jobs, not of the 3 read";
  EXPECT_EQ(s.held, 1);
  ASSERT_EQ(org_.actions.size(), 2u);
  std::set<std::string> acted;
  for (const auto& a : org_.actions) acted.insert(a);
  EXPECT_EQ(acted, (std::set<std::string>{std::string("abort:") + ids[0],
                                          std::string("abort:") + ids[1]}));  // the two oldest
  audit_->sync();
  auto limits = testing::auditRecords(auditPath_, audit::RecordType::Limit);
  ASSERT_EQ(limits.size(), 1u);
  EXPECT_EQ(limits[0].integer("jobs_seen"), 1000);
  EXPECT_EQ(limits[0].integer("jobs_read"), 3);
  EXPECT_EQ(limits[0].integer("acting"), 2);
  EXPECT_NE(limits[0].reason().find("3 matches of 1000 jobs listed in the last full listing"),
            std::string::npos)
      << limits[0].reason();
}

TEST_F(FollowUpTest, AFailedReadActsOnNothing) {
  org_.gets.emplace("750R00000000001AAA",
                    job("750R00000000001AAA", JobState::InProgress, "2026-11-29T11:40:00.000Z"));
  org_.gets.emplace("750R00000000002AAA",
                    ApiError{ApiError::Kind::Transient, 503, "", "unavailable"});
  auto s = followUp({"750R00000000001AAA", "750R00000000002AAA"});
  EXPECT_FALSE(s.listingComplete);
  EXPECT_TRUE(org_.actions.empty());
}

TEST(FollowUpTimetable, CrossingsWithinThePrecisionAreReadTogether) {
  auto p = stuckPolicy();
  Timetable table({&p}, {t("2026-11-29T12:00:00Z")}, t("2026-11-29T12:00:01Z"), seconds(1));
  ASSERT_EQ(table.next(0), t("2026-11-29T12:05:00Z"));
  table.crossing("abort-stuck", t("2026-11-29T12:01:00.200Z"), "A");
  table.crossing("abort-stuck", t("2026-11-29T12:01:00.900Z"), "B");
  table.crossing("abort-stuck", t("2026-11-29T12:01:03.000Z"), "C");
  // A and B together, when B has crossed; C later.
  EXPECT_EQ(table.followUp(0), t("2026-11-29T12:01:00.900Z"));
  EXPECT_TRUE(table.take(t("2026-11-29T12:01:00.500Z")).empty());
  auto due = table.take(t("2026-11-29T12:01:00.900Z"));
  ASSERT_EQ(due.followUps, std::vector<size_t>{0});
  EXPECT_EQ(due.followUpJobs[0], (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(table.followUp(0), t("2026-11-29T12:01:03.000Z"));
  auto later = table.take(t("2026-11-29T12:01:03.000Z"));
  EXPECT_EQ(later.followUpJobs[0], std::vector<std::string>{"C"});
  EXPECT_FALSE(table.followUp(0));
}

TEST(FollowUpTimetable, AScheduledPassClearsThePendingCrossings) {
  auto p = stuckPolicy();
  Timetable table({&p}, {t("2026-11-29T12:00:00Z")}, t("2026-11-29T12:00:01Z"), seconds(1));
  table.crossing("abort-stuck", t("2026-11-29T12:04:59.500Z"), "A");
  auto due = table.take(t("2026-11-29T12:05:00Z"));
  EXPECT_EQ(due.scheduled, std::vector<size_t>{0});
  EXPECT_TRUE(due.followUps.empty()) << "the scheduled pass lists A anyway";
  EXPECT_FALSE(table.followUp(0));
}

TEST(FollowUpTimetable, PendingCrossingsAreBounded) {
  auto p = stuckPolicy();
  Timetable table({&p}, {t("2026-11-29T12:00:00Z")}, t("2026-11-29T12:00:01Z"), seconds(1));
  auto base = t("2026-11-29T12:01:00Z");
  for (size_t i = 0; i < kCrossingJobsKept + 50; ++i) {
    table.crossing("abort-stuck", base + std::chrono::milliseconds(static_cast<int64_t>(i)),
                   std::to_string(i));
  }
  // A crossing earlier than all others still gets in; the latest is dropped.
  table.crossing("abort-stuck", base - seconds(1), "early");
  auto due = table.take(t("2026-11-29T12:04:00Z"));
  ASSERT_EQ(due.followUps.size(), 1u);
  EXPECT_EQ(due.followUpJobs[0].size(), kCrossingJobsKept);
  EXPECT_EQ(due.followUpJobs[0].front(), "early");
}

}  // namespace
}  // namespace bulkwarden::engine
