// The API budget (engine/ApiBudget.h) with an injected clock: the rolling 24-hour window, a
// restart that keeps the ledger (SQLite in a temporary state-dir), percent against count, an
// allowance not yet known, reservations for actions, and the rules as the budget runs low.
#include "engine/ApiBudget.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "state/SqliteStateStore.h"

namespace bulkwarden::engine {
namespace {

namespace fs = std::filesystem;
using salesforce::CallPurpose;

class StepClock : public model::Clock {
 public:
  model::Timestamp now() const override { return now_; }
  // Never waits: a stop request is the only answer.
  bool sleepUntil(model::Timestamp, const model::StopSignal& stop) const override {
    return stop.requested();
  }
  void advance(model::Duration d) { now_ += d; }

 private:
  model::Timestamp now_ = *model::parseTimestamp("2026-12-01T12:00:30Z");
};

BudgetSpec calls(int64_t n) {
  BudgetSpec s;
  s.calls = n;
  return s;
}

BudgetSpec percent(double p) {
  BudgetSpec s;
  s.percent = p;
  return s;
}

int spend(ApiBudget& b, int n, CallPurpose p = CallPurpose::List) {
  int sent = 0;
  for (int i = 0; i < n; ++i) {
    if (!b.admit(p)) ++sent;
  }
  return sent;
}

TEST(ApiBudgetSpec, ParsesCountsAndPercentagesAndRefusesTheRest) {
  auto a = model::parseBudget("5000");
  ASSERT_TRUE(std::holds_alternative<BudgetSpec>(a));
  EXPECT_EQ(std::get<BudgetSpec>(a).calls, 5000);
  auto b = model::parseBudget("12.5%");
  ASSERT_TRUE(std::holds_alternative<BudgetSpec>(b));
  EXPECT_EQ(std::get<BudgetSpec>(b).calls, 0);
  EXPECT_DOUBLE_EQ(std::get<BudgetSpec>(b).percent, 12.5);
  for (const char* bad : {"", "0", "-5", "0%", "101%", "10 %", "ten", "%", "1e400%", "nan%",
                          "99999999999999999999999", "5000x", "10%%"}) {
    EXPECT_TRUE(std::holds_alternative<std::string>(model::parseBudget(bad))) << bad;
  }
  EXPECT_TRUE(std::holds_alternative<std::string>(model::parseBudget(std::string(4096, '9'))));
}

TEST(ApiBudget, ACountBudgetRefusesTheCallThatWouldExceedIt) {
  StepClock clock;
  ApiBudget b("acme", calls(10), clock);
  EXPECT_EQ(spend(b, 10), 10);
  auto refused = b.admit(CallPurpose::Action);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, salesforce::kBudgetErrorCode);
  EXPECT_FALSE(refused->sent);
  EXPECT_EQ(b.spent(), 10);
  EXPECT_EQ(b.available(), 0);
  EXPECT_EQ(b.level(), BudgetLevel::Exhausted);
  EXPECT_EQ(b.totals()[static_cast<size_t>(CallPurpose::List)], 10);
  EXPECT_EQ(b.totals()[static_cast<size_t>(CallPurpose::Action)], 0);
}

TEST(ApiBudget, TheWindowRollsCallsOffAfterADayNeverBefore) {
  StepClock clock;
  ApiBudget b("acme", calls(10), clock);
  EXPECT_EQ(spend(b, 6), 6);
  clock.advance(std::chrono::hours(12));
  EXPECT_EQ(spend(b, 6), 4);  // 6 + 4: full
  clock.advance(std::chrono::hours(12) - std::chrono::seconds(1));
  EXPECT_EQ(b.spent(), 10) << "just under 24 h: nothing has aged out";
  EXPECT_EQ(spend(b, 1), 0);
  clock.advance(std::chrono::minutes(1) + std::chrono::seconds(1));
  EXPECT_EQ(b.spent(), 4) << "the first six are more than 24 h old";
  EXPECT_EQ(spend(b, 10), 6);
  clock.advance(std::chrono::hours(25));
  EXPECT_EQ(b.spent(), 0);
}

TEST(ApiBudget, APercentBudgetUsesTheSmallestAllowanceUntilTheOrgsIsKnown) {
  StepClock clock;
  ApiBudget b("acme", percent(10), clock);
  EXPECT_EQ(b.allowanceMax(), 0);
  EXPECT_EQ(b.limit(), kSmallestDailyAllowance / 10);
  b.allowance(100'000);
  EXPECT_EQ(b.limit(), 10'000);
  b.allowance(0);  // a header without a usable maximum changes nothing
  EXPECT_EQ(b.limit(), 10'000);
  ApiBudget tiny("dev", percent(0.01), clock);
  EXPECT_EQ(tiny.limit(), 1) << "a budget allows at least one call";
  ApiBudget fixed("acme", calls(300), clock);
  fixed.allowance(5'000'000);
  EXPECT_EQ(fixed.limit(), 300) << "a count is a count, whatever the allowance";
}

TEST(ApiBudget, ReservedCallsAreSetAsideAndUsedByTheirPurpose) {
  StepClock clock;
  ApiBudget b("acme", calls(10), clock);
  EXPECT_EQ(spend(b, 4), 4);
  EXPECT_EQ(b.reserve(CallPurpose::Action, 10), 6);
  EXPECT_EQ(b.available(), 0);
  EXPECT_TRUE(b.admit(CallPurpose::List)) << "a list page cannot take an action's call";
  EXPECT_EQ(spend(b, 2, CallPurpose::Action), 2);
  b.release(CallPurpose::Action, 4);
  EXPECT_EQ(b.available(), 4);
  EXPECT_EQ(spend(b, 5), 4);
  b.release(CallPurpose::Action, 100);  // more than reserved: nothing goes negative
  EXPECT_EQ(b.available(), 0);
}

TEST(ApiBudget, APassWhoseListingDoesNotFitDoesNotStart) {
  StepClock clock;
  ApiBudget b("acme", calls(100), clock);
  b.listed(model::ResourceKind::Query, 8);
  EXPECT_EQ(b.lastPages(model::ResourceKind::Query), 8);
  EXPECT_EQ(spend(b, 92), 92);  // 8 left: a listing of 8 pages and a margin of one does not fit
  auto why = b.passRefusal(model::ResourceKind::Query);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("cannot afford the listing"), std::string::npos) << *why;
  EXPECT_FALSE(b.passRefusal(model::ResourceKind::Ingest)) << "never listed: one page and one";
  EXPECT_EQ(b.stats().passesDeferred, 1);
}

TEST(ApiBudget, ALowBudgetSpacesPassesAndDefersFollowUps) {
  StepClock clock;
  ApiBudget b("acme", calls(1000), clock);
  EXPECT_FALSE(b.followUpRefusal(3));
  EXPECT_EQ(spend(b, 800), 800);  // 200 left: 20% < 25%, low
  EXPECT_EQ(b.level(), BudgetLevel::Low);
  EXPECT_EQ(b.stats().warnings, 1);
  EXPECT_TRUE(b.followUpRefusal(1));
  EXPECT_FALSE(b.passRefusal(model::ResourceKind::Query));  // the first pass runs
  // One page and one: 2 calls; 200 left last a day at one pass every 24 h * 2 / 200 = 14.4 min.
  EXPECT_TRUE(b.passRefusal(model::ResourceKind::Query));
  clock.advance(std::chrono::minutes(14));
  EXPECT_TRUE(b.passRefusal(model::ResourceKind::Query));
  clock.advance(std::chrono::seconds(30));
  EXPECT_FALSE(b.passRefusal(model::ResourceKind::Query));
  EXPECT_EQ(b.stats().warnings, 1) << "one warning per change of level, not per refusal";
  EXPECT_EQ(spend(b, 200), 200);
  EXPECT_EQ(b.level(), BudgetLevel::Exhausted);
  EXPECT_EQ(spend(b, 1), 0);
  EXPECT_EQ(b.stats().warnings, 2);
  EXPECT_GE(b.stats().followUpsDeferred, 1);
}

class ApiBudgetStore : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-budget-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string db() const { return (dir_ / "state.sqlite").string(); }
  fs::path dir_;
};

TEST_F(ApiBudgetStore, ARestartKeepsTheCallsOfTheLastDayAndTheAllowance) {
  StepClock clock;
  {
    state::SqliteStateStore store(db());
    ApiBudget b("acme", percent(10), clock);
    b.attach(store);
    b.allowance(1'000);  // a budget of 100
    EXPECT_EQ(spend(b, 60, CallPurpose::List), 60);
    clock.advance(std::chrono::hours(23));
    EXPECT_EQ(spend(b, 30, CallPurpose::FollowUp), 30);
    b.listed(model::ResourceKind::Query, 7);
  }
  {
    // The daemon restarted: the same 100, of which 90 are spent.
    state::SqliteStateStore store(db());
    ApiBudget b("acme", percent(10), clock);
    b.attach(store);
    EXPECT_EQ(b.limit(), 100) << "the allowance was kept";
    EXPECT_EQ(b.spent(), 90);
    EXPECT_EQ(b.lastPages(model::ResourceKind::Query), 7);
    EXPECT_EQ(spend(b, 20), 10);
    ApiBudget other("globex", percent(10), clock);
    other.attach(store);
    EXPECT_EQ(other.spent(), 0) << "each org has its own ledger";
  }
  clock.advance(std::chrono::hours(1) + std::chrono::minutes(2));
  {
    state::SqliteStateStore store(db());
    ApiBudget b("acme", percent(10), clock);
    b.attach(store);
    EXPECT_EQ(b.spent(), 40) << "the 60 list calls are more than a day old; 30 + 10 are not";
  }
}

TEST_F(ApiBudgetStore, CallsMadeBeforeTheStoreIsAttachedAreWrittenToIt) {
  StepClock clock;
  {
    state::SqliteStateStore store(db());
    ApiBudget b("acme", calls(50), clock);
    EXPECT_EQ(spend(b, 5, CallPurpose::Recovery), 5);
    b.attach(store);
    EXPECT_EQ(b.spent(), 5);
  }
  state::SqliteStateStore store(db());
  ApiBudget b("acme", calls(50), clock);
  b.attach(store);
  EXPECT_EQ(b.spent(), 5);
}

// A fixed budget above the org's whole allowance is capped at the allowance.
TEST(ApiBudget, AFixedBudgetAboveTheAllowanceIsCappedAtIt) {
  StepClock clock;
  ApiBudget b("acme", calls(50'000), clock);
  EXPECT_EQ(b.limit(), 50'000);  // the allowance not known yet
  b.allowance(15'000);
  EXPECT_EQ(b.limit(), 15'000);
  b.allowance(100'000);
  EXPECT_EQ(b.limit(), 50'000);
}

// `plan` (a LedgerStateStore over a snapshot) adds its calls to the daemon's ledger; the running
// daemon counts them at its next scheduled pass, and neither goes past the budget together.
TEST_F(ApiBudgetStore, AnotherCommandsCallsInTheLedgerCountForTheDaemon) {
  StepClock clock;
  state::SqliteStateStore daemonStore(db());
  ApiBudget daemon("acme", calls(30), clock);
  daemon.attach(daemonStore);
  EXPECT_EQ(spend(daemon, 10), 10);
  {
    state::LedgerStateStore planStore(db(), std::make_shared<state::MemoryStateStore>());
    ApiBudget plan("acme", calls(30), clock);
    plan.attach(planStore);
    EXPECT_EQ(plan.spent(), 10) << "plan reads the daemon's calls";
    EXPECT_EQ(spend(plan, 15), 15);
    // What plan wrote of the schedule's state stays in its memory.
    plan.listed(model::ResourceKind::Query, 9);
  }
  EXPECT_EQ(daemonStore.orgFact("acme", pagesFact(model::ResourceKind::Query)), std::nullopt);
  EXPECT_EQ(daemon.spent(), 10) << "not yet: the daemon reads the ledger at a pass";
  (void)daemon.passRefusal(model::ResourceKind::Query);
  EXPECT_EQ(daemon.spent(), 25);
  EXPECT_EQ(spend(daemon, 10), 5) << "the budget is shared: 30 in all";
  // A LedgerStateStore never creates a database.
  EXPECT_THROW(state::LedgerStateStore((dir_ / "none.sqlite").string(),
                                       std::make_shared<state::MemoryStateStore>()),
               state::StateError);
  EXPECT_FALSE(fs::exists(dir_ / "none.sqlite"));
}

TEST_F(ApiBudgetStore, AHostileLedgerCountsAtMostADayAndNeverNegative) {
  StepClock clock;
  const int64_t minute = clock.now().time_since_epoch().count() / 60'000;
  {
    state::SqliteStateStore store(db());
    store.addCalls("acme", minute, "list", -1'000'000);             // negative: counts nothing
    store.addCalls("acme", minute + 10'000'000, "list", 7);         // far future: counts now
    store.addCalls("acme", minute - 5, std::string(5000, 'x'), 3);  // unknown purpose: counts
    store.addCalls("acme", minute - 3000, "list", 1'000);           // older than a day
  }
  state::SqliteStateStore store(db());
  ApiBudget b("acme", calls(100), clock);
  b.attach(store);
  EXPECT_EQ(b.spent(), 10);
  clock.advance(std::chrono::hours(24) + std::chrono::minutes(2));
  EXPECT_EQ(b.spent(), 0) << "the future minute left the window a day later, like any call";
}

}  // namespace
}  // namespace bulkwarden::engine
