// `bulkwarden run --once` governing Bulk API 1.0 ("Classic") jobs against the simulated org: a
// policy whose job-types name Classic aborts a stuck 1.0 job through /services/async, with an
// intent and a result in the audit trail; without Classic the same job is left alone.
#include <gtest/gtest.h>

#include <map>

#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

std::string abortStuckIngest(const std::string& jobTypes) {
  return "policies:\n"
         "  - name: abort-stuck-ingest\n"
         "    resource: ingest-jobs\n"
         "    mode: enforce\n" +
         (jobTypes.empty() ? std::string() : "    job-types: " + jobTypes + "\n") +
         "    filters:\n"
         "      - state: [InProgress, UploadComplete]\n"
         "      - older-than: { field: createdDate, age: 1h }\n"
         "    action: abort\n";
}

class ClassicJobs : public EndToEnd {
 protected:
  std::string add(const char* state, const char* jobType, std::chrono::milliseconds age) {
    sim::JobSeed s;
    s.kind = "ingest";
    s.jobType = jobType;
    s.state = state;
    s.operation = "insert";
    s.age = age;
    return org().addJob(s);
  }
};

TEST_F(ClassicJobs, AStuckClassicJobIsAbortedThroughTheOnePointOhResource) {
  startSim();
  const auto stuckClassic = add("InProgress", "Classic", hours(5));
  const auto youngClassic = add("InProgress", "Classic", minutes(10));
  const auto doneClassic = add("JobComplete", "Classic", hours(5));
  const auto stuckV2 = add("InProgress", "", hours(5));
  std::vector<std::string> uris;
  std::mutex m;
  org().setRequestHook([&](const sim::SimRequest& r) {
    std::lock_guard lock(m);
    if (r.method != "GET") uris.push_back(r.method + " " + r.uri);
  });
  auto config = writeConfig(abortStuckIngest("[V2Ingest, Classic]"));
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();

  EXPECT_EQ(org().state(stuckClassic), "Aborted");
  EXPECT_EQ(org().appliedActions(stuckClassic), 1);
  EXPECT_EQ(org().state(stuckV2), "Aborted");
  EXPECT_EQ(org().appliedActions(youngClassic), 0);
  EXPECT_EQ(org().appliedActions(doneClassic), 0);
  {
    std::lock_guard lock(m);
    std::set<std::string> sent(uris.begin(), uris.end());
    EXPECT_EQ(sent.count("POST /services/async/62.0/job/" + stuckClassic), 1u);
    EXPECT_EQ(sent.count("PATCH /services/data/v62.0/jobs/ingest/" + stuckV2), 1u);
    EXPECT_EQ(uris.size(), 2u);
  }

  // The intent before and the result after, both naming the job as Classic.
  std::map<std::string, Poco::JSON::Object::Ptr> intents, results;
  for (const auto& r : audit()) {
    auto type = r->getValue<std::string>("type");
    if (type != "intent" && type != "result") continue;
    auto id = r->getObject("job")->getValue<std::string>("id");
    (type == "intent" ? intents : results)[id] = r;
  }
  ASSERT_EQ(intents.count(stuckClassic), 1u);
  ASSERT_EQ(results.count(stuckClassic), 1u);
  EXPECT_EQ(intents.size(), 2u);
  EXPECT_EQ(results.size(), 2u);
  auto intent = intents[stuckClassic];
  auto result = results[stuckClassic];
  EXPECT_EQ(intent->getObject("job")->getValue<std::string>("jobType"), "Classic");
  EXPECT_EQ(result->getObject("job")->getValue<std::string>("jobType"), "Classic");
  EXPECT_EQ(result->getValue<int64_t>("intent"), intent->getValue<int64_t>("seq"));
  EXPECT_EQ(result->getValue<std::string>("outcome"), "applied");
  EXPECT_EQ(result->getValue<int>("http"), 200);
  EXPECT_FALSE(results[stuckV2]->getObject("job")->has("jobType"))
      << "2.0 records keep their shape";

  child_.reset();
  ASSERT_EQ(run({"audit", "verify", auditPath()}), 0) << err() << out();
}

TEST_F(ClassicJobs, WithoutClassicInJobTypesAClassicJobIsLeftAlone) {
  startSim();
  const auto stuckClassic = add("InProgress", "Classic", hours(5));
  const auto stuckV2 = add("InProgress", "", hours(5));
  auto config = writeConfig(abortStuckIngest(""));
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  EXPECT_EQ(org().state(stuckClassic), "InProgress");
  EXPECT_EQ(org().appliedActions(stuckClassic), 0);
  EXPECT_EQ(org().state(stuckV2), "Aborted");
  for (const auto& r : audit("intent")) {
    EXPECT_NE(r->getObject("job")->getValue<std::string>("id"), stuckClassic);
  }
}

// A 1.0 job that finished between the listing and the abort: InvalidJobState, then one read
// through the 1.0 resource records what Salesforce reports.
TEST_F(ClassicJobs, AClassicJobThatFinishedFirstIsReadBackAndRecordedAsSuch) {
  startSim();
  sim::JobSeed s;
  s.kind = "ingest";
  s.jobType = "Classic";
  s.state = "InProgress";
  s.operation = "insert";
  s.age = hours(5);
  s.finishesOnAbort = true;
  const auto racing = org().addJob(s);
  auto config = writeConfig(abortStuckIngest("[Classic]"));
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  auto results = audit("result");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]->getValue<std::string>("outcome"), "already-terminal");
  EXPECT_EQ(results[0]->getValue<std::string>("settled_by"), "get");
  EXPECT_EQ(org().state(racing), "JobComplete");
}

TEST_F(ClassicJobs, ValidateRefusesADeletePolicyOverClassicJobs) {
  startSim();
  auto config = writeConfig(
      "policies:\n"
      "  - name: purge\n"
      "    resource: ingest-jobs\n"
      "    job-types: [V2Ingest, Classic]\n"
      "    filters:\n"
      "      - state: [JobComplete]\n"
      "    action: delete\n");
  EXPECT_EQ(run({"validate", "--config", config}), 78);
  EXPECT_NE(err().find("policies.yaml:4:16: a delete policy cannot govern Classic jobs"),
            std::string::npos)
      << err();
}

TEST_F(ClassicJobs, ValidateWarnsForADeletePolicyThatCanMatchUploadCompleteIngestJobs) {
  startSim();
  auto config = writeConfig(
      "policies:\n"
      "  - name: purge-ingest\n"
      "    resource: ingest-jobs\n"
      "    filters:\n"
      "      - state: [UploadComplete, JobComplete]\n"
      "    action: delete\n");
  EXPECT_EQ(run({"validate", "--config", config}), 0) << err();
  EXPECT_NE(err().find("policies.yaml:5:9: warning: delete policy 'purge-ingest' can match ingest "
                       "jobs in UploadComplete"),
            std::string::npos)
      << err();
}

}  // namespace
}  // namespace bulkwarden::testing
