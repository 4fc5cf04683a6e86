// The state store over real SQLite files in a temp dir: first-seen-in-state times survive a
// reopen, change with the state, are pruned after a complete listing; last passes persist.
#include "state/SqliteStateStore.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

namespace bulkwarden::state {
namespace {

namespace fs = std::filesystem;
using model::JobState;
using model::ResourceKind;

model::Timestamp t(const char* text) { return *model::parseTimestamp(text); }

model::Job job(std::string id, JobState state) {
  model::Job j;
  j.id = std::move(id);
  j.kind = ResourceKind::Query;
  j.state = state;
  return j;
}

class SqliteStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("bw-state-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string db() const { return (dir_ / "state.sqlite").string(); }
  fs::path dir_;
};

TEST_F(SqliteStateStoreTest, FirstSeenInStateSurvivesAReopen) {
  auto t0 = t("2026-11-29T10:00:00Z");
  auto t1 = t("2026-11-29T10:05:00Z");
  auto t2 = t("2026-11-29T10:10:00Z");
  std::vector<model::Job> page = {job("750A", JobState::InProgress),
                                  job("750B", JobState::UploadComplete)};
  {
    SqliteStateStore store(db());
    auto since = store.observe("acme", ResourceKind::Query, page, t0);
    EXPECT_EQ(since, (std::vector<model::Timestamp>{t0, t0}));
  }
  {
    SqliteStateStore store(db());          // a restart
    page[1].state = JobState::InProgress;  // B changed state: its clock starts again
    auto since = store.observe("acme", ResourceKind::Query, page, t1);
    EXPECT_EQ(since, (std::vector<model::Timestamp>{t0, t1}));
  }
  {
    SqliteStateStore store(db());
    auto since = store.observe("acme", ResourceKind::Query, page, t2);
    EXPECT_EQ(since, (std::vector<model::Timestamp>{t0, t1}));
    // The same id in another org or resource is another job.
    auto other = store.observe("beta", ResourceKind::Query, page, t2);
    EXPECT_EQ(other, (std::vector<model::Timestamp>{t2, t2}));
    auto ingest = store.observe("acme", ResourceKind::Ingest, page, t2);
    EXPECT_EQ(ingest, (std::vector<model::Timestamp>{t2, t2}));
  }
}

TEST_F(SqliteStateStoreTest, JobsNoLongerListedArePrunedAfterACompleteListing) {
  auto t0 = t("2026-11-29T10:00:00Z");
  auto t1 = t("2026-11-29T10:05:00Z");
  auto t2 = t("2026-11-29T10:10:00Z");
  {
    SqliteStateStore store(db());
    std::vector<model::Job> both = {job("750A", JobState::InProgress),
                                    job("750B", JobState::InProgress)};
    store.observe("acme", ResourceKind::Query, both, t0);
    std::vector<model::Job> onlyA = {job("750A", JobState::InProgress)};
    store.observe("acme", ResourceKind::Query, onlyA, t1);
    store.prune("acme", ResourceKind::Query, t1);
    EXPECT_EQ(store.jobCount(), 1u);
  }
  SqliteStateStore store(db());
  // B comes back: it is new again; A kept its time.
  std::vector<model::Job> both = {job("750A", JobState::InProgress),
                                  job("750B", JobState::InProgress)};
  auto since = store.observe("acme", ResourceKind::Query, both, t2);
  EXPECT_EQ(since, (std::vector<model::Timestamp>{t0, t2}));
}

TEST_F(SqliteStateStoreTest, LastPassPerOrgAndPolicyPersists) {
  {
    SqliteStateStore store(db());
    EXPECT_FALSE(store.lastPass("acme", "abort-stuck"));
    store.recordPass("acme", "abort-stuck", t("2026-11-29T10:00:00Z"));
    store.recordPass("acme", "abort-stuck", t("2026-11-29T10:05:00Z"));
  }
  SqliteStateStore store(db());
  ASSERT_TRUE(store.lastPass("acme", "abort-stuck"));
  EXPECT_EQ(*store.lastPass("acme", "abort-stuck"), t("2026-11-29T10:05:00Z"));
  EXPECT_FALSE(store.lastPass("beta", "abort-stuck"));
}

TEST_F(SqliteStateStoreTest, AHundredThousandJobsInPagesStayFast) {
  SqliteStateStore store(db());
  auto t0 = t("2026-11-29T10:00:00Z");
  auto started = std::chrono::steady_clock::now();
  for (int pass = 0; pass < 2; ++pass) {
    for (int p = 0; p < 100; ++p) {
      std::vector<model::Job> page;
      for (int i = 0; i < 1000; ++i)
        page.push_back(job(fmt::format("750{:06}{:04}", p, i), JobState::InProgress));
      auto since =
          store.observe("acme", ResourceKind::Query, page, t0 + std::chrono::minutes(pass));
      ASSERT_EQ(since.size(), 1000u);
      EXPECT_EQ(since[0], t0);
    }
  }
  // Generous: one transaction per page keeps this to seconds even on a loaded machine.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60));
  SqliteStateStore reopened(db());
  std::vector<model::Job> one = {job(fmt::format("750{:06}{:04}", 0, 0), JobState::InProgress)};
  EXPECT_EQ(reopened.observe("acme", ResourceKind::Query, one, t0 + std::chrono::hours(1))[0], t0);
}

TEST_F(SqliteStateStoreTest, AnUnwritablePathIsAStateError) {
  EXPECT_THROW(SqliteStateStore((dir_ / "no" / "such" / "dir" / "s.sqlite").string()), StateError);
}

}  // namespace
}  // namespace bulkwarden::state
