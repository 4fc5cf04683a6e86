// `bulkwarden validate --connect` against the simulated org: logs in, reads one page, and warns
// (without failing) when the integration user lacks "Manage Data Integrations".
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

constexpr const char* kPolicy = R"(policies:
  - name: abort-stuck-queries
    resource: query-jobs
    filters:
      - state: [InProgress]
    action: abort
)";

class ValidateConnect : public EndToEnd {};

TEST_F(ValidateConnect, WarnsWhenTheUserLacksManageDataIntegrations) {
  startSim();
  addJobs(3, "query", "InProgress", std::chrono::hours(1));
  org().setManageDataIntegrations(false);
  auto config = writeConfig(kPolicy);
  EXPECT_EQ(run({"validate", "--config", config, "--connect"}), 0) << err();
  EXPECT_NE(out().find("test-org: connected to"), std::string::npos) << out();
  EXPECT_NE(out().find("3 query job(s) on the first page"), std::string::npos) << out();
  EXPECT_NE(err().find("bulkwarden.yaml:2:5: warning: org test-org: the integration user "
                       "005R0000000bWkzIAE lacks \"Manage Data Integrations\""),
            std::string::npos)
      << err();
}

TEST_F(ValidateConnect, SaysNothingWhenTheUserHoldsThePermission) {
  startSim();
  auto config = writeConfig(kPolicy);
  EXPECT_EQ(run({"validate", "--config", config, "--connect"}), 0) << err();
  EXPECT_NE(out().find("test-org: connected to"), std::string::npos) << out();
  EXPECT_EQ(err().find("Manage Data Integrations"), std::string::npos) << err();
}

TEST_F(ValidateConnect, AnOrgThatRefusesTheSessionExits69) {
  startSim();
  auto config = writeConfig(kPolicy, "00Dwrong!token");
  EXPECT_EQ(run({"validate", "--config", config, "--connect"}), 69) << err();
  EXPECT_NE(err().find("org test-org: cannot connect"), std::string::npos) << err();
}

// Without --connect nothing is sent.
TEST_F(ValidateConnect, PlainValidateMakesNoCall) {
  startSim();
  auto config = writeConfig(kPolicy);
  EXPECT_EQ(run({"validate", "--config", config}), 0) << err();
  EXPECT_EQ(org().counters().requests, 0);
}

// The permission model against the real binary: without "Manage Data Integrations" the user's
// own jobs are aborted and the others end `not-permitted`, each with the hint naming the
// permission, while the pass goes on.
class Permissions : public EndToEnd {};

TEST_F(Permissions, OtherUsersJobsEndNotPermittedWithTheHintAndOwnJobsAreAborted) {
  startSim();
  org().setManageDataIntegrations(false);
  const auto others = addJobs(3, "query", "InProgress", std::chrono::hours(1));  // another user's
  std::vector<std::string> own;
  for (int i = 0; i < 2; ++i) {
    sim::JobSeed s;
    s.kind = "query";
    s.state = "InProgress";
    s.age = std::chrono::hours(1);
    s.createdById = "005R0000000bWkzIAE";  // the session's user
    own.push_back(org().addJob(s));
  }
  auto config = writeConfig(std::string(kPolicy) + "    mode: enforce\n");
  EXPECT_EQ(run({"run", "--once", "--config", config}), 69) << err();
  for (const auto& id : own) EXPECT_EQ(org().state(id), "Aborted") << id;
  for (const auto& id : others) EXPECT_EQ(org().state(id), "InProgress") << id;
  std::map<std::string, Poco::JSON::Object::Ptr> byJob;
  for (auto& r : audit("result")) byJob[r->getObject("job")->getValue<std::string>("id")] = r;
  ASSERT_EQ(byJob.size(), 5u);
  for (const auto& id : own) EXPECT_EQ(byJob[id]->getValue<std::string>("outcome"), "applied");
  for (const auto& id : others) {
    EXPECT_EQ(byJob[id]->getValue<std::string>("outcome"), "not-permitted") << id;
    EXPECT_EQ(byJob[id]->getValue<int>("http"), 403);
    EXPECT_NE(byJob[id]->getValue<std::string>("hint").find("\"Manage Data Integrations\""),
              std::string::npos)
        << byJob[id]->getValue<std::string>("hint");
  }
  auto end = audit("run-end");
  ASSERT_EQ(end.size(), 1u);
  EXPECT_EQ(end[0]->getObject("outcomes")->getValue<int>("not-permitted"), 3);
  // Logged once per pass, not once per job.
  const std::string e = err();
  const auto first = e.find("Manage Data Integrations");
  ASSERT_NE(first, std::string::npos) << e;
  EXPECT_EQ(e.find("further refusals this pass are in the audit trail only"),
            e.rfind("further refusals this pass are in the audit trail only"));
  EXPECT_EQ(run({"audit", "verify", auditPath()}), 0) << err();
}

// `validate` warns about a delete policy that can match UploadComplete ingest jobs (Salesforce
// deletes them, cancelling the queued load), and not about one limited to finished states.
class DeleteWarning : public EndToEnd {};

TEST_F(DeleteWarning, ValidateWarnsOnlyWhenUploadCompleteCanMatch) {
  startSim();
  auto policy = [](const char* states) {
    return fmt::format(R"(policies:
  - name: delete-ingest
    resource: ingest-jobs
    filters:
      - state: {}
      - older-than: {{ field: systemModstamp, age: 1d }}
    action: delete
)",
                       states);
  };
  auto config = writeConfig(policy("[JobComplete, Failed, Aborted]"));
  EXPECT_EQ(run({"validate", "--config", config}), 0) << err();
  EXPECT_EQ(err().find("UploadComplete"), std::string::npos) << err();
  EXPECT_EQ(err().find("warning"), std::string::npos) << err();
  config = writeConfig(policy("[UploadComplete, JobComplete]"));
  EXPECT_EQ(run({"validate", "--config", config}), 0) << err();
  EXPECT_NE(err().find("warning: delete policy 'delete-ingest' can match ingest jobs in "
                       "UploadComplete"),
            std::string::npos)
      << err();
}

}  // namespace
}  // namespace bulkwarden::testing
