// The API budget's ledger shared by the nodes of a cluster (cluster/PgLedgerStore.h, issue #15)
// against a real PostgreSQL (PgServer): two nodes' budgets of one org, each on its own store
// (its node name, its own local store) and one database, spend one budget between them, never
// more; and a database that cannot be written makes the budget refuse the call, never send it
// uncounted.
#include <gtest/gtest.h>

#include "cluster/PgLedgerStore.h"
#include "cluster/Schema.h"
#include "engine/ApiBudget.h"
#include "support/PgServer.h"

namespace bulkwarden::testing {
namespace {

using namespace std::chrono_literals;
using engine::ApiBudget;
using salesforce::CallPurpose;

class StepClock : public model::Clock {
 public:
  model::Timestamp now() const override { return now_; }
  bool sleepUntil(model::Timestamp, const model::StopSignal& stop) const override {
    return stop.requested();
  }
  void advance(model::Duration d) { now_ += d; }

 private:
  model::Timestamp now_ = *model::parseTimestamp("2026-12-01T12:00:30Z");
};

model::BudgetSpec calls(int64_t n) {
  model::BudgetSpec s;
  s.calls = n;
  return s;
}

// Calls admitted of `n` asked.
int spend(ApiBudget& b, int n, CallPurpose p = CallPurpose::List) {
  int sent = 0;
  for (int i = 0; i < n; ++i) {
    if (!b.admit(p)) ++sent;
  }
  return sent;
}

class ClusterLedger : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_ = std::make_unique<PgServer>();
    cluster::PgConnection db(pg_->conninfo(), "", 5s);
    cluster::ensureSchema(db);
  }
  std::shared_ptr<cluster::PgLedgerStore> store(const std::string& node,
                                                const std::string& conninfo = "") {
    return std::make_shared<cluster::PgLedgerStore>(std::make_shared<state::MemoryStateStore>(),
                                                    conninfo.empty() ? pg_->conninfo() : conninfo,
                                                    "", node, 2s);
  }
  int64_t total(const std::string& org) const {
    auto r =
        pg_->query("SELECT coalesce(sum(calls), 0) FROM bw_api_calls WHERE org = '" + org + "'");
    return r.empty() ? -1 : std::stoll(r[0]);
  }

  std::unique_ptr<PgServer> pg_;
  StepClock clock_;
};

// Node A spends most of the org's budget; node B, which takes the org over, counts A's calls
// once it refreshes (what it does before its first call on a taken org) and gets only the rest.
// Written in chunks ahead (a budget of 400: four calls per commit), the calls admitted by both,
// and the shared total, never pass the budget; calls aging out of the window free it again.
TEST_F(ClusterLedger, TwoNodesSpendOneBudgetBetweenThem) {
  auto storeA = store("node-a");
  auto storeB = store("node-b");
  ApiBudget a("org-1", calls(400), clock_);
  ApiBudget b("org-1", calls(400), clock_);
  a.attach(*storeA);
  b.attach(*storeB);
  ApiBudget other("org-2", calls(400), clock_);  // another org's ledger is its own
  other.attach(*storeB);

  int admitted = spend(a, 150);
  clock_.advance(1min);
  admitted += spend(a, 150, CallPurpose::Action);
  EXPECT_EQ(admitted, 300);
  const int64_t written = total("org-1");
  EXPECT_GE(written, 300);
  EXPECT_EQ(b.spent(), 0);  // not read yet
  ASSERT_TRUE(b.refresh());
  EXPECT_EQ(b.spent(), written);
  EXPECT_EQ(spend(b, 200), 400 - written);
  admitted += static_cast<int>(400 - written);
  EXPECT_EQ(total("org-1"), 400);
  EXPECT_EQ(spend(b, 1), 0);
  EXPECT_EQ(b.level(), engine::BudgetLevel::Exhausted);
  // A, refreshed, counts B's calls: it may use only what it wrote ahead and gives back.
  ASSERT_TRUE(a.refresh());
  admitted += spend(a, 50) + spend(a, 50, CallPurpose::Action);
  EXPECT_LE(admitted, 400);
  EXPECT_LE(total("org-1"), 400);
  EXPECT_EQ(spend(other, 10), 10);
  EXPECT_GE(total("org-2"), 10);
  EXPECT_LE(total("org-1"), 400);

  // A day later every call has aged out: the budget is whole again for both.
  clock_.advance(24h + 2min);
  ASSERT_TRUE(a.refresh());
  ASSERT_TRUE(b.refresh());
  EXPECT_EQ(b.spent(), 0);
  EXPECT_EQ(spend(b, 10), 10);
  ASSERT_TRUE(a.refresh());
  EXPECT_GE(a.spent(), 10);
}

// The table keeps one row per slot (minute mod 1441), purpose and node: a minute a day later
// takes its slot over, and calls given back to a minute its slot no longer holds change nothing.
TEST_F(ClusterLedger, ANewMinuteTakesItsSlotOverAndTheTableStaysBounded) {
  auto s = store("node-a");
  auto t = store("node-b");
  const int64_t m = 29'000'000;
  s->addCalls("org-3", m, "list", 5);
  t->addCalls("org-3", m, "list", 7);
  s->addCalls("org-3", m, "list", -2);
  auto sum = [&](int64_t since) {
    int64_t n = 0;
    for (const auto& c : s->callsSince("org-3", since)) n += c.calls;
    return n;
  };
  EXPECT_EQ(sum(m), 10);
  s->addCalls("org-3", m + cluster::kLedgerSlots, "list", 3);
  EXPECT_EQ(pg_->query("SELECT count(*) FROM bw_api_calls WHERE org = 'org-3'"),
            std::vector<std::string>{"2"});
  EXPECT_EQ(sum(m + 1), 3);
  EXPECT_EQ(sum(m), 10);                // node-b's 7 and node-a's 3
  s->addCalls("org-3", m, "list", -3);  // that minute is gone from node-a's row
  EXPECT_EQ(sum(m), 10);
  // A minute older than the slot's (a clock set back) adds to it: never fewer calls.
  s->addCalls("org-3", m, "list", 4);
  EXPECT_EQ(sum(m + 1), 7);
}

// A database that refuses the write (the grant revoked) or cannot be reached (stopped): the call
// is refused as not sent, with the API budget's code; nothing goes out uncounted.
TEST_F(ClusterLedger, ADatabaseErrorMakesTheBudgetRefuseTheCall) {
  pg_->query("CREATE ROLE bw_ledger LOGIN");
  pg_->query("GRANT SELECT, INSERT, UPDATE ON bw_api_calls TO bw_ledger");
  std::string ci = pg_->conninfo();
  ci.replace(ci.find("user=bulkwarden"), 15, "user=bw_ledger");
  auto s = store("node-a", ci);
  ApiBudget a("org-1", calls(100), clock_);  // one call per commit
  a.attach(*s);
  EXPECT_EQ(spend(a, 5), 5);
  EXPECT_EQ(total("org-1"), 5);

  pg_->query("REVOKE INSERT, UPDATE ON bw_api_calls FROM bw_ledger");
  auto refused = a.admit(CallPurpose::Action);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->code, salesforce::kBudgetErrorCode);
  EXPECT_FALSE(refused->sent);
  EXPECT_NE(refused->message.find("ledger could not be written"), std::string::npos)
      << refused->message;
  EXPECT_NE(refused->message.find("permission denied"), std::string::npos) << refused->message;
  EXPECT_EQ(total("org-1"), 5);

  pg_->query("GRANT INSERT, UPDATE ON bw_api_calls TO bw_ledger");
  EXPECT_EQ(spend(a, 1), 1);
  EXPECT_EQ(total("org-1"), 6);

  pg_->stop();
  refused = a.admit(CallPurpose::List);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->code, salesforce::kBudgetErrorCode);
  EXPECT_FALSE(a.refresh());  // nor can the ledger be read: a takeover waits
  pg_->start();
  EXPECT_EQ(spend(a, 1), 1);
  EXPECT_EQ(total("org-1"), 7);
  EXPECT_EQ(a.spent(), 7);
}

}  // namespace
}  // namespace bulkwarden::testing
