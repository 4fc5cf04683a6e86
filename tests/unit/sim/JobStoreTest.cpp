// The simulated org's job store on its own, without HTTP: the lifecycle as sim time passes, the
// state rules of abort, close and delete (Salesforce's, from the server side), permissions, the
// 7-day purge and listing snapshots behind locators.
#include "sim/JobStore.h"

#include <gtest/gtest.h>

#include <set>

namespace bulkwarden::sim {
namespace {

using std::chrono::milliseconds;
constexpr int64_t kT0 = 1'800'000'000'000;  // sim time, ms since the epoch
constexpr int64_t kDayMs = 24LL * 3600 * 1000;

JobSeed seed(std::string id, std::string state = "InProgress", std::string kind = "query") {
  JobSeed s;
  s.id = std::move(id);
  s.state = std::move(state);
  s.kind = std::move(kind);
  s.numberRecords = 10;
  return s;
}

const JobStore::Caller kAdmin{"005R0000000Admin", true};
const JobStore::Caller kOwner{"005R0000000GiwjIAC", false};  // JobSeed's default creator
const JobStore::Caller kStranger{"005R0000000Other", false};

void ignore(const StoredJob&, const JobView&) {}

TEST(SimJobStore, AnActiveJobFinishesWhenItsTimeComes) {
  JobStore store(1, "R");
  auto s = seed("750R00000000001AAA", "UploadComplete");
  s.startAfter = milliseconds(1000);
  s.finishAfter = milliseconds(5000);
  s.finalState = "Failed";
  store.add(s, kT0);
  EXPECT_EQ(store.state("750R00000000001AAA", kT0 + 999), "UploadComplete");
  EXPECT_EQ(store.state("750R00000000001AAA", kT0 + 1000), "InProgress");
  EXPECT_EQ(store.state("750R00000000001AAA", kT0 + 4999), "InProgress");
  EXPECT_EQ(store.state("750R00000000001AAA", kT0 + 5000), "Failed");
}

TEST(SimJobStore, AbortMovesAnActiveJobToAbortedOnceAndRefusesAFinishedOne) {
  JobStore store(1, "R");
  store.add(seed("750R00000000001AAA"), kT0);
  store.add(seed("750R00000000002AAA", "JobComplete"), kT0);
  int rendered = 0;
  auto r = store.abort("750R00000000001AAA", JobStore::Resource::Query, kAdmin, kT0,
                       [&](const StoredJob&, const JobView& v) {
                         ++rendered;
                         EXPECT_EQ(v.state, JobState::Aborted);
                       });
  EXPECT_EQ(r.outcome, JobStore::Outcome::Done);
  EXPECT_EQ(rendered, 1);
  EXPECT_EQ(store.appliedAborts(), 1);
  // A second abort of the now-aborted job, and an abort of a finished one: INVALIDJOBSTATE.
  EXPECT_EQ(
      store.abort("750R00000000001AAA", JobStore::Resource::Query, kAdmin, kT0, ignore).outcome,
      JobStore::Outcome::InvalidState);
  auto finished = store.abort("750R00000000002AAA", JobStore::Resource::Query, kAdmin, kT0, ignore);
  EXPECT_EQ(finished.outcome, JobStore::Outcome::InvalidState);
  EXPECT_EQ(finished.state, JobState::JobComplete);
  EXPECT_EQ(store.appliedAborts(), 1);
  EXPECT_EQ(store.appliedActions("750R00000000001AAA"), 1);
}

TEST(SimJobStore, ARefusedAbortLeavesTheJobActive) {
  JobStore store(1, "R");
  auto s = seed("750R00000000001AAA");
  s.refusedAborts = 1;
  store.add(s, kT0);
  auto first = store.abort(s.id, JobStore::Resource::Query, kAdmin, kT0, ignore);
  EXPECT_EQ(first.outcome, JobStore::Outcome::InvalidState);
  EXPECT_EQ(store.state(s.id, kT0), "InProgress") << "INVALIDJOBSTATE here proves nothing";
  EXPECT_EQ(store.abort(s.id, JobStore::Resource::Query, kAdmin, kT0, ignore).outcome,
            JobStore::Outcome::Done);
}

TEST(SimJobStore, AJobThatFinishesOnAbortLosesTheRace) {
  JobStore store(1, "R");
  auto s = seed("750R00000000001AAA");
  s.finishesOnAbort = true;
  store.add(s, kT0);
  auto r = store.abort(s.id, JobStore::Resource::Query, kAdmin, kT0, ignore);
  EXPECT_EQ(r.outcome, JobStore::Outcome::InvalidState);
  EXPECT_EQ(store.state(s.id, kT0), "JobComplete");
  EXPECT_EQ(store.appliedAborts(), 0);
}

TEST(SimJobStore, AnotherUsersJobNeedsManageDataIntegrations) {
  JobStore store(1, "R");
  store.add(seed("750R00000000001AAA"), kT0);
  store.add(seed("750R00000000002AAA", "JobComplete"), kT0);
  EXPECT_EQ(
      store.abort("750R00000000001AAA", JobStore::Resource::Query, kStranger, kT0, ignore).outcome,
      JobStore::Outcome::Forbidden);
  EXPECT_EQ(store.remove("750R00000000002AAA", JobStore::Resource::Query, kStranger, kT0).outcome,
            JobStore::Outcome::Forbidden);
  EXPECT_EQ(store.state("750R00000000001AAA", kT0), "InProgress");
  // Its creator may, without the permission.
  EXPECT_EQ(
      store.abort("750R00000000001AAA", JobStore::Resource::Query, kOwner, kT0, ignore).outcome,
      JobStore::Outcome::Done);
  EXPECT_EQ(store.remove("750R00000000002AAA", JobStore::Resource::Query, kOwner, kT0).outcome,
            JobStore::Outcome::Done);
}

TEST(SimJobStore, DeleteRefusesAnActiveJobAndRemovesAFinishedOne) {
  JobStore store(1, "R");
  store.add(seed("750R00000000001AAA"), kT0);
  store.add(seed("750R00000000002AAA", "Aborted"), kT0);
  store.add(seed("750R00000000003AAA", "UploadComplete", "ingest"), kT0);
  EXPECT_EQ(store.remove("750R00000000001AAA", JobStore::Resource::Query, kAdmin, kT0).outcome,
            JobStore::Outcome::NotTerminated);
  EXPECT_EQ(store.remove("750R00000000002AAA", JobStore::Resource::Query, kAdmin, kT0).outcome,
            JobStore::Outcome::Done);
  EXPECT_EQ(store.state("750R00000000002AAA", kT0), std::nullopt);
  EXPECT_EQ(store.remove("750R00000000002AAA", JobStore::Resource::Query, kAdmin, kT0).outcome,
            JobStore::Outcome::NotFound);
  // An ingest job whose upload is complete may be deleted (Salesforce allows it).
  EXPECT_EQ(store.remove("750R00000000003AAA", JobStore::Resource::Ingest, kAdmin, kT0).outcome,
            JobStore::Outcome::Done);
  EXPECT_EQ(store.appliedDeletes(), 2);
}

TEST(SimJobStore, EachResourceServesOnlyItsOwnJobs) {
  JobStore store(1, "R");
  store.add(seed("750R00000000001AAA"), kT0);
  auto classic = seed("750R00000000002AAA", "Open");
  classic.jobType = "Classic";
  store.add(classic, kT0);
  auto found = [&](const std::string& id, JobStore::Resource r) {
    return store.read(id, r, kT0, ignore);
  };
  EXPECT_TRUE(found("750R00000000001AAA", JobStore::Resource::Query));
  EXPECT_FALSE(found("750R00000000001AAA", JobStore::Resource::Ingest));
  EXPECT_FALSE(found("750R00000000001AAA", JobStore::Resource::Classic));
  EXPECT_TRUE(found("750R00000000002AAA", JobStore::Resource::Classic));
  EXPECT_FALSE(found("750R00000000002AAA", JobStore::Resource::Query));
  // A 1.0 job may be aborted while Open.
  EXPECT_EQ(
      store.abort("750R00000000002AAA", JobStore::Resource::Classic, kAdmin, kT0, ignore).outcome,
      JobStore::Outcome::Done);
}

TEST(SimJobStore, CloseStartsAnOpenIngestJobsClock) {
  JobStore store(1, "R");
  auto s = seed("750R00000000001AAA", "Open", "ingest");
  s.startAfter = milliseconds(100);
  s.finishAfter = milliseconds(1000);
  store.add(s, kT0);
  EXPECT_EQ(store.state(s.id, kT0 + kDayMs), "Open") << "Open jobs wait for a close";
  const int64_t closedAt = kT0 + 5000;
  EXPECT_EQ(store.close(s.id, JobStore::Resource::Ingest, closedAt, ignore).outcome,
            JobStore::Outcome::Done);
  EXPECT_EQ(store.state(s.id, closedAt + 99), "UploadComplete");
  EXPECT_EQ(store.state(s.id, closedAt + 100), "InProgress");
  EXPECT_EQ(store.state(s.id, closedAt + 1000), "JobComplete");
  EXPECT_EQ(store.close(s.id, JobStore::Resource::Ingest, closedAt + 1000, ignore).outcome,
            JobStore::Outcome::InvalidState);
}

TEST(SimJobStore, FinishedJobsArePurgedAfterSevenDays) {
  JobStore store(1, "R");
  auto s = seed("750R00000000001AAA", "JobComplete");
  store.add(s, kT0);
  EXPECT_EQ(store.state(s.id, kT0 + 7 * kDayMs - 1), "JobComplete");
  EXPECT_EQ(store.state(s.id, kT0 + 7 * kDayMs), std::nullopt);
  EXPECT_FALSE(store.read(s.id, JobStore::Resource::Query, kT0 + 7 * kDayMs, ignore));
  // An active job is never purged.
  store.add(seed("750R00000000002AAA"), kT0);
  EXPECT_EQ(store.state("750R00000000002AAA", kT0 + 30 * kDayMs), "InProgress");
}

TEST(SimJobStore, BadSeedsAreRefused) {
  JobStore store(1, "R");
  EXPECT_THROW(store.add(seed("", "Running"), kT0), std::invalid_argument);
  EXPECT_THROW(store.add(seed("", "InProgress", "bulk"), kT0), std::invalid_argument);
  EXPECT_THROW(store.add(seed("", "Open", "query"), kT0), std::invalid_argument);
  store.add(seed("750R00000000001AAA"), kT0);
  EXPECT_THROW(store.add(seed("750R00000000001AAA"), kT0), std::invalid_argument);
  auto s = seed("");
  s.finalState = "Aborted";
  EXPECT_THROW(store.add(s, kT0), std::invalid_argument);
}

// Lists every page of one listing; returns the ids in the order served.
std::vector<std::string> listAll(JobStore& store, JobStore::ListRequest request, int64_t now,
                                 int* pages = nullptr,
                                 const std::function<void(int)>& betweenPages = nullptr) {
  std::vector<std::string> ids;
  int n = 0;
  for (;;) {
    auto page = store.list(request, now, nullptr,
                           [&](const StoredJob& job, const JobView&) { ids.push_back(job.id); });
    EXPECT_EQ(page.error, JobStore::Page::Error::None);
    ++n;
    if (page.done || page.nextLocator.empty() || n > 100) break;
    if (betweenPages) betweenPages(n);
    request.locator = page.nextLocator;
  }
  if (pages != nullptr) *pages = n;
  return ids;
}

TEST(SimJobStore, AListingPagesThroughOneSnapshot) {
  JobStore store(7, "R");
  for (int i = 0; i < 25; ++i) store.add(seed(""), kT0);
  store.add(seed("", "InProgress", "ingest"), kT0);
  JobStore::ListRequest request;
  request.pageSize = 10;
  int pages = 0;
  auto ids = listAll(store, request, kT0, &pages, [&](int) {
    store.add(seed(""), kT0);  // created mid-listing: not in this snapshot
  });
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(ids.size(), 25u) << "the ingest job is not on /jobs/query";
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 25u) << "no job twice";
}

TEST(SimJobStore, AJobDeletedMidListingIsSkipped) {
  JobStore store(7, "R");
  std::vector<std::string> all;
  for (int i = 0; i < 20; ++i) all.push_back(store.add(seed("", "JobComplete"), kT0));
  JobStore::ListRequest request;
  request.pageSize = 10;
  std::set<std::string> deleted;
  auto ids = listAll(store, request, kT0, nullptr, [&](int) {
    for (const auto& id : all) {
      if (store.remove(id, JobStore::Resource::Query, kAdmin, kT0).outcome ==
          JobStore::Outcome::Done) {
        deleted.insert(id);
      }
    }
  });
  EXPECT_EQ(deleted.size(), 20u);
  EXPECT_EQ(ids.size(), 10u) << "the second page's jobs were deleted after page 1: none served";
}

TEST(SimJobStore, ALocatorMustNameALiveSnapshot) {
  JobStore store(7, "R");
  for (int i = 0; i < 3; ++i) store.add(seed(""), kT0);
  JobStore::ListRequest request;
  for (const char* bad : {"x", "01gR00000000000AAA-", "01gR00000000000AAA-1", "01gR0000-1",
                          "01gR00000000000AAA--1", "01gR00000000000AAA-99999999999999999999999"}) {
    request.locator = bad;
    EXPECT_EQ(store.list(request, kT0, nullptr, ignore).error, JobStore::Page::Error::BadLocator)
        << bad;
  }
  // Only the last 64 listings' locators stay valid.
  request.locator.clear();
  request.pageSize = 1;
  auto first = store.list(request, kT0, nullptr, ignore);
  ASSERT_FALSE(first.nextLocator.empty());
  for (int i = 0; i < 64; ++i) store.list(request, kT0, nullptr, ignore);
  request.locator = first.nextLocator;
  EXPECT_EQ(store.list(request, kT0, nullptr, ignore).error, JobStore::Page::Error::BadLocator);
}

TEST(SimJobStore, AnUnknownJobTypeIsRefusedAndClassicIsOnTheQueryPath) {
  JobStore store(7, "R");
  store.add(seed("750R00000000001AAA"), kT0);
  auto classic = seed("750R00000000002AAA", "InProgress", "ingest");
  classic.jobType = "Classic";
  store.add(classic, kT0);
  JobStore::ListRequest request;
  request.jobType = "V3Query";
  EXPECT_EQ(store.list(request, kT0, nullptr, ignore).error, JobStore::Page::Error::BadJobType);
  request.jobType.clear();
  auto ids = listAll(store, request, kT0);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()),
            (std::set<std::string>{"750R00000000001AAA", "750R00000000002AAA"}));
  request.jobType = "Classic";
  EXPECT_EQ(listAll(store, request, kT0), std::vector<std::string>{"750R00000000002AAA"});
}

TEST(SimJobStore, PageFaultsBendTheLocatorChain) {
  JobStore store(7, "R");
  for (int i = 0; i < 4; ++i) store.add(seed(""), kT0);
  JobStore::ListRequest request;
  request.pageSize = 2;
  auto first = store.list(request, kT0, nullptr, ignore);
  ASSERT_FALSE(first.nextLocator.empty());
  request.locator = first.nextLocator;
  auto repeated = store.list(
      request, kT0, [](int) { return JobStore::PageFault::RepeatLocator; }, ignore);
  EXPECT_FALSE(repeated.done);
  EXPECT_EQ(repeated.nextLocator, first.nextLocator) << "the same locator comes back";
  auto truncated = store.list(
      request, kT0, [](int) { return JobStore::PageFault::DoneFalseWithoutUrl; }, ignore);
  EXPECT_FALSE(truncated.done);
  EXPECT_TRUE(truncated.nextLocator.empty());
}

}  // namespace
}  // namespace bulkwarden::sim
