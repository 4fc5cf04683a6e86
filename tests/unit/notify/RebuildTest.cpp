// Digests rebuilt from the audit trail after a crash (notify/Rebuild.h): the records a real
// AuditLog wrote, read back into the digest the pass would have sent; the marks of queued
// digests kept durably, bounded and treated as hostile.
#include "notify/Rebuild.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "audit/AuditLog.h"
#include "audit/Records.h"
#include "notify/Notifications.h"
#include "notify/Outbox.h"

namespace bulkwarden::notify {
namespace {

namespace fs = std::filesystem;

class RebuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "bulkwarden-rebuild-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string trail() const { return (dir_ / "audit.jsonl").string(); }

  static audit::RunEndRecord runEnd() {
    audit::RunEndRecord e;
    e.org = "acme";
    e.resource = "query-jobs";
    e.listingComplete = true;
    return e;
  }
  static model::Job job(const std::string& id) {
    model::Job j;
    j.id = id;
    j.object = "Account";
    j.state = model::JobState::InProgress;
    return j;
  }
  // run-start, decisions for `ids`, intents for the first `intents` of them, a result for the
  // first `results`, a held record, and a run-end when `ended`.
  uint64_t pass(audit::AuditLog& log, const std::string& run, const std::string& policy,
                const std::vector<std::string>& ids, size_t intents, size_t results, bool ended) {
    audit::write(log, run, audit::RunStartRecord{"acme", "query-jobs", policy, false, false});
    std::vector<model::Job> jobs;
    for (const auto& id : ids) jobs.push_back(job(id));
    for (const auto& j : jobs) {
      audit::write(log, run,
                   audit::DecisionRecord{
                       {"acme", policy, "abort", "enforce", &j, {}}, "state is InProgress", ""});
    }
    std::vector<std::string_view> heldIds = {"750HELD1", "750HELD2"};
    audit::write(
        log, run,
        audit::HeldRecord{"acme", policy, "abort", "enforce", "exempt: quarter close", 3, heldIds});
    std::vector<uint64_t> seqs;
    for (size_t i = 0; i < intents; ++i) {
      seqs.push_back(audit::write(
          log, run, audit::IntentRecord{{"acme", policy, "abort", "enforce", &jobs[i], {}}, {}}));
    }
    for (size_t i = 0; i < results; ++i) {
      audit::ResultRecord r;
      r.subject = {"acme", policy, "abort", "enforce", &jobs[i], {}};
      r.intent = seqs[i];
      r.outcome = audit::Outcome::Applied;
      r.http = 200;
      audit::write(log, run, r);
    }
    if (ended) audit::write(log, run, runEnd());
    return seqs.empty() ? 0 : seqs.back();
  }
  fs::path dir_;
};

auto wantAll() {
  return [](const std::string&, const std::string&, const std::string&) { return true; };
}

TEST_F(RebuildTest, APassCutShortGetsTheDigestItsRecordsTell) {
  uint64_t open = 0;
  {
    audit::AuditLog log(trail());
    open = pass(log, "run-1", "abort-stuck", {"750A", "750B", "750C", "750D"}, 3, 1, false);
    // Recovery settles the last open intent after the restart (its own run).
    audit::ReconciledResultRecord rec;
    model::Job j = job("750C");
    rec.subject = {"acme", "abort-stuck", "abort", "enforce", &j, {}};
    rec.intent = open;
    rec.outcome = audit::Outcome::Confirmed;
    rec.observedState = "Aborted";
    rec.intentRun = "run-1";
    audit::write(log, "recovery", rec);
  }
  RebuildOptions o;
  o.wanted = wantAll();
  auto r = rebuildDigests(audit::trailFiles(trail()), o);
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_GT(r.lastSeq, open);
  ASSERT_EQ(r.digests.size(), 1u);
  const Digest& d = r.digests[0];
  EXPECT_EQ(d.policy, "abort-stuck");
  EXPECT_EQ(d.org, "acme");
  EXPECT_EQ(d.resource, "query-jobs");
  EXPECT_EQ(d.run, "run-1");
  EXPECT_EQ(d.action, "abort");
  EXPECT_EQ(d.mode, "enforce");
  EXPECT_EQ(d.matched, 4 + 3);
  std::map<std::string, int64_t> want = {
      {"applied", 1}, {"unknown", 1}, {"confirmed", 1}, {"not-started", 1}, {"held", 3}};
  EXPECT_EQ(d.outcomes, want);
  ASSERT_EQ(d.jobs.size(), 6u);  // four decisions, the two held ids the trail names
  EXPECT_EQ(d.jobs[0].id, "750A");
  EXPECT_EQ(d.jobs[0].outcome, "applied");
  EXPECT_EQ(d.jobs[0].object, "Account");
  EXPECT_EQ(d.jobs[0].state, "InProgress");
  EXPECT_EQ(d.jobs[0].why, "state is InProgress");
  EXPECT_EQ(d.jobs[1].outcome, "unknown");
  EXPECT_EQ(d.jobs[2].outcome, "confirmed");
  EXPECT_EQ(d.jobs[3].outcome, "not-started");
  EXPECT_EQ(d.jobs[4].id, "750HELD1");
  EXPECT_EQ(d.jobs[4].why, "exempt: quarter close");
  EXPECT_EQ(d.jobsOmitted, 1);  // the third held job, counted only
  EXPECT_EQ(d.held.at("exempt: quarter close"), 3);
}

TEST_F(RebuildTest, OnlyPassesAfterTheMarkWantedAndWholeInTheWindow) {
  uint64_t firstEnd = 0;
  {
    audit::AuditLog log(trail());
    pass(log, "run-1", "abort-stuck", {"750A"}, 1, 1, true);
    firstEnd = audit::write(log, "run-1", runEnd());
    pass(log, "run-2", "abort-stuck", {"750B"}, 1, 1, true);
    pass(log, "run-3", "other", {"750C"}, 0, 0, true);
  }
  RebuildOptions o;
  o.since = firstEnd;
  o.wanted = [](const std::string& run, const std::string&, const std::string& policy) {
    return policy == "abort-stuck" && run != "run-9";
  };
  auto r = rebuildDigests(audit::trailFiles(trail()), o);
  ASSERT_EQ(r.digests.size(), 1u);
  EXPECT_EQ(r.digests[0].run, "run-2");
  o.since = 0;
  o.afterRun = "run-1";
  EXPECT_EQ(rebuildDigests(audit::trailFiles(trail()), o).digests.size(), 1u);
  // A window too small to hold a run-start: nothing rebuilt, and it says the window was cut.
  o.afterRun.clear();
  o.windowBytes = 100;
  auto cut = rebuildDigests(audit::trailFiles(trail()), o);
  EXPECT_TRUE(cut.digests.empty());
  EXPECT_TRUE(cut.windowCut);
  // A torn last line (a crash mid-write) is not a record.
  std::ofstream(trail(), std::ios::app) << "{\"seq\":999,\"type\":\"run-start\"";
  o.windowBytes = kRebuildWindowBytes;
  auto torn = rebuildDigests(audit::trailFiles(trail()), o);
  EXPECT_EQ(torn.digests.size(), 2u);
  EXPECT_LT(torn.lastSeq, 999u);
}

// Notifications at start: the first start (no marks yet) sends nothing from before it; a pass
// cut short after it is rebuilt once into the outbox, in the notification's format; a further
// start rebuilds nothing.
TEST_F(RebuildTest, AStartQueuesEachCutPassOnceAndNothingFromBeforeTheFirst) {
  fs::create_directories(dir_ / "state");
  const std::string state = (dir_ / "state").string();
  config::NotificationConfig ops;
  ops.name = "ops";
  ops.url = "http://127.0.0.1:9/hook";  // never called: nothing is started here
  policy::Policy p;
  p.name = "abort-stuck";
  p.notify = {"ops"};
  policy::Policy quiet;
  quiet.name = "quiet";
  const std::vector<const policy::Policy*> policies = {&p, &quiet};
  auto start = [&] {
    Notifications n({ops}, state, nullptr);
    return n.recoverFromTrail(audit::trailFiles(trail()), policies);
  };
  {
    audit::AuditLog log(trail());
    pass(log, "run-old", "abort-stuck", {"750OLD"}, 1, 0, false);
  }
  EXPECT_EQ(start(), 0u) << "the first start marks the end of the trail only";
  EXPECT_TRUE(Outbox(state).load().empty());
  {
    audit::AuditLog log(trail());
    pass(log, "run-cut", "abort-stuck", {"750A", "750B"}, 2, 1, false);
    pass(log, "run-quiet", "quiet", {"750Q"}, 0, 0, false);
  }
  EXPECT_EQ(start(), 1u);
  auto queued = Outbox(state).load();
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].target, "ops");
  EXPECT_NE(queued[0].payload.find("\"run\":\"run-cut\""), std::string::npos) << queued[0].payload;
  EXPECT_NE(queued[0].payload.find("\"750B\""), std::string::npos);
  EXPECT_EQ(queued[0].payload.find("750OLD"), std::string::npos);
  EXPECT_EQ(start(), 0u) << "settled at the previous start";
  EXPECT_EQ(Outbox(state).load().size(), 1u);
}

TEST_F(RebuildTest, MarksAreDurableBoundedAndPlantedFilesIgnored) {
  DigestMarks marks(dir_.string());
  EXPECT_FALSE(marks.load());
  marks.reset(42);
  marks.mark("run-1", "acme", "abort-stuck");
  marks.mark("run-2", "acme", "abort-stuck");
  marks.mark("bad run", "acme", "abort-stuck");  // not a name: never written
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "notify-queued").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  DigestMarks again(dir_.string());
  ASSERT_TRUE(again.load());
  EXPECT_EQ(again.since(), 42u);
  EXPECT_TRUE(again.queued("run-1", "acme", "abort-stuck"));
  EXPECT_TRUE(again.queued("run-2", "acme", "abort-stuck"));
  EXPECT_FALSE(again.queued("run-3", "acme", "abort-stuck"));
  // Bounded: beyond kMaxMarks the oldest half goes, and its newest run becomes `after-run`.
  {
    std::ofstream full(dir_ / "notify-queued", std::ios::app);
    for (size_t i = 0; i + 2 < kMaxMarks; ++i) full << fmt::format("run-x{:06} acme p\n", i);
  }
  ASSERT_TRUE(again.load());
  again.mark(fmt::format("run-x{:06}", kMaxMarks - 2), "acme", "p");
  again.mark(fmt::format("run-x{:06}", kMaxMarks - 1), "acme", "p");
  DigestMarks bounded(dir_.string());
  ASSERT_TRUE(bounded.load());
  EXPECT_FALSE(bounded.queued("run-1", "acme", "abort-stuck"));
  EXPECT_FALSE(bounded.afterRun().empty());
  EXPECT_TRUE(bounded.queued(fmt::format("run-x{:06}", kMaxMarks - 1), "acme", "p"));
  EXPECT_LE(fs::file_size(dir_ / "notify-queued"), 40u * kMaxMarks);
  // A link planted in its place is not read.
  fs::remove(dir_ / "notify-queued");
  std::ofstream(dir_ / "elsewhere") << "bulkwarden digest marks 1\nsince 7\n";
  fs::create_symlink(dir_ / "elsewhere", dir_ / "notify-queued");
  DigestMarks planted(dir_.string());
  EXPECT_FALSE(planted.load());
  EXPECT_EQ(planted.since(), 0u);
}

}  // namespace
}  // namespace bulkwarden::notify
