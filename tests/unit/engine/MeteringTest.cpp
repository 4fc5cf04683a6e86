// The metering hooks (engine/Metering.h): every call the engine makes to an org, whichever path
// makes it, tells its failure to the MeterListener; a complete 2.0 listing tells its jobs by
// state; the Scheduler tells the org's API usage after each pass.
#include "engine/Metering.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <vector>

#include "ManualClock.h"
#include "ScriptedJobs.h"
#include "TempDir.h"
#include "audit/AuditLog.h"
#include "engine/FollowUp.h"
#include "engine/Scheduler.h"

namespace bulkwarden::engine {
namespace {

namespace fs = std::filesystem;
using salesforce::ApiError;

class RecordingMeter : public MeterListener {
 public:
  void onJobsListed(const std::string& org, model::ResourceKind kind,
                    const std::map<model::JobState, int64_t>& byState) override {
    std::lock_guard lock(mutex);
    listings.push_back({org, kind, byState});
  }
  void onApiError(const std::string& org, std::string_view kind, int http,
                  std::string_view code) override {
    std::lock_guard lock(mutex);
    errors.push_back(org + " " + std::string(kind) + " " + std::to_string(http) + " " +
                     std::string(code));
  }
  void onApiUsage(const std::string& org, int64_t used, int64_t max) override {
    std::lock_guard lock(mutex);
    usage.push_back(org + " " + std::to_string(used) + "/" + std::to_string(max));
  }
  struct Listing {
    std::string org;
    model::ResourceKind kind;
    std::map<model::JobState, int64_t> byState;
  };
  std::mutex mutex;
  std::vector<Listing> listings;
  std::vector<std::string> errors;
  std::vector<std::string> usage;
};

model::Job job(const std::string& id, model::JobState state) {
  model::Job j;
  j.id = id;
  j.kind = model::ResourceKind::Query;
  j.state = state;
  return j;
}

salesforce::Page page(std::vector<model::Job> jobs) {
  salesforce::Page p;
  p.jobs = std::move(jobs);
  return p;
}

TEST(Metering, ACompleteListingTellsItsJobsByStateAndAnIncompleteOneOnlyItsError) {
  testing::ScriptedJobs org;
  org.pages = {page({job("750000000000001AAA", model::JobState::InProgress),
                     job("750000000000002AAA", model::JobState::InProgress)}),
               page({job("750000000000003AAA", model::JobState::JobComplete)})};
  RecordingMeter meter;
  MeteredJobs metered("acme", org, meter);
  int pages = 0;
  ASSERT_TRUE(metered.list(model::ResourceKind::Query, [&](salesforce::Page&&) { ++pages; }).ok());
  EXPECT_EQ(pages, 2);
  ASSERT_EQ(meter.listings.size(), 1u);
  EXPECT_EQ(meter.listings[0].org, "acme");
  EXPECT_EQ(meter.listings[0].kind, model::ResourceKind::Query);
  EXPECT_EQ(meter.listings[0].byState,
            (std::map<model::JobState, int64_t>{{model::JobState::InProgress, 2},
                                                {model::JobState::JobComplete, 1}}));
  EXPECT_TRUE(meter.errors.empty());

  org.listErrorAfterPages = ApiError{ApiError::Kind::Transient, 503, "SERVER_UNAVAILABLE", "busy"};
  EXPECT_FALSE(metered.list(model::ResourceKind::Query, [](salesforce::Page&&) {}).ok());
  EXPECT_EQ(meter.listings.size(), 1u) << "an incomplete listing was told as a count";
  EXPECT_EQ(meter.errors, std::vector<std::string>{"acme transient 503 SERVER_UNAVAILABLE"});
}

// Every call, not only a pass's listing: actions, their verification reads, Bulk API 1.0
// calls and the usage probe.
TEST(Metering, EveryKindOfCallTellsItsError) {
  testing::ScriptedJobs org;
  org.unscriptedGet = ApiError{ApiError::Kind::NotFound, 404, "NOT_FOUND", "gone"};
  org.actionErrors["750000000000001AAA"] =
      ApiError{ApiError::Kind::InvalidState, 400, "INVALIDJOBSTATE", "done"};
  org.classicListError = ApiError{ApiError::Kind::Malformed, 200, "", "not xml"};
  org.probeError = ApiError{ApiError::Kind::Unauthorized, 401, "INVALID_SESSION_ID", "expired"};
  RecordingMeter meter;
  MeteredJobs metered("acme", org, meter);
  const std::string id = "750000000000001AAA";
  EXPECT_FALSE(metered.get(model::ResourceKind::Query, id).ok());
  EXPECT_FALSE(metered.abort(model::ResourceKind::Query, id).ok());
  EXPECT_FALSE(metered.remove(model::ResourceKind::Query, id).ok());
  EXPECT_FALSE(metered.getClassic(id).ok());
  EXPECT_FALSE(metered.abortClassic(id).ok());
  EXPECT_FALSE(metered.listClassic(model::ResourceKind::Query, [](salesforce::Page&&) {}).ok());
  EXPECT_FALSE(metered.probeUsage().ok());
  EXPECT_EQ(meter.errors, (std::vector<std::string>{
                              "acme not-found 404 NOT_FOUND",
                              "acme invalid-state 400 INVALIDJOBSTATE",
                              "acme invalid-state 400 INVALIDJOBSTATE",
                              "acme not-found 404 NOT_FOUND",
                              "acme invalid-state 400 INVALIDJOBSTATE",
                              "acme malformed 200 ",
                              "acme unauthorized 401 INVALID_SESSION_ID",
                          }));
  EXPECT_TRUE(meter.listings.empty()) << "a 1.0 listing is not the 2.0 count";
  // Successful calls tell nothing.
  org.actionErrors.clear();
  org.probeError.reset();
  meter.errors.clear();
  EXPECT_TRUE(metered.abort(model::ResourceKind::Query, id).ok());
  EXPECT_TRUE(metered.probeUsage().ok());
  EXPECT_TRUE(meter.errors.empty());
}

// A follow-up "lists" by reading jobs one by one: each failed read is told, its few jobs are
// not the org's count.
TEST(Metering, AFollowUpsReadsTellTheirErrorsButNoListing) {
  testing::ScriptedJobs org;
  org.gets.emplace("750000000000001AAA", job("750000000000001AAA", model::JobState::InProgress));
  org.gets.emplace("750000000000002AAA",
                   ApiError{ApiError::Kind::NotFound, 404, "NOT_FOUND", "gone"});
  RecordingMeter meter;
  MeteredJobs metered("acme", org, meter);
  FollowUpReads reads(metered, {"750000000000001AAA", "750000000000002AAA"}, 2);
  ASSERT_TRUE(reads.list(model::ResourceKind::Query, [](salesforce::Page&&) {}).ok());
  EXPECT_TRUE(meter.listings.empty());
  EXPECT_EQ(meter.errors, std::vector<std::string>{"acme not-found 404 NOT_FOUND"});
}

class MeteredScheduler : public ::testing::Test {
 protected:
  void SetUp() override {
    audit_ = std::make_unique<audit::AuditLog>((dir_ / "audit.jsonl").string());
    policy_.name = "watch";
    policy_.resource = model::ResourceKind::Query;
    policy_.action = policy::Action::Report;
  }
  std::vector<PassSummary> once(SchedulerOptions options) {
    Scheduler s(std::vector<OrgTarget>{{"acme", &metered_}},
                std::vector<const policy::Policy*>{&policy_}, options, *audit_, clock_, stop_);
    return s.runOnce();
  }
  testing::TempDir dir_{"bw-meter"};
  std::unique_ptr<audit::AuditLog> audit_;
  testing::ScriptedJobs org_;
  RecordingMeter meter_;
  MeteredJobs metered_{"acme", org_, meter_};
  testing::ManualClock clock_{"2026-11-29T12:00:00Z"};
  model::StopSignal stop_;
  policy::Policy policy_;
};

TEST_F(MeteredScheduler, EachPassTellsTheOrgsApiUsageOnceItsMaximumIsKnown) {
  org_.pages = {page({job("750000000000001AAA", model::JobState::Open)})};
  SchedulerOptions options;
  options.meter = &meter_;
  once(options);
  EXPECT_TRUE(meter_.usage.empty()) << "no maximum reported yet";
  ASSERT_EQ(meter_.listings.size(), 1u);
  EXPECT_EQ(meter_.listings[0].byState,
            (std::map<model::JobState, int64_t>{{model::JobState::Open, 1}}));
  org_.reported = salesforce::ApiUsage{120, 15000};
  once(options);
  EXPECT_EQ(meter_.usage, std::vector<std::string>{"acme 120/15000"});
  options.meter = nullptr;  // none: the scheduler tells nothing
  once(options);
  EXPECT_EQ(meter_.usage.size(), 1u);
}

}  // namespace
}  // namespace bulkwarden::engine
