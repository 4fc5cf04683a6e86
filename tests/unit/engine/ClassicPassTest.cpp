// A pass over Bulk API 1.0 ("Classic") jobs against the scripted org: the second listing only when
// a policy names Classic, 1.0 calls for 1.0 jobs, and a failed Classic listing acts on nothing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "ScriptedJobs.h"
#include "audit/AuditLog.h"
#include "engine/Pass.h"

namespace bulkwarden::engine {
namespace {

namespace fs = std::filesystem;
using model::JobState;
using model::ResourceKind;
using salesforce::ApiError;
using testing::ScriptedJobs;

class FixedClock : public model::Clock {
 public:
  model::Timestamp now() const override { return *model::parseTimestamp("2026-11-29T12:00:00Z"); }
  // Never waits: a stop request is the only answer.
  bool sleepUntil(model::Timestamp, const model::StopSignal& stop) const override {
    return stop.requested();
  }
};

model::Job job(const char* id, const char* jobType) {
  model::Job j;
  j.id = id;
  j.kind = ResourceKind::Query;
  j.jobType = jobType;
  j.state = JobState::InProgress;
  j.operation = "query";
  j.createdDate = *model::parseTimestamp("2026-11-29T10:00:00Z");
  j.systemModstamp = j.createdDate;
  return j;
}

policy::Policy abortRunning(bool v2, bool classic) {
  policy::Policy p;
  p.name = "abort-running";
  p.resource = ResourceKind::Query;
  p.action = policy::Action::Abort;
  p.mode = policy::Mode::Enforce;
  p.v2Jobs = v2;
  p.classicJobs = classic;
  policy::Filter f;
  f.kind = policy::Filter::Kind::State;
  f.stateMask = 1u << static_cast<int>(JobState::InProgress);
  p.filter.children.push_back(f);
  return p;
}

constexpr const char* kV2 = "750R0000000v2jobAAA";
constexpr const char* kClassic = "750R0000000c1jobAAA";

class ClassicPass : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-classic-pass-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    audit_ = std::make_unique<audit::AuditLog>((dir_ / "audit.jsonl").string());
    org_.auditPath = (dir_ / "audit.jsonl").string();
    salesforce::Page v2;
    v2.jobs.push_back(job(kV2, "V2Query"));
    org_.pages.push_back(v2);
    salesforce::Page classic;
    classic.jobs.push_back(job(kClassic, "Classic"));
    org_.classicPages.push_back(classic);
  }
  void TearDown() override { fs::remove_all(dir_); }
  PassSummary run(const policy::Policy& p) {
    PassOptions o;
    o.org = "acme";
    o.resource = ResourceKind::Query;
    o.policies = {&p};
    o.runId = "run-1";
    Pass pass(o, org_, *audit_, clock_, stop_);
    return pass.run();
  }
  fs::path dir_;
  std::unique_ptr<audit::AuditLog> audit_;
  ScriptedJobs org_;
  FixedClock clock_;
  model::StopSignal stop_;
};

TEST_F(ClassicPass, WithoutClassicNoSecondListingAndTheTwoPointOhJobOnly) {
  auto p = abortRunning(true, false);
  auto s = run(p);
  EXPECT_TRUE(s.listingComplete);
  EXPECT_EQ(org_.classicLists.load(), 0);
  EXPECT_EQ(org_.actions, std::vector<std::string>{std::string("abort:") + kV2});
}

TEST_F(ClassicPass, ClassicJobsAreListedSecondAndAbortedThroughTheOnePointOhCall) {
  auto p = abortRunning(true, true);
  auto s = run(p);
  EXPECT_TRUE(s.listingComplete);
  EXPECT_EQ(org_.lists.load(), 1);
  EXPECT_EQ(org_.classicLists.load(), 1);
  EXPECT_EQ(s.jobsSeen, 2);
  std::vector<std::string> actions = org_.actions;
  std::sort(actions.begin(), actions.end());
  EXPECT_EQ(actions, (std::vector<std::string>{std::string("abort-classic:") + kClassic,
                                               std::string("abort:") + kV2}));
  EXPECT_TRUE(org_.intentMissing.empty());
}

TEST_F(ClassicPass, OnlyClassicSkipsTheTwoPointOhListing) {
  auto p = abortRunning(false, true);
  run(p);
  EXPECT_EQ(org_.lists.load(), 0);
  EXPECT_EQ(org_.actions, std::vector<std::string>{std::string("abort-classic:") + kClassic});
}

TEST_F(ClassicPass, AFailedClassicListingActsOnNothing) {
  org_.classicListError = ApiError{ApiError::Kind::Transient, 503, "", "busy", true};
  auto p = abortRunning(true, true);
  auto s = run(p);
  EXPECT_FALSE(s.listingComplete);
  EXPECT_TRUE(org_.actions.empty());
}

// After InvalidJobState the 1.0 job is read through the 1.0 resource, never the 2.0 one.
TEST_F(ClassicPass, AnInvalidJobStateIsReadBackThroughTheOnePointOhResource) {
  org_.actionErrors[kClassic] =
      ApiError{ApiError::Kind::InvalidState, 400, "InvalidJobState", "Job is Closed", true};
  model::Job done = job(kClassic, "Classic");
  done.state = JobState::JobComplete;
  org_.gets.emplace(kClassic, done);
  auto p = abortRunning(false, true);
  run(p);
  EXPECT_EQ(org_.classicGets.load(), 1);
  EXPECT_EQ(org_.getCalls.load(), 1);  // getClassic reads the script through get()
}

}  // namespace
}  // namespace bulkwarden::engine
