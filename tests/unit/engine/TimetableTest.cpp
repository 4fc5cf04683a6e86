// When the scheduler runs each policy (issue 16): a cron policy runs at its fire times, a missed
// time runs late only within `starting-deadline`, cron policies get no follow-up passes,
// interval follow-ups wait for the policy's windows, and a reload keeps each policy's schedule.
// The pure Timetable table by table, then the real org loop with an injected clock.
#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "ManualClock.h"
#include "ScriptedJobs.h"
#include "audit/AuditLog.h"
#include "engine/Scheduler.h"

namespace bulkwarden::engine {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::minutes;

model::Timestamp t(const char* text) { return *model::parseTimestamp(text); }

policy::Policy cronPolicy(const char* name, const char* expr, const char* zone = "UTC") {
  policy::Policy p;
  p.name = name;
  p.schedule.cron = policy::Cron::parse(expr);
  p.schedule.zone = policy::TimeZone::load(zone);
  return p;
}

policy::Policy everyPolicy(const char* name, model::Duration every) {
  policy::Policy p;
  p.name = name;
  p.schedule.every = every;
  return p;
}

// `older-than: { field: createdDate, age }`: the filter that asks for follow-ups.
void olderThan(policy::Policy& p, model::Duration age) {
  policy::Filter f;
  f.kind = policy::Filter::Kind::OlderThan;
  f.timeField = model::JobField::CreatedDate;
  f.age = age;
  p.filter.children.push_back(f);
}

TEST(StartingDeadline, AMissedCronTimeRunsLateOnlyWithinTheDeadline) {
  // The trial: "0 2 * * mon-fri" in Paris, last run Monday 02:00, restarted Tuesday 22:19: the
  // Tuesday 02:00 run is 20 hours late, so it is skipped; the next is Wednesday 02:00 (01:00Z).
  auto p = cronPolicy("nightly", "0 2 * * mon-fri", "Europe/Paris");
  auto last = t("2026-11-30T01:00:05Z");
  EXPECT_EQ(firstTick(p.schedule, last, t("2026-12-01T21:19:00Z")), t("2026-12-02T01:00:00Z"));
  // Restarted at 02:40 Paris: 40 minutes late, within the default hour: one late pass now.
  EXPECT_EQ(firstTick(p.schedule, last, t("2026-12-01T01:40:00Z")), t("2026-12-01T01:40:00Z"));
  // 61 minutes late: skipped.
  EXPECT_EQ(firstTick(p.schedule, last, t("2026-12-01T02:01:00Z")), t("2026-12-02T01:00:00Z"));
  // A deadline of 15 minutes.
  p.schedule.startingDeadline = minutes(15);
  EXPECT_EQ(firstTick(p.schedule, last, t("2026-12-01T01:40:00Z")), t("2026-12-02T01:00:00Z"));
  EXPECT_EQ(firstTick(p.schedule, last, t("2026-12-01T01:10:00Z")), t("2026-12-01T01:10:00Z"));
  // The late pass already ran (its start is the last pass): no second one.
  EXPECT_EQ(firstTick(p.schedule, t("2026-12-01T01:10:00Z"), t("2026-12-01T01:12:00Z")),
            t("2026-12-02T01:00:00Z"));
  // fireCovering says whether a pass now is on time for a fire time.
  EXPECT_EQ(p.schedule.fireCovering(t("2026-12-01T01:14:59Z")), t("2026-12-01T01:00:00Z"));
  EXPECT_FALSE(p.schedule.fireCovering(t("2026-12-01T01:16:00Z")));
  EXPECT_FALSE(p.schedule.fireCovering(t("2026-11-29T01:05:00Z")));  // Sunday: no fire time
}

TEST(Timetable, AFireTimeFoundLateBeyondItsDeadlineIsSkippedNotRun) {
  auto p = cronPolicy("nightly", "0 2 * * *");
  Timetable table({&p}, {t("2026-11-30T02:00:00Z")}, t("2026-11-30T12:00:00Z"));
  EXPECT_EQ(table.next(0), t("2026-12-01T02:00:00Z"));
  // The loop wakes 20 minutes late (another pass of the org ran long): it runs, late.
  auto late = table.take(t("2026-12-01T02:20:00Z"));
  EXPECT_EQ(late.scheduled, std::vector<size_t>{0});
  table.ran(late, t("2026-12-01T02:21:00Z"));
  EXPECT_EQ(table.next(0), t("2026-12-02T02:00:00Z"));
  // It wakes 3 hours late (a suspended host): the time is skipped, and said.
  auto missed = table.take(t("2026-12-02T05:00:00Z"));
  EXPECT_TRUE(missed.empty());
  ASSERT_EQ(missed.expired.size(), 1u);
  EXPECT_EQ(missed.expired[0].second, t("2026-12-02T02:00:00Z"));
  EXPECT_EQ(table.next(0), t("2026-12-03T02:00:00Z"));
}

// The wall clock stepped back 20 minutes after a pass, or during one: an interval policy is due
// one interval after the step, not once the clock has caught up with a tick counted before it.
TEST(Timetable, AnIntervalTickAheadOfAClockSteppedBackComesOneIntervalAfterTheStep) {
  auto p = everyPolicy("often", minutes(1));
  Timetable table({&p}, {std::nullopt}, t("2026-12-01T10:00:00Z"));
  auto first = table.take(t("2026-12-01T10:00:00Z"));
  EXPECT_EQ(first.scheduled, std::vector<size_t>{0});
  table.ran(first, t("2026-12-01T10:00:05Z"));
  EXPECT_EQ(table.next(0), t("2026-12-01T10:01:00Z"));
  // Within one interval: not yet, and the tick stays.
  EXPECT_TRUE(table.take(t("2026-12-01T10:00:30Z")).empty());
  EXPECT_EQ(table.next(0), t("2026-12-01T10:01:00Z"));
  // Stepped back 20 minutes: the next tick is one interval from the new time.
  EXPECT_TRUE(table.take(t("2026-12-01T09:40:30Z")).empty());
  EXPECT_EQ(table.next(0), t("2026-12-01T09:41:30Z"));
  EXPECT_EQ(table.wake(), t("2026-12-01T09:41:30Z"));
  auto back = table.take(t("2026-12-01T09:41:30Z"));
  EXPECT_EQ(back.scheduled, std::vector<size_t>{0});
  // Stepped back during the pass: the same, counted from its end.
  table.ran(back, t("2026-12-01T09:20:00Z"));
  EXPECT_EQ(table.next(0), t("2026-12-01T09:21:00Z"));
}

TEST(Timetable, CronPoliciesGetNoFollowUpPasses) {
  auto nightly = cronPolicy("nightly", "0 2 * * *");
  olderThan(nightly, minutes(30));
  auto often = everyPolicy("often", hours(1));
  olderThan(often, minutes(30));
  Timetable table({&nightly, &often}, {t("2026-11-30T02:00:00Z"), t("2026-12-01T01:00:00Z")},
                  t("2026-12-01T01:59:00Z"));
  auto due = table.take(t("2026-12-01T02:00:00Z"));
  EXPECT_EQ(due.scheduled, (std::vector<size_t>{0, 1}));
  // Only the interval policy asks the pass for crossings.
  auto horizons = table.horizons(due, t("2026-12-01T02:00:00Z"));
  EXPECT_EQ(horizons.count("nightly"), 0u);
  EXPECT_EQ(horizons.at("often"), t("2026-12-01T03:00:00Z"));
  table.ran(due, t("2026-12-01T02:00:01Z"));
  table.crossing("nightly", t("2026-12-01T02:20:00Z"));
  table.crossing("often", t("2026-12-01T02:20:00Z"));
  EXPECT_FALSE(table.followUp(0)) << "a cron policy ran outside its fire times";
  EXPECT_EQ(table.followUp(1), t("2026-12-01T02:20:00Z"));
  EXPECT_EQ(table.wake(), t("2026-12-01T02:20:00Z"));
  auto follow = table.take(t("2026-12-01T02:20:00Z"));
  EXPECT_TRUE(follow.scheduled.empty());
  EXPECT_EQ(follow.followUps, std::vector<size_t>{1});
}

TEST(Timetable, AFollowUpWaitsForThePolicysWindows) {
  auto p = everyPolicy("office", hours(2));
  olderThan(p, minutes(30));
  policy::Window w;
  w.days = *policy::parseDays("*");
  w.from = 8 * 60;
  w.to = 18 * 60;
  p.windows.allow.push_back(w);
  p.windows.zone = policy::TimeZone::utc();
  Timetable table({&p}, {t("2026-12-01T06:30:00Z")}, t("2026-12-01T07:00:00Z"));
  EXPECT_EQ(table.next(0), t("2026-12-01T08:30:00Z"));
  // A crossing at 07:40 (closed): the follow-up waits for 08:00.
  table.crossing("office", t("2026-12-01T07:40:00Z"));
  EXPECT_EQ(table.followUp(0), t("2026-12-01T08:00:00Z"));
  // A crossing at 19:00 with the next pass at 20:00 and the windows shut until tomorrow: none.
  Timetable evening({&p}, {t("2026-12-01T18:00:00Z")}, t("2026-12-01T18:30:00Z"));
  evening.crossing("office", t("2026-12-01T19:00:00Z"));
  EXPECT_FALSE(evening.followUp(0));
}

TEST(Timetable, AReloadKeepsEachPolicysSchedule) {
  // A reload builds a new timetable from the last passes in the state store, as a start does.
  auto interval = everyPolicy("interval", hours(1));
  auto nightly = cronPolicy("nightly", "0 2 * * *");
  auto added = everyPolicy("added", hours(1));
  auto addedCron = cronPolicy("added-cron", "0 3 * * *");
  auto reloadAt = t("2026-12-01T10:20:00Z");
  Timetable table(
      {&interval, &nightly, &added, &addedCron},
      {t("2026-12-01T10:00:00Z"), t("2026-12-01T02:00:00Z"), std::nullopt, std::nullopt}, reloadAt);
  EXPECT_EQ(table.next(0), t("2026-12-01T11:00:00Z"));  // not at once: its hour goes on
  EXPECT_EQ(table.next(1), t("2026-12-02T02:00:00Z"));
  EXPECT_EQ(table.next(2), reloadAt);                   // a new interval policy runs at once
  EXPECT_EQ(table.next(3), t("2026-12-02T03:00:00Z"));  // a new cron policy waits for its time
  auto due = table.take(reloadAt);
  EXPECT_EQ(due.scheduled, std::vector<size_t>{2});
}

TEST(ScheduleUpcoming, ListsTheTimesTheSchedulerFollows) {
  auto p = cronPolicy("nightly", "0 2 * * mon-fri", "Europe/Paris");
  auto times = p.schedule.upcoming(std::nullopt, t("2026-12-04T12:00:00Z"), 3);  // a Friday
  ASSERT_EQ(times.size(), 3u);
  EXPECT_EQ(times[0], t("2026-12-07T01:00:00Z"));
  EXPECT_EQ(times[1], t("2026-12-08T01:00:00Z"));
  EXPECT_EQ(times[2], t("2026-12-09T01:00:00Z"));
  auto e = everyPolicy("e", minutes(5));
  auto et = e.schedule.upcoming(t("2026-12-04T11:58:00Z"), t("2026-12-04T12:00:00Z"), 2);
  EXPECT_EQ(et,
            (std::vector<model::Timestamp>{t("2026-12-04T12:03:00Z"), t("2026-12-04T12:08:00Z")}));
}

// The org loop itself, driven by an injected clock; the loop's own signals (its next-pass
// reports and its heartbeat) say when it has looked at the clock.
class Observer : public ScheduleObserver {
 public:
  void onNextPass(const std::string&, const std::string& policy, model::Timestamp next) override {
    {
      std::lock_guard lock(mutex_);
      next_[policy] = next;
    }
    cv_.notify_all();
  }
  bool waitFor(const std::string& policy, model::Timestamp want) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] {
      auto it = next_.find(policy);
      return it != next_.end() && it->second == want;
    });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, model::Timestamp> next_;
};

class OrgLoop : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-timetable-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    audit_ = std::make_unique<audit::AuditLog>((dir_ / "audit.jsonl").string());
    options_.state = &state_;
    options_.observer = &observer_;
    options_.heartbeat = std::chrono::milliseconds(2);
  }
  void TearDown() override {
    stop_.request();
    if (thread_.joinable()) thread_.join();
    fs::remove_all(dir_);
  }
  // The loop keeps pointers to its policies: the fixture owns them, so they outlive the thread
  // (TearDown joins it after the test body's locals are gone).
  void start(policy::Policy policy) {
    policies_.push_back(std::move(policy));
    scheduler_ = std::make_unique<Scheduler>(std::vector<OrgTarget>{{"acme", &org_}},
                                             std::vector<const policy::Policy*>{&policies_.back()},
                                             options_, *audit_, clock_, stop_);
    thread_ = std::thread([this] { scheduler_->runUntilStopped(); });
  }
  // Waits until the loop has woken up twice after now (so it has read the clock since).
  void settle() {
    auto since = std::chrono::steady_clock::now();
    for (int beats = 0; beats < 2;) {
      auto p = scheduler_->progress();
      if (!p.empty() && p[0].lastBeat > since) {
        since = p[0].lastBeat;
        ++beats;
      }
      std::this_thread::yield();
    }
  }

  fs::path dir_;
  std::unique_ptr<audit::AuditLog> audit_;
  testing::ScriptedJobs org_;
  testing::ManualClock clock_{t("2026-12-01T21:19:00Z")};
  model::StopSignal stop_;
  state::MemoryStateStore state_;
  Observer observer_;
  SchedulerOptions options_;
  std::deque<policy::Policy> policies_;
  std::unique_ptr<Scheduler> scheduler_;
  std::thread thread_;
};

TEST_F(OrgLoop, ACronPolicyRunsAtItsFireTimesOnlyNeitherCatchUpNorFollowUp) {
  auto p = cronPolicy("nightly", "0 2 * * mon-fri", "Europe/Paris");
  olderThan(p, minutes(30));
  // Last ran Monday 02:00 Paris; started on Tuesday at 22:19 Paris (21:19Z).
  state_.recordPass("acme", "nightly", t("2026-11-30T01:00:01Z"));
  model::Job job;
  job.id = "750R0000000000001";
  job.state = model::JobState::InProgress;
  job.createdDate = t("2026-12-02T00:50:00Z");  // crosses 30 minutes at 01:20Z
  org_.pages.push_back(salesforce::Page{{job}, {}});
  start(p);
  ASSERT_TRUE(observer_.waitFor("nightly", t("2026-12-02T01:00:00Z")));
  settle();
  EXPECT_EQ(org_.lists, 0) << "a catch-up pass ran 20 hours after the fire time";
  clock_.set(t("2026-12-02T01:00:00Z"));
  ASSERT_TRUE(observer_.waitFor("nightly", t("2026-12-03T01:00:00Z")));
  EXPECT_EQ(org_.lists, 1);
  clock_.set(t("2026-12-02T01:21:00Z"));  // past the job's crossing
  settle();
  EXPECT_EQ(org_.lists, 1) << "a follow-up pass ran outside the cron";
}

TEST_F(OrgLoop, AnIntervalPolicyGetsItsFollowUpAtTheCrossing) {
  auto p = everyPolicy("often", hours(1));
  olderThan(p, minutes(30));
  model::Job job;
  job.id = "750R0000000000002";
  job.state = model::JobState::InProgress;
  job.createdDate = t("2026-12-01T21:00:00Z");  // crosses at 21:30Z
  org_.pages.push_back(salesforce::Page{{job}, {}});
  org_.gets.emplace(job.id, job);  // before the loop starts: the map is not guarded
  start(p);
  ASSERT_TRUE(observer_.waitFor("often", t("2026-12-01T22:19:00Z")));  // ran at start
  EXPECT_EQ(org_.lists, 1);
  clock_.set(t("2026-12-01T21:31:00Z"));
  // The follow-up reads that job (one GET) and never relists (issue 15).
  for (int i = 0; i < 1000 && org_.getCalls < 1; ++i) settle();
  settle();
  EXPECT_EQ(org_.getCalls, 1);
  EXPECT_EQ(org_.lists, 1);
}

}  // namespace
}  // namespace bulkwarden::engine
