// The five policies of issue 16's trial, as shipped in policies/cookbook/first-week.yaml and
// worked through in docs/policies.md section 11: the real binary validates the file, `plan`
// against the simulated org says what each policy would do, and `schedule` says when the nightly
// delete runs (Monday to Friday, 02:00 Paris time).
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "model/Time.h"
#include "state/SqliteStateStore.h"
#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

const std::string kCookbook =
    std::string(BULKWARDEN_SOURCE_DIR) + "/policies/cookbook/first-week.yaml";
constexpr const char* kIntegrationUser = "005R0000000IntgAAA";
constexpr const char* kExemptJob = "750R0000000MnthAAA";
constexpr const char* kShippedUntil = "2026-12-03T08:00:00Z";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class Cookbook : public EndToEnd {
 protected:
  std::string add(const char* kind, const char* state, std::chrono::milliseconds age,
                  const char* object = "Account", double apiVersion = 62.0,
                  std::chrono::milliseconds modifiedAgo = std::chrono::milliseconds(-1),
                  const char* createdBy = "005R0000000GiwjIAC", const char* id = "") {
    sim::JobSeed s;
    s.id = id;
    s.kind = kind;
    s.state = state;
    s.age = age;
    s.object = object;
    s.apiVersion = apiVersion;
    s.modifiedAgo = modifiedAgo;
    s.createdById = createdBy;
    return org().addJob(s);
  }
};

TEST_F(Cookbook, TheFirstWeekPoliciesValidatePlanAndScheduleAsDocumented) {
  startSim();
  // 1. Account ingest jobs in UploadComplete: stuck for 2 h (aborted), the integration user's
  //    (exempt), 10 minutes (too soon), and a Contact one (another object).
  auto stuckIngest = add("ingest", "UploadComplete", hours(3), "Account", 62.0, hours(2));
  auto integration =
      add("ingest", "UploadComplete", hours(3), "Account", 62.0, hours(2), kIntegrationUser);
  add("ingest", "UploadComplete", hours(1), "Account", 62.0, minutes(10));
  add("ingest", "UploadComplete", hours(3), "Contact", 62.0, hours(2));
  // 2. Failed and Aborted query jobs created 8 and 10 days ago (deleted; they finished within
  //    the week, or Salesforce would have removed them), 2 days ago (too young), and a
  //    JobComplete one (another state).
  auto failedOld = add("query", "Failed", hours(24 * 8), "Account", 62.0, hours(24));
  auto abortedOld = add("query", "Aborted", hours(24 * 10), "Account", 62.0, hours(48));
  add("query", "Failed", hours(48));
  add("query", "JobComplete", hours(24 * 8), "Account", 62.0, hours(24));
  // 3. API versions below 55.0, one of each resource.
  auto oldApiQuery = add("query", "JobComplete", hours(1), "Account", 54.0);
  auto oldApiIngest = add("ingest", "JobComplete", hours(1), "Account", 52.0);
  // 4. Query jobs InProgress: seen so for 3 hours by the daemon (aborted), the one exempted
  //    for a day (held), and one the daemon has not seen before (in state for 0 s).
  auto running = add("query", "InProgress", hours(3));
  auto exempt = add("query", "InProgress", hours(3), "Account", 62.0, std::chrono::milliseconds(-1),
                    "005R0000000GiwjIAC", kExemptJob);
  auto unseen = add("query", "InProgress", hours(5));
  ASSERT_EQ(exempt, kExemptJob);

  // The file as shipped validates (its exemption may have expired by the time this runs: a
  // warning, not an error).
  std::string cfg = writeConfig("policies: []\n");
  std::string text = slurp(kCookbook);
  ASSERT_FALSE(text.empty()) << kCookbook;
  {
    std::string c = slurp(cfg);
    auto at = c.find("policies: [policies.yaml]");
    ASSERT_NE(at, std::string::npos);
    c.replace(at, std::string("policies: [policies.yaml]").size(),
              "policies: [\"" + kCookbook + "\"]");
    writeFile(dir_ / "shipped.yaml", c);
  }
  ASSERT_EQ(run({"validate", "--config", (dir_ / "shipped.yaml").string()}), 0) << err();
  for (const char* name :
       {"abort-stuck-account-ingest", "delete-old-failed-queries", "report-old-api-queries",
        "report-old-api-ingest", "abort-long-running-queries"}) {
    EXPECT_NE(out().find(name), std::string::npos) << name << "\n" << out();
  }

  // The same policies, with the one-day exemption starting now and in enforce, as an admin runs
  // them after the dry-run week.
  auto now =
      std::chrono::time_point_cast<model::Timestamp::duration>(std::chrono::system_clock::now());
  auto until = text.find(kShippedUntil);
  ASSERT_NE(until, std::string::npos);
  text.replace(until, std::string(kShippedUntil).size(), model::formatRfc3339(now + hours(24)));
  for (size_t at; (at = text.find("mode: dry-run")) != std::string::npos;) {
    text.replace(at, std::string("mode: dry-run").size(), "mode: enforce");
  }
  writeFile(dir_ / "policies.yaml", text);
  // The daemon saw the running jobs InProgress 3 hours ago (its state store; plan reads it).
  fs::create_directories(dir_ / "state");
  fs::permissions(dir_ / "state", fs::perms::owner_all);
  {
    state::SqliteStateStore store((dir_ / "state" / "state.sqlite").string());
    std::vector<model::Job> seen(2);
    seen[0].id = running;
    seen[1].id = kExemptJob;
    for (auto& j : seen) {
      j.kind = model::ResourceKind::Query;
      j.state = model::JobState::InProgress;
    }
    (void)store.observe("test-org", model::ResourceKind::Query, seen, now - hours(3));
  }

  ASSERT_EQ(run({"plan", "--config", cfg, "--format", "json"}), 0) << err();
  Poco::JSON::Parser parser;
  auto passes = parser.parse(out()).extract<Poco::JSON::Array::Ptr>();
  struct Seen {
    int would = -1, held = -1;
    std::set<std::string> acting, heldIds;
  };
  std::map<std::string, Seen> byPolicy;
  for (size_t i = 0; i < passes->size(); ++i) {
    auto policies = passes->getObject(i)->getArray("policies");
    for (size_t k = 0; k < policies->size(); ++k) {
      auto p = policies->getObject(k);
      Seen& s = byPolicy[p->getValue<std::string>("policy")];
      s.would = p->getValue<int>("would");
      s.held = p->getValue<int>("held");
      auto jobs = p->getArray("jobs");
      for (size_t j = 0; j < jobs->size(); ++j) {
        auto job = jobs->getObject(j);
        (job->has("held") ? s.heldIds : s.acting).insert(job->getValue<std::string>("id"));
      }
    }
  }
  ASSERT_EQ(byPolicy.size(), 5u) << out();
  using Ids = std::set<std::string>;
  EXPECT_EQ(byPolicy["abort-stuck-account-ingest"].acting, Ids{stuckIngest}) << out();
  EXPECT_EQ(byPolicy["abort-stuck-account-ingest"].heldIds, Ids{integration}) << out();
  EXPECT_EQ(byPolicy["delete-old-failed-queries"].acting, (Ids{failedOld, abortedOld})) << out();
  EXPECT_TRUE(byPolicy["delete-old-failed-queries"].heldIds.empty());
  EXPECT_EQ(byPolicy["report-old-api-queries"].acting, Ids{oldApiQuery}) << out();
  EXPECT_EQ(byPolicy["report-old-api-ingest"].acting, Ids{oldApiIngest}) << out();
  EXPECT_EQ(byPolicy["abort-long-running-queries"].acting, Ids{running}) << out();
  EXPECT_EQ(byPolicy["abort-long-running-queries"].heldIds, Ids{kExemptJob}) << out();
  EXPECT_EQ(byPolicy["abort-long-running-queries"].acting.count(unseen), 0u);
  // The table: totals, and an exit code that says actions would be sent.
  EXPECT_EQ(run({"plan", "--config", cfg, "--detailed-exitcode"}), 2) << err();
  EXPECT_NE(out().find("total: 2 abort, 2 delete, 2 report; 2 held back"), std::string::npos)
      << out();
  EXPECT_EQ(org().counters().patches, 0);
  EXPECT_EQ(org().counters().deletes, 0);

  // When: from Friday 2026-12-04 13:00 Paris, the nightly delete runs Monday to Friday at 02:00
  // Paris time (01:00Z in winter), never at the weekend.
  ASSERT_EQ(run({"schedule", "--config", cfg, "--from", "2026-12-04T12:00:00Z", "--count", "5",
                 "--format", "json"}),
            0)
      << err();
  auto sched = Poco::JSON::Parser().parse(out()).extract<Poco::JSON::Array::Ptr>();
  std::vector<std::string> nightly;
  for (size_t i = 0; i < sched->size(); ++i) {
    auto p = sched->getObject(i);
    if (p->getValue<std::string>("policy") != "delete-old-failed-queries") continue;
    auto next = p->getArray("next");
    for (size_t k = 0; k < next->size(); ++k) nightly.push_back(next->getElement<std::string>(k));
  }
  EXPECT_EQ(nightly, (std::vector<std::string>{"2026-12-07T01:00:00Z", "2026-12-08T01:00:00Z",
                                               "2026-12-09T01:00:00Z", "2026-12-10T01:00:00Z",
                                               "2026-12-11T01:00:00Z"}))
      << out();
  ASSERT_EQ(run({"schedule", "--config", cfg, "--from", "2026-12-04T12:00:00Z", "--count", "2"}), 0)
      << err();
  EXPECT_NE(out().find("cron \"0 2 * * mon-fri\" Europe/Paris"), std::string::npos) << out();
  EXPECT_NE(out().find("Mon 2026-12-07 02:00 +01:00"), std::string::npos) << out();
}

}  // namespace
}  // namespace bulkwarden::testing
