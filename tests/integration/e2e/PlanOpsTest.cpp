// `plan` as an operator runs it (filters, sorted output, totals, --detailed-exitcode, JSON with
// structured held-back reasons, the daemon's state read read-only), `run --once --dry-run`
// leaving the schedule alone, and the command line's hint for a subcommand given too late.
// The real binary against the simulated org.
#include <gtest/gtest.h>
#include <unistd.h>

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/JSON/Parser.h>

#include <fstream>
#include <sstream>

#include "state/SqliteStateStore.h"
#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

sim::JobSeed job(const char* state, std::chrono::milliseconds age, std::string object = "Account") {
  sim::JobSeed s;
  s.kind = "query";
  s.state = state;
  s.age = age;
  s.object = std::move(object);
  return s;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every file of a folder but the database's, with its bytes; and the database's tables of the
// schedule's state, row by row: what "nothing of the schedule was written" means (the API
// budget's ledger, `api_calls`, is a record of calls made, which plan adds to).
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("state.sqlite", 0) == 0) continue;
    out[name] = slurp(e.path());
  }
  if (!fs::exists(dir / "state.sqlite")) return out;
  Poco::Data::SQLite::Connector::registerConnector();
  Poco::Data::Session db("SQLite", "file:" + (dir / "state.sqlite").string() + "?mode=ro");
  for (const char* table : {"job_state", "last_pass", "org_facts"}) {
    Poco::Data::Statement select(db);
    select << "SELECT * FROM " << table << " ORDER BY 1, 2, 3";
    select.execute();
    Poco::Data::RecordSet rows(select);
    std::string text;
    for (bool more = rows.moveFirst(); more; more = rows.moveNext()) {
      for (size_t c = 0; c < rows.columnCount(); ++c) text += rows[c].convert<std::string>() + "|";
      text += "\n";
    }
    out[std::string("table ") + table] = text;
  }
  return out;
}

// The calls the API budget's ledger holds for the org.
int64_t ledgerCalls(const fs::path& dir) {
  Poco::Data::SQLite::Connector::registerConnector();
  Poco::Data::Session db("SQLite", "file:" + (dir / "state.sqlite").string() + "?mode=ro");
  Poco::Int64 n = 0;
  db << "SELECT coalesce(sum(calls), 0) FROM api_calls", Poco::Data::Keywords::into(n),
      Poco::Data::Keywords::now;
  return n;
}

class PlanOps : public EndToEnd {};

constexpr const char* kTwoPolicies = R"(policies:
  - name: report-old-api
    resource: query-jobs
    filters: [ { state: InProgress }, { object: Contact } ]
    action: report
  - name: abort-stuck
    resource: query-jobs
    mode: enforce
    filters: [ { state: InProgress }, { older-than: 30m } ]
    action: abort
    exempt: [ { object: Lead, reason: nightly } ]
)";

TEST_F(PlanOps, FiltersSortsTotalsAndADetailedExitCode) {
  startSim();
  auto b = org().addJob(job("InProgress", hours(2)));
  auto a = org().addJob(job("InProgress", hours(3)));
  auto lead = org().addJob(job("InProgress", hours(3), "Lead"));
  auto contact = org().addJob(job("InProgress", minutes(1), "Contact"));
  auto config = writeConfig(kTwoPolicies);

  ASSERT_EQ(run({"plan", "--config", config}), 0) << err();
  std::string o = out();
  // Sorted by policy name (abort-stuck before report-old-api, though loaded after), then job id.
  auto abortAt = o.find(
      "abort-stuck on test-org (abort, enforce): 2 job(s) would be aborted, 1 "
      "held back");
  auto reportAt = o.find(
      "report-old-api on test-org (report, dry-run): 1 job(s) would be "
      "reported, 0 held back");
  ASSERT_NE(abortAt, std::string::npos) << o;
  ASSERT_NE(reportAt, std::string::npos) << o;
  EXPECT_LT(abortAt, reportAt);
  std::string first = std::min(a, b), second = std::max(a, b);
  EXPECT_LT(o.find(first), o.find(second)) << o;
  EXPECT_NE(o.find("total: 2 abort, 0 delete, 1 report; 1 held back"), std::string::npos) << o;

  // --detailed-exitcode: 2 when an abort would be sent.
  EXPECT_EQ(run({"plan", "--config", config, "--detailed-exitcode"}), 2) << err();
  // Only the report policy: nothing would be sent.
  EXPECT_EQ(run({"plan", "--config", config, "--detailed-exitcode", "--policy", "report-old-api"}),
            0)
      << err();
  EXPECT_NE(out().find(contact), std::string::npos) << out();
  EXPECT_EQ(out().find("abort-stuck"), std::string::npos) << out();
  EXPECT_NE(out().find("total: 0 abort, 0 delete, 1 report"), std::string::npos) << out();
  // Names that do not exist are usage errors, with a suggestion.
  EXPECT_EQ(run({"plan", "--config", config, "--policy", "abort-stuk"}), 64);
  EXPECT_NE(err().find("did you mean 'abort-stuck'?"), std::string::npos) << err();
  EXPECT_EQ(run({"plan", "--config", config, "--org", "prod"}), 64);
  EXPECT_EQ(run({"plan", "--config", config, "--org", "test-org", "--policy", "abort-stuck"}), 0)
      << err();
  EXPECT_NE(out().find(lead), std::string::npos);
  EXPECT_EQ(org().counters().patches, 0);
}

TEST_F(PlanOps, JsonHasEveryJobFieldAndStructuredHeldReasons) {
  startSim();
  auto lead = org().addJob(job("InProgress", hours(3), "Lead"));
  org().addJob(job("InProgress", hours(3)));
  auto config = writeConfig(kTwoPolicies);
  ASSERT_EQ(run({"plan", "--config", config, "--format", "json", "--policy", "abort-stuck"}), 0)
      << err();
  Poco::JSON::Parser parser;
  auto passes = parser.parse(out()).extract<Poco::JSON::Array::Ptr>();
  ASSERT_EQ(passes->size(), 1u) << out();
  auto pass = passes->getObject(0);
  EXPECT_EQ(pass->getValue<std::string>("org"), "test-org");
  auto policies = pass->getArray("policies");
  ASSERT_EQ(policies->size(), 1u);
  auto p = policies->getObject(0);
  EXPECT_EQ(p->getValue<int>("would"), 1);
  EXPECT_EQ(p->getValue<int>("held"), 1);
  auto jobs = p->getArray("jobs");
  ASSERT_EQ(jobs->size(), 2u);
  bool sawLead = false;
  for (size_t i = 0; i < jobs->size(); ++i) {
    auto j = jobs->getObject(i);
    // The old keys and every listed field.
    for (const char* key : {"id", "state", "object", "createdDate", "reason", "operation",
                            "createdById", "systemModstamp", "apiVersion", "jobType",
                            "concurrencyMode", "contentType", "lineEnding", "columnDelimiter"}) {
      EXPECT_TRUE(j->has(key)) << key;
    }
    if (j->getValue<std::string>("id") == lead) {
      sawLead = true;
      EXPECT_NE(j->getValue<std::string>("held").find("nightly"), std::string::npos);
      auto hb = j->getObject("held_back");
      ASSERT_TRUE(hb);
      EXPECT_EQ(hb->getValue<std::string>("kind"), "exempt");
      EXPECT_NE(hb->getValue<std::string>("reason").find("exempted by"), std::string::npos);
    } else {
      EXPECT_FALSE(j->has("held_back"));
    }
  }
  EXPECT_TRUE(sawLead);
}

// "Broken" 6: plan for an in-state-for policy counts from the daemon's first sightings, and
// reads its state store without writing it.
TEST_F(PlanOps, PlanReadsTheDaemonsStateAndWritesNothing) {
  startSim();
  auto id = org().addJob(job("InProgress", hours(5)));
  auto config = writeConfig(R"(policies:
  - name: abort-stuck
    resource: query-jobs
    schedule: { every: 1h }
    filters: [ { state: InProgress }, { in-state-for: 1s } ]
    action: abort
)");
  // No state yet: plan creates none.
  ASSERT_EQ(run({"plan", "--config", config}), 0) << err();
  EXPECT_FALSE(fs::exists(dir_ / "state" / "state.sqlite"));
  // The daemon's first sighting (a dry-run policy: it records, sends nothing).
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  ASSERT_TRUE(fs::exists(dir_ / "state" / "state.sqlite"));
  auto before = snapshot(dir_ / "state");
  // Once a second has passed since that sighting, plan says the job would be aborted; a plan
  // that counted from its own first sighting would keep saying 0.
  int rc = 0;
  bool matched = waitFor([&] {
    rc = run({"plan", "--config", config});
    return rc != 0 || out().find("1 job(s) would be aborted") != std::string::npos;
  });
  ASSERT_TRUE(matched) << out() << err();
  EXPECT_EQ(rc, 0) << err();
  EXPECT_NE(out().find(id), std::string::npos) << out();
  // Nothing of the schedule written, no file created; its calls are in the ledger.
  EXPECT_EQ(snapshot(dir_ / "state"), before);
  EXPECT_EQ(org().counters().patches, 0);
}

// Issue 15 "never exceeded": plan's and validate --connect's calls go to the API budget's
// ledger (a running daemon and a restart count them), and neither calls once the budget is spent.
TEST_F(PlanOps, PlanAndValidateConnectSpendTheBudgetInTheLedger) {
  startSim();
  org().addJob(job("InProgress", hours(5)));
  auto config = writeConfig(R"(policies:
  - name: abort-stuck
    resource: query-jobs
    schedule: { every: 1h }
    filters: [ { state: InProgress }, { older-than: 1h } ]
    action: abort
)",
                            "", "api-budget: 40\n");
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  const int64_t daemon = ledgerCalls(dir_ / "state");
  ASSERT_GT(daemon, 0);
  auto requests = [&] { return org().counters().requests; };
  int64_t before = requests();
  ASSERT_EQ(run({"plan", "--config", config}), 0) << err();
  int64_t planSent = requests() - before;
  ASSERT_GT(planSent, 0);
  // Written ahead in chunks: at least what it sent, never less.
  const int64_t afterPlan = ledgerCalls(dir_ / "state");
  EXPECT_GE(afterPlan - daemon, planSent);
  before = requests();
  ASSERT_EQ(run({"validate", "--connect", "--config", config}), 0) << err();
  int64_t validateSent = requests() - before;
  ASSERT_GT(validateSent, 0);
  EXPECT_GE(ledgerCalls(dir_ / "state") - afterPlan, validateSent);

  // Spend the rest (plans until one is refused): then plan and validate --connect send nothing.
  bool refused = false;
  for (int i = 0; i < 40 && !refused; ++i) refused = run({"plan", "--config", config}) != 0;
  ASSERT_TRUE(refused) << "40 plans never met the budget of 40 calls";
  EXPECT_LE(ledgerCalls(dir_ / "state"), 40);
  before = requests();
  EXPECT_NE(run({"plan", "--config", config}), 0);
  EXPECT_NE(err().find("API budget"), std::string::npos) << err();
  EXPECT_NE(run({"validate", "--connect", "--config", config}), 0);
  EXPECT_NE(err().find("API budget"), std::string::npos) << err();
  EXPECT_EQ(requests(), before) << "a call went out with the budget spent";
}

// `plan` run by another user than the daemon's (root beside the stopped service, as
// docs/operations.md shows) cannot write the daemon's ledger: it says so and still plans from
// the state it read (it used to lose that state and fail: the boot test found it).
TEST_F(PlanOps, PlanByAnotherUserThanTheDaemonsStillPlansAndSaysItsCallsAreNotCounted) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the state-dir to another user";
  startSim();
  org().addJob(job("InProgress", hours(5)));
  auto config = writeConfig(R"(policies:
  - name: abort-stuck
    resource: query-jobs
    schedule: { every: 1h }
    filters: [ { state: InProgress }, { older-than: 1h } ]
    action: abort
)");
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  org().addJob(job("InProgress", hours(5)));
  for (const auto& e : fs::recursive_directory_iterator(dir_ / "state")) {
    ASSERT_EQ(::lchown(e.path().c_str(), 65534, 65534), 0) << e.path();
  }
  ASSERT_EQ(::lchown((dir_ / "state").c_str(), 65534, 65534), 0);
  EXPECT_EQ(run({"plan", "--config", config}), 0) << err();
  EXPECT_NE(err().find("cannot write the API budget's ledger"), std::string::npos) << err();
  EXPECT_NE(out().find("abort-stuck"), std::string::npos) << out();
}

// A fixed api-budget above the org's allowance (as the daemon last read it): validate and plan
// warn, naming both.
TEST_F(PlanOps, AFixedBudgetAboveTheAllowanceIsAWarning) {
  startSim();
  auto config = writeConfig(R"(policies:
  - name: report-stuck
    resource: query-jobs
    filters: [ { state: InProgress } ]
    action: report
)",
                            "", "api-budget: 9000000\n");
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();  // learns the allowance
  ASSERT_EQ(run({"validate", "--config", config}), 0) << err();
  std::string all = out() + err();
  EXPECT_NE(all.find("api-budget 9,000,000 calls a day is above the org's whole daily allowance"),
            std::string::npos)
      << all;
  ASSERT_EQ(run({"plan", "--config", config}), 0) << err();
  all = out() + err();
  EXPECT_NE(all.find("caps it at the allowance"), std::string::npos) << all;
}

// "Broken" 6: a dry run leaves the daemon's schedule (last passes) alone.
TEST_F(PlanOps, RunOnceDryRunLeavesTheScheduleAlone) {
  startSim();
  org().addJob(job("InProgress", hours(5)));
  auto config = writeConfig(R"(policies:
  - name: report-stuck
    resource: query-jobs
    schedule: { every: 1h }
    filters: [ { state: InProgress } ]
    action: report
)");
  auto lastPass = [&] {
    auto store = state::readStateReadOnly((dir_ / "state" / "state.sqlite").string(), 100);
    return store->lastPass("test-org", "report-stuck");
  };
  ASSERT_EQ(run({"run", "--once", "--dry-run", "--config", config}), 0) << err();
  EXPECT_FALSE(lastPass().has_value());
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  auto recorded = lastPass();
  ASSERT_TRUE(recorded.has_value());
  ASSERT_EQ(run({"run", "--once", "--dry-run", "--config", config}), 0) << err();
  EXPECT_EQ(lastPass(), recorded);
}

TEST_F(PlanOps, ASubcommandAfterAGlobalOptionGetsAHint) {
  startSim();
  auto config = writeConfig(kTwoPolicies);
  EXPECT_EQ(run({"--config", config, "validate"}), 64);
  EXPECT_NE(err().find("subcommands come first: bulkwarden validate --config " + config),
            std::string::npos)
      << err();
}

TEST_F(PlanOps, ValidateWarnsOfAnExpiredExemptionWithItsPlace) {
  startSim();
  auto config = writeConfig(R"(policies:
  - name: abort-stuck
    resource: query-jobs
    filters: [ { state: InProgress } ]
    action: abort
    exempt: [ { job: 750R0000000zlh9IAA, until: 2020-01-01T00:00:00Z } ]
)",
                            "", "exempt:\n  - { object: Lead, until: 2021-01-01T00:00:00Z }\n");
  ASSERT_EQ(run({"validate", "--config", config}), 0) << err();
  EXPECT_NE(err().find("policies.yaml:6:15: warning: this exemption expired at 2020-01-01"),
            std::string::npos)
      << err();
  EXPECT_NE(err().find("bulkwarden.yaml:13:5: warning: this exemption expired at 2021-01-01"),
            std::string::npos)
      << err();
}

}  // namespace
}  // namespace bulkwarden::testing
