// Many orgs per daemon (issue 14): the timer queue's order with injected times, then the fixed
// worker pool: a blocked org does not delay another's due pass, an org never runs two steps at
// once, stop interrupts the waits, and the threads are the pool's whatever the number of orgs.
// Then the Scheduler on that pool with an injected wall clock: a blocked org's listing does not
// hold up another org's scheduled passes.
#include "engine/PassExecutor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "ScriptedJobs.h"
#include "audit/AuditLog.h"
#include "engine/Scheduler.h"

namespace bulkwarden::engine {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Steady = std::chrono::steady_clock;

const SteadyTime kT0 = SteadyTime(seconds(1000));

TEST(TimerQueue, TheEarliestDueGoesFirstAndTiesKeepTheirOrder) {
  TimerQueue q;
  q.schedule(0, kT0 + seconds(5));
  q.schedule(1, kT0 + seconds(1));
  q.schedule(2, kT0 + seconds(1));
  q.schedule(3, kT0 + seconds(9));
  EXPECT_EQ(q.popDue(kT0), std::nullopt) << "nothing is due yet";
  EXPECT_EQ(q.nextDue(), kT0 + seconds(1));
  EXPECT_EQ(q.popDue(kT0 + seconds(6)), 1u);
  EXPECT_EQ(q.popDue(kT0 + seconds(6)), 2u);
  EXPECT_EQ(q.popDue(kT0 + seconds(6)), 0u);
  EXPECT_EQ(q.popDue(kT0 + seconds(6)), std::nullopt) << "3 is due at +9 s";
  EXPECT_EQ(q.size(), 1u);
}

TEST(TimerQueue, ATaskIsQueuedOnceRescheduledNeverDuplicated) {
  TimerQueue q;
  q.schedule(7, kT0 + seconds(5));
  q.schedule(7, kT0 + seconds(2));
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.dueOf(7), kT0 + seconds(2));
  EXPECT_EQ(q.popDue(kT0 + seconds(10)), 7u);
  EXPECT_FALSE(q.contains(7));
  EXPECT_EQ(q.popDue(kT0 + seconds(10)), std::nullopt);
}

TEST(TimerQueue, AnOrgDueLongAgoDoesNotStarveOneDueNow) {
  // Org 0 is always due again at once (a failing org retrying); org 1 became due at +1 s. Each
  // pop puts 0 back at "now": since 1 was due earlier it goes next, whatever 0 does.
  TimerQueue q;
  q.schedule(0, kT0);
  q.schedule(1, kT0 + seconds(1));
  SteadyTime now = kT0 + seconds(2);
  EXPECT_EQ(q.popDue(now), 0u);
  q.schedule(0, now);
  EXPECT_EQ(q.popDue(now), 1u) << "the busy org went first again";
}

TEST(TimerQueue, AWallClockStepMakesEveryTaskDueInItsOrder) {
  TimerQueue q;
  q.schedule(0, kT0 + seconds(60));
  q.schedule(1, kT0 + seconds(30));
  q.schedule(2, kT0 - seconds(1));
  q.allDueAt(kT0);
  EXPECT_EQ(q.popDue(kT0), 2u);
  EXPECT_EQ(q.popDue(kT0), 1u);
  EXPECT_EQ(q.popDue(kT0), 0u);
}

// Waits (bounded) for a condition that other threads make true.
template <typename F>
bool eventually(F ready, Steady::duration limit = seconds(20)) {
  auto until = Steady::now() + limit;
  while (!ready()) {
    if (Steady::now() > until) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

TEST(PassExecutor, ABlockedOrgDoesNotDelayAnotherOrgsDuePasses) {
  model::StopSignal stop;
  PassExecutor ex(2, stop);
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> blocked{false};
  std::atomic<int> fastSteps{0};
  ex.add(
      "slow",
      [&]() -> std::optional<SteadyTime> {
        blocked = true;
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return release; });
        return std::nullopt;
      },
      Steady::now());
  ex.add(
      "fast",
      [&]() -> std::optional<SteadyTime> {
        ++fastSteps;
        return Steady::now() + milliseconds(2);
      },
      Steady::now());
  std::thread runner([&] { ex.run(); });
  ASSERT_TRUE(eventually([&] { return blocked.load(); }));
  int before = fastSteps.load();
  // While "slow" holds its worker, "fast" keeps its 2 ms schedule on the other one.
  EXPECT_TRUE(eventually([&] { return fastSteps.load() >= before + 20; }))
      << "the fast org stopped at " << fastSteps.load() << " steps";
  EXPECT_TRUE(blocked.load());
  auto states = ex.state();
  EXPECT_TRUE(states[0].runningSince.has_value()) << "the slow org is still in its pass";
  stop.request();
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  runner.join();
}

TEST(PassExecutor, AnOrgNeverRunsTwoStepsAtOnce) {
  model::StopSignal stop;
  PassExecutor ex(4, stop);
  constexpr int kOrgs = 3;
  std::array<std::atomic<int>, kOrgs> inFlight{};
  std::array<std::atomic<int>, kOrgs> maxInFlight{};
  std::atomic<int> running{0};
  std::atomic<int> maxRunning{0};
  std::atomic<int> total{0};
  for (int i = 0; i < kOrgs; ++i) {
    ex.add(
        "org" + std::to_string(i),
        [&, i]() -> std::optional<SteadyTime> {
          int now = ++inFlight[i];
          if (now > maxInFlight[i]) maxInFlight[i] = now;
          int r = ++running;
          if (r > maxRunning) maxRunning = r;
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          --running;
          --inFlight[i];
          ++total;
          return Steady::now();  // due again at once: as eager as a task can be
        },
        Steady::now());
  }
  std::thread runner([&] { ex.run(); });
  ASSERT_TRUE(eventually([&] { return total.load() >= 600; }));
  stop.request();
  runner.join();
  for (int i = 0; i < kOrgs; ++i) EXPECT_EQ(maxInFlight[i].load(), 1) << "org" << i;
  EXPECT_GT(maxRunning.load(), 1) << "the orgs never ran in parallel: the test proves nothing";
  EXPECT_LE(maxRunning.load(), kOrgs);
}

TEST(PassExecutor, StopInterruptsTheWaitForTheNextPass) {
  model::StopSignal stop;
  PassExecutor ex(2, stop);
  std::atomic<int> steps{0};
  for (int i = 0; i < 2; ++i) {
    ex.add(
        "org" + std::to_string(i),
        [&]() -> std::optional<SteadyTime> {
          ++steps;
          return Steady::now() + std::chrono::hours(1);
        },
        Steady::now());
  }
  std::thread runner([&] { ex.run(); });
  ASSERT_TRUE(eventually([&] { return steps.load() == 2; }));
  auto asked = Steady::now();
  stop.request();
  runner.join();
  EXPECT_LT(Steady::now() - asked, seconds(5)) << "the workers slept on until the next pass";
  EXPECT_EQ(steps.load(), 2);
}

TEST(PassExecutor, ThreadsAreThePoolsWhateverTheNumberOfOrgs) {
  model::StopSignal stop;
  PassExecutor ex(3, stop);
  std::atomic<int> running{0};
  std::atomic<int> maxRunning{0};
  std::atomic<int> done{0};
  constexpr int kOrgs = 200;
  for (int i = 0; i < kOrgs; ++i) {
    ex.add(
        "org" + std::to_string(i),
        [&]() -> std::optional<SteadyTime> {
          int r = ++running;
          if (r > maxRunning) maxRunning = r;
          std::this_thread::sleep_for(std::chrono::microseconds(100));
          --running;
          ++done;
          return std::nullopt;
        },
        Steady::now());
  }
  std::atomic<size_t> threads{0};
  std::thread watcher([&] {
    while (done.load() < kOrgs) {
      threads = std::max(threads.load(), ex.threads());
      std::this_thread::yield();
    }
  });
  ex.run();  // returns once every task is done
  watcher.join();
  EXPECT_EQ(done.load(), kOrgs);
  EXPECT_LE(maxRunning.load(), 3);
  EXPECT_LE(threads.load(), 3u);
}

TEST(PassExecutor, AStepThatThrowsIsRetriedAndTheOthersGoOn) {
  model::StopSignal stop;
  PassExecutor ex(1, stop);
  std::atomic<int> other{0};
  ex.add(
      "bad", []() -> std::optional<SteadyTime> { throw std::runtime_error("boom"); },
      Steady::now());
  ex.add(
      "good",
      [&]() -> std::optional<SteadyTime> {
        ++other;
        return std::nullopt;
      },
      Steady::now());
  std::thread runner([&] { ex.run(); });
  ASSERT_TRUE(eventually([&] { return other.load() == 1; }));
  auto s = ex.state();
  EXPECT_TRUE(s[0].due.has_value()) << "the failing task was dropped instead of retried";
  stop.request();
  runner.join();
}

// The Scheduler on the pool, with an injected wall clock.
class SteppedClock : public model::Clock {
 public:
  explicit SteppedClock(model::Timestamp start) : now_(start) {}
  model::Timestamp now() const override {
    std::lock_guard lock(mutex_);
    return now_;
  }
  // Never waits: a stop request is the only answer.
  bool sleepUntil(model::Timestamp, const model::StopSignal& stop) const override {
    return stop.requested();
  }
  void advance(model::Duration d) {
    std::lock_guard lock(mutex_);
    now_ += d;
  }

 private:
  mutable std::mutex mutex_;
  model::Timestamp now_;
};

// An org whose listing blocks until released: a slow or hung org.
class BlockingJobs : public testing::ScriptedJobs {
 public:
  salesforce::Result<salesforce::ListStats> list(model::ResourceKind kind,
                                                 const PageSink& sink) override {
    {
      std::unique_lock lock(m_);
      entered_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    }
    return ScriptedJobs::list(kind, sink);
  }
  bool waitEntered() {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, seconds(20), [&] { return entered_; });
  }
  void release() {
    std::lock_guard lock(m_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool released_ = false;
};

// Each org's next pass as the scheduler reports it: a pass is over when its next one moves.
class NextPasses : public ScheduleObserver {
 public:
  void onNextPass(const std::string& org, const std::string&, model::Timestamp next) override {
    std::lock_guard lock(mutex_);
    next_[org] = next;
  }
  model::Timestamp of(const std::string& org) {
    std::lock_guard lock(mutex_);
    return next_[org];
  }

 private:
  std::mutex mutex_;
  std::map<std::string, model::Timestamp> next_;
};

TEST(SchedulerOnPool, AHungOrgDoesNotHoldUpTheOthersSchedules) {
  namespace fs = std::filesystem;
  char tmpl[] = "/tmp/bw-executor-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  fs::path dir = tmpl;
  {
    audit::AuditLog audit((dir / "audit.jsonl").string());
    policy::Policy p;
    p.name = "every-minute";
    p.schedule.every = std::chrono::minutes(1);
    BlockingJobs hung;
    testing::ScriptedJobs a;
    testing::ScriptedJobs b;
    NextPasses next;
    SchedulerOptions options;
    options.workers = 2;  // fewer workers than orgs
    options.heartbeat = milliseconds(2);
    options.observer = &next;
    const auto t0 = *model::parseTimestamp("2026-12-02T03:00:00Z");
    SteppedClock clock(t0);
    model::StopSignal stop;
    Scheduler scheduler({{"hung", &hung}, {"a", &a}, {"b", &b}}, {&p}, options, audit, clock, stop);
    std::thread runner([&] { scheduler.runUntilStopped(); });
    struct Join {
      model::StopSignal& stop;
      BlockingJobs& hung;
      std::thread& runner;
      ~Join() {
        stop.request();
        hung.release();
        runner.join();
      }
    } join{stop, hung, runner};
    ASSERT_TRUE(hung.waitEntered());
    // Minute after minute, a and b run their pass on the one free worker.
    for (int minute = 1; minute <= 4; ++minute) {
      auto want = t0 + std::chrono::minutes(minute);
      ASSERT_TRUE(eventually([&] { return next.of("a") == want && next.of("b") == want; }))
          << "minute " << minute << ": a listed " << a.lists.load() << ", b " << b.lists.load();
      EXPECT_EQ(a.lists.load(), minute);
      EXPECT_EQ(b.lists.load(), minute);
      clock.advance(std::chrono::minutes(1));
    }
    EXPECT_EQ(hung.lists.load(), 0) << "the hung org's listing returned";
    EXPECT_LE(scheduler.workerThreads(), 2u);
    EXPECT_EQ(scheduler.skippedTicks()["a"], 0);
    EXPECT_EQ(scheduler.skippedTicks()["b"], 0);
    // The hung org shows as in its pass (the watchdog's pass limit bounds it).
    bool hungInPass = false;
    for (const auto& pr : scheduler.progress()) {
      if (pr.org == "hung") hungInPass = pr.passStarted.has_value();
    }
    EXPECT_TRUE(hungInPass);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace bulkwarden::engine
