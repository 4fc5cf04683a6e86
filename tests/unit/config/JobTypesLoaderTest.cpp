// `job-types` (Bulk API 1.0 "Classic" jobs) and the delete warnings of the policy loader.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "PolicyDiagnostics.h"
#include "config/PolicyLoader.h"
#include "policy/Evaluator.h"

namespace bulkwarden::config {
namespace {

using ::testing::HasSubstr;

std::string policy(const std::string& resource, const std::string& action,
                   const std::string& jobTypes, const std::string& state = "[InProgress]") {
  std::string y =
      "policies:\n"
      "  - name: p\n"
      "    resource: " +
      resource +
      "\n"
      "    action: " +
      action + "\n";
  if (!jobTypes.empty()) y += "    job-types: " + jobTypes + "\n";
  y += "    filters:\n"
       "      - state: " +
       state + "\n";
  return y;
}

using testing::policyErrors;

model::Job job(model::ResourceKind kind, const char* jobType) {
  model::Job j;
  j.kind = kind;
  j.id = "750R0000000zlh9IAA";
  j.jobType = jobType;
  j.state = model::JobState::InProgress;
  return j;
}

TEST(JobTypes, DefaultIsTheTwoPointOhTypeOnly) {
  auto p = parsePolicies(policy("query-jobs", "abort", ""), "p.yaml").at(0);
  EXPECT_TRUE(p.v2Jobs);
  EXPECT_FALSE(p.classicJobs);
  EXPECT_TRUE(p.governs(job(model::ResourceKind::Query, "V2Query")));
  EXPECT_FALSE(p.governs(job(model::ResourceKind::Query, "Classic")));
  EXPECT_FALSE(p.governs(job(model::ResourceKind::Ingest, "V2Ingest")));
}

TEST(JobTypes, ListsAndSingleNamesAreRead) {
  auto both = parsePolicies(policy("query-jobs", "abort", "[V2Query, Classic]"), "p.yaml").at(0);
  EXPECT_TRUE(both.v2Jobs);
  EXPECT_TRUE(both.classicJobs);
  EXPECT_EQ(both.jobTypesWhere.line, 5);
  auto classic = parsePolicies(policy("ingest-jobs", "abort", "Classic"), "p.yaml").at(0);
  EXPECT_FALSE(classic.v2Jobs);
  EXPECT_TRUE(classic.classicJobs);
  EXPECT_TRUE(classic.governs(job(model::ResourceKind::Ingest, "Classic")));
  EXPECT_FALSE(classic.governs(job(model::ResourceKind::Ingest, "V2Ingest")));
  auto ingest = parsePolicies(policy("ingest-jobs", "abort", "[V2Ingest]"), "p.yaml").at(0);
  EXPECT_TRUE(ingest.v2Jobs);
  EXPECT_FALSE(ingest.classicJobs);
}

// The evaluator asks the policy: a Classic job is matched only by a policy that names Classic.
TEST(JobTypes, TheEvaluatorMatchesClassicJobsOnlyForPoliciesThatNameThem) {
  auto v2 = parsePolicies(policy("query-jobs", "abort", ""), "p.yaml").at(0);
  auto both = parsePolicies(policy("query-jobs", "abort", "[V2Query, Classic]"), "p.yaml").at(0);
  std::vector<model::Job> jobs = {job(model::ResourceKind::Query, "Classic")};
  const policy::Policy* only[] = {&v2};
  EXPECT_TRUE(policy::evaluate(jobs, only, model::Timestamp{}).empty());
  const policy::Policy* classic[] = {&both};
  EXPECT_EQ(policy::evaluate(jobs, classic, model::Timestamp{}).size(), 1u);
}

TEST(JobTypes, UnknownOrOtherResourcesTypesAreErrorsAtTheirPlace) {
  auto d = policyErrors(policy("query-jobs", "abort", "[V2Query, Clasic]"));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].where.file, "p.yaml");
  EXPECT_EQ(d[0].where.line, 5);
  EXPECT_EQ(d[0].where.column, 26);
  EXPECT_THAT(d[0].message, HasSubstr("unknown job type 'Clasic' for query-jobs"));
  EXPECT_THAT(d[0].hint, HasSubstr("did you mean 'Classic'?"));

  d = policyErrors(policy("query-jobs", "abort", "[V2Ingest]"));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_THAT(d[0].message, HasSubstr("unknown job type 'V2Ingest' for query-jobs"));

  d = policyErrors(policy("ingest-jobs", "abort", "[]"));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_THAT(d[0].message, HasSubstr("expected a list of job types"));
  d = policyErrors(policy("ingest-jobs", "abort", "{ a: b }"));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_THAT(d[0].message, HasSubstr("expected a list of job types"));
}

// Bulk API 1.0 jobs cannot be deleted through the API: a delete policy over them is refused.
TEST(JobTypes, ADeletePolicyOverClassicJobsIsRefusedWithItsPlace) {
  auto d = policyErrors(policy("ingest-jobs", "delete", "[V2Ingest, Classic]", "[JobComplete]"));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].where.line, 5);
  EXPECT_EQ(d[0].where.column, 16);
  EXPECT_THAT(d[0].message, HasSubstr("cannot be deleted through the API"));
  EXPECT_THAT(d[0].hint, HasSubstr("leave Classic out"));
  // Without Classic the same policy loads.
  EXPECT_TRUE(policyErrors(policy("ingest-jobs", "delete", "[V2Ingest]", "[JobComplete]")).empty());
}

// Salesforce deletes an UploadComplete ingest job (cancelling its queued load): warned, with the
// policy's name and place.
TEST(DeleteWarning, ADeletePolicyThatCanMatchUploadCompleteIngestJobsIsWarned) {
  auto p =
      parsePolicies(policy("ingest-jobs", "delete", "", "[UploadComplete, JobComplete]"), "p.yaml")
          .at(0);
  std::vector<Diagnostic> w;
  warnDeleteQueued(p, w);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].where.file, "p.yaml");
  EXPECT_EQ(w[0].where.line, 6);
  EXPECT_EQ(w[0].where.column, 9);
  EXPECT_THAT(w[0].message, HasSubstr("warning: delete policy 'p'"));
  EXPECT_THAT(w[0].message, HasSubstr("UploadComplete"));
  EXPECT_THAT(w[0].message, HasSubstr("cancels a load"));

  // No state filter at all: it can match anything, UploadComplete included.
  auto any = parsePolicies(
                 "policies:\n"
                 "  - name: wide\n"
                 "    resource: ingest-jobs\n"
                 "    action: delete\n"
                 "    filters:\n"
                 "      - object: Account\n",
                 "p.yaml")
                 .at(0);
  w.clear();
  warnDeleteQueued(any, w);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].where.line, 2);
  EXPECT_THAT(w[0].message, HasSubstr("'wide'"));
}

TEST(DeleteWarning, FinishedStatesQueryJobsAndAbortsAreNotWarned) {
  std::vector<Diagnostic> w;
  warnDeleteQueued(
      parsePolicies(policy("ingest-jobs", "delete", "", "[JobComplete, Failed]"), "p.yaml").at(0),
      w);
  warnDeleteQueued(
      parsePolicies(policy("query-jobs", "delete", "", "[JobComplete]"), "p.yaml").at(0), w);
  warnDeleteQueued(
      parsePolicies(policy("ingest-jobs", "abort", "", "[UploadComplete]"), "p.yaml").at(0), w);
  EXPECT_TRUE(w.empty()) << w[0].str();
}

}  // namespace
}  // namespace bulkwarden::config
