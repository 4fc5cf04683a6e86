// The state store over real SQLite files in a temp dir: first-seen-in-state times survive a
// reopen, change with the state, are pruned after a complete listing; last passes persist. The
// store keeps nothing per job in memory, so every answer below comes from the file.
#include "state/SqliteStateStore.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

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

int64_t ms(model::Timestamp t) { return t.time_since_epoch().count(); }

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

TEST_F(SqliteStateStoreTest, APageMixingNewSameAndChangedJobsGetsEachItsOwnTimeInOrder) {
  auto t0 = t("2026-11-29T10:00:00Z");
  auto t1 = t("2026-11-29T10:05:00Z");
  auto t2 = t("2026-11-29T10:10:00Z");
  {
    SqliteStateStore store(db());
    std::vector<model::Job> first = {job("750C", JobState::InProgress),
                                     job("750A", JobState::InProgress),
                                     job("750B", JobState::UploadComplete)};
    store.observe("acme", ResourceKind::Query, first, t0);
  }
  // Not in id order, so that an answer in the wrong order shows.
  std::vector<model::Job> page = {
      job("750Z", JobState::Open),        // new
      job("750B", JobState::InProgress),  // changed
      job("750C", JobState::InProgress),  // same
      job("750M", JobState::Failed),      // new
      job("750A", JobState::InProgress),  // same
  };
  {
    SqliteStateStore store(db());
    auto since = store.observe("acme", ResourceKind::Query, page, t1);
    EXPECT_EQ(since, (std::vector<model::Timestamp>{t1, t1, t0, t1, t0}));
  }
  SqliteStateStore store(db());
  auto since = store.observe("acme", ResourceKind::Query, page, t2);
  EXPECT_EQ(since, (std::vector<model::Timestamp>{t1, t1, t0, t1, t0}));
  EXPECT_EQ(store.jobCount(), 5u);
}

TEST_F(SqliteStateStoreTest, OrgsAndKindsDoNotSeeEachOthersRows) {
  auto t0 = t("2026-11-29T10:00:00Z");
  std::vector<model::Job> page = {job("750A", JobState::InProgress)};
  const std::vector<std::pair<std::string, ResourceKind>> owners = {{"acme", ResourceKind::Query},
                                                                    {"acme", ResourceKind::Ingest},
                                                                    {"beta", ResourceKind::Query},
                                                                    {"beta", ResourceKind::Ingest}};
  {
    SqliteStateStore store(db());
    for (size_t i = 0; i < owners.size(); ++i) {
      auto since = store.observe(owners[i].first, owners[i].second, page,
                                 t0 + std::chrono::minutes(static_cast<int>(i)));
      EXPECT_EQ(since[0], t0 + std::chrono::minutes(static_cast<int>(i))) << i;
    }
    // A complete listing of one (org, kind) forgets nothing of the others.
    store.prune("beta", ResourceKind::Query, t0 + std::chrono::hours(1));
    EXPECT_EQ(store.jobCount(), 3u);
  }
  SqliteStateStore store(db());
  auto later = t0 + std::chrono::hours(2);
  for (size_t i = 0; i < owners.size(); ++i) {
    auto since = store.observe(owners[i].first, owners[i].second, page, later);
    auto expected = i == 2 ? later : t0 + std::chrono::minutes(static_cast<int>(i));
    EXPECT_EQ(since[0], expected) << i;
  }
}

TEST_F(SqliteStateStoreTest, APageOfFortyThousandJobsIsOneCall) {
  auto t0 = t("2026-11-29T10:00:00Z");
  auto t1 = t("2026-11-29T10:05:00Z");
  std::vector<model::Job> page;
  for (int i = 0; i < 40000; ++i) {
    page.push_back(job(fmt::format("750{:012}", i), JobState::InProgress));
  }
  SqliteStateStore store(db());
  auto since = store.observe("acme", ResourceKind::Query, page, t0);
  EXPECT_EQ(since, std::vector<model::Timestamp>(page.size(), t0));
  for (size_t i = 0; i < page.size(); i += 3) page[i].state = JobState::JobComplete;
  since = store.observe("acme", ResourceKind::Query, page, t1);
  ASSERT_EQ(since.size(), page.size());
  for (size_t i = 0; i < page.size(); ++i) {
    ASSERT_EQ(since[i], i % 3 == 0 ? t1 : t0) << i;
  }
  EXPECT_EQ(store.jobCount(), page.size());
}

TEST_F(SqliteStateStoreTest, RowsOfAnEarlierVersionAreReadAndABadStateIsNeverSeen) {
  auto t0 = t("2026-11-29T10:00:00Z");
  auto t1 = t("2026-11-29T10:05:00Z");
  {
    // The table as the first release wrote it, filled from outside the store.
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session s("SQLite", db());
    using namespace Poco::Data::Keywords;
    s << "CREATE TABLE job_state (org TEXT NOT NULL, kind INTEGER NOT NULL, id TEXT NOT NULL, "
         "state INTEGER NOT NULL, since INTEGER NOT NULL, seen INTEGER NOT NULL, "
         "PRIMARY KEY (org, kind, id))",
        now;
    int64_t at = ms(t0);
    s << "INSERT INTO job_state VALUES ('acme', 0, '750A', 2, ?, ?), "
         "('acme', 0, '750B', 9, ?, ?), ('acme', 0, '750C', -1, ?, ?)",
        use(at), use(at), use(at), use(at), use(at), use(at), now;
  }
  SqliteStateStore store(db());
  std::vector<model::Job> page = {job("750A", JobState::InProgress),
                                  job("750B", JobState::InProgress), job("750C", JobState::Open)};
  auto since = store.observe("acme", ResourceKind::Query, page, t1);
  EXPECT_EQ(since, (std::vector<model::Timestamp>{t0, t1, t1}));
  // Rewritten as seen now: trusted from here on.
  since = store.observe("acme", ResourceKind::Query, page, t1 + std::chrono::minutes(1));
  EXPECT_EQ(since, (std::vector<model::Timestamp>{t0, t1, t1}));
}

TEST_F(SqliteStateStoreTest, IdsAreKeptByteForByte) {
  auto t0 = t("2026-11-29T10:00:00Z");
  auto t1 = t("2026-11-29T10:05:00Z");
  std::vector<model::Job> page = {
      job("750\"q", JobState::InProgress), job("750\\b", JobState::InProgress),
      job("750\tc\n", JobState::InProgress), job("750\u00fc", JobState::InProgress),
      job("750", JobState::InProgress)};
  {
    SqliteStateStore store(db());
    store.observe("acme", ResourceKind::Query, page, t0);
    EXPECT_EQ(store.jobCount(), page.size());
  }
  SqliteStateStore store(db());
  auto since = store.observe("acme", ResourceKind::Query, page, t1);
  EXPECT_EQ(since, std::vector<model::Timestamp>(page.size(), t0));
  EXPECT_EQ(store.jobCount(), page.size());
}

// Random pages over a few ids, repeats within a page included, and prunes: the file store must
// answer exactly as the in-memory one.
TEST_F(SqliteStateStoreTest, AnswersAsTheMemoryStoreDoes) {
  SqliteStateStore disk(db());
  MemoryStateStore memory;
  std::mt19937 rng(7);
  auto now = t("2026-11-29T10:00:00Z");
  for (int round = 0; round < 200; ++round) {
    now += std::chrono::seconds(1 + rng() % 60);
    auto kind = rng() % 4 ? ResourceKind::Query : ResourceKind::Ingest;
    std::vector<model::Job> page(rng() % 12);
    for (auto& j : page) {
      j.id = fmt::format("750{}", rng() % 10);
      j.state = model::kAllJobStates[rng() % 3];
    }
    auto expected = memory.observe("acme", kind, page, now);
    ASSERT_EQ(disk.observe("acme", kind, page, now), expected) << "round " << round;
    if (round % 25 == 24) {
      memory.prune("acme", kind, now - std::chrono::minutes(5));
      disk.prune("acme", kind, now - std::chrono::minutes(5));
      ASSERT_EQ(disk.jobCount(), memory.jobCount()) << "round " << round;
    }
  }
}

TEST_F(SqliteStateStoreTest, AnUnwritablePathIsAStateError) {
  EXPECT_THROW(SqliteStateStore((dir_ / "no" / "such" / "dir" / "s.sqlite").string()), StateError);
}

// A link planted at the database or at one of SQLite's side files is refused before SQLite
// opens anything; the file it points at is left as it was.
TEST_F(SqliteStateStoreTest, ALinkAtTheDatabaseOrASideFileIsRefusedUntouched) {
  auto victim = dir_ / "victim";
  { std::ofstream(victim) << "precious\n"; }
  fs::create_directories(dir_ / "s");
  for (const char* name :
       {"state.sqlite", "state.sqlite-wal", "state.sqlite-shm", "state.sqlite-journal"}) {
    SCOPED_TRACE(name);
    fs::create_symlink(victim, dir_ / "s" / name);
    try {
      SqliteStateStore store((dir_ / "s" / "state.sqlite").string());
      ADD_FAILURE() << "opened through a link";
    } catch (const StateError& e) {
      EXPECT_EQ(e.kind(), StateError::Kind::Unsafe);
      EXPECT_NE(std::string(e.what()).find("symbolic link"), std::string::npos) << e.what();
    }
    fs::remove(dir_ / "s" / name);
    EXPECT_EQ(fs::file_size(victim), 9u);
  }
}

TEST_F(SqliteStateStoreTest, AFolderOrFileWritableByOthersIsRefused) {
  fs::permissions(dir_, fs::perms::all);
  try {
    SqliteStateStore store(db());
    ADD_FAILURE() << "opened in a folder others may write to";
  } catch (const StateError& e) {
    EXPECT_EQ(e.kind(), StateError::Kind::Unsafe);
    EXPECT_NE(std::string(e.what()).find("chmod 700"), std::string::npos) << e.what();
  }
  fs::permissions(dir_, fs::perms::owner_all);
  { SqliteStateStore store(db()); }
  fs::permissions(db(), fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_write);
  EXPECT_THROW(SqliteStateStore store(db()), StateError);
}

TEST_F(SqliteStateStoreTest, TheDatabaseIsCreatedPrivateWhateverTheUmask) {
  mode_t old = ::umask(0);
  { SqliteStateStore store(db()); }
  ::umask(old);
  EXPECT_EQ(fs::status(db()).permissions(), fs::perms::owner_read | fs::perms::owner_write);
}

}  // namespace
}  // namespace bulkwarden::state
