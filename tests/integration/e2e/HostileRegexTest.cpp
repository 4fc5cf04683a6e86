// Hostile regexes and field values end to end: the real binary against the simulated org.
// A regex RE2 cannot run is refused by validate with file:line:col; a job field no org sends is
// skipped with a reason; patterns that stalled or crashed the PCRE matcher run through a pass.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

using std::chrono::hours;

sim::JobSeed queryOn(std::string object) {
  sim::JobSeed s;
  s.kind = "query";
  s.state = "InProgress";
  s.age = hours(2);
  s.object = std::move(object);
  return s;
}

std::string ab(size_t n) {
  std::string s(n, 'a');
  for (size_t i = 1; i < n; i += 2) s[i] = 'b';
  return s;
}

class HostileRegex : public EndToEnd {};

TEST_F(HostileRegex, ValidateRefusesBackReferencesAndLookAroundWithTheirPlace) {
  startSim();
  const std::string policies =
      "policies:\n"
      "  - name: backref\n"
      "    resource: query-jobs\n"
      "    action: report\n"
      "    filters:\n"
      "      - object: { regex: '(a)\\1' }\n"
      "  - name: lookahead\n"
      "    resource: query-jobs\n"
      "    action: report\n"
      "    filters:\n"
      "      - not: { object: { regex: \"(?=x)\" } }\n";
  auto config = writeConfig(policies);
  ASSERT_EQ(run({"validate", "--config", config}), 78) << err();
  for (const char* text :
       {"policies.yaml:6:26: bad regex '(a)\\1': invalid escape sequence: \\1 (a back-reference)",
        "policies.yaml:11:33: bad regex '(?=x)': invalid perl operator: (?= (a look-ahead)",
        "(RE2 syntax: no back-references or look-around; see docs/policies.md)"}) {
    EXPECT_NE(err().find(text), std::string::npos) << text << "\n" << err();
  }
}

TEST_F(HostileRegex, ATenThousandCharacterObjectIsSkippedAndThePassActsOnTheRest) {
  startSim();
  auto huge = org().addJob(queryOn(ab(10000)));
  auto fine = org().addJob(queryOn(ab(200)));
  auto other = org().addJob(queryOn("Account"));
  auto config = writeConfig(R"(policies:
  - name: abort-ab
    resource: query-jobs
    mode: enforce
    filters: [ { state: InProgress }, { object: { regex: "^(a|b)*$" } } ]
    action: abort
)");
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  EXPECT_EQ(org().state(fine), "Aborted");
  EXPECT_EQ(org().state(huge), "InProgress");
  EXPECT_EQ(org().state(other), "InProgress");
  EXPECT_NE(
      err().find(fmt::format("skipped list record {}: object is 10000 bytes, over 255", huge)),
      std::string::npos)
      << err();
  auto end = audit("run-end");
  ASSERT_EQ(end.size(), 1u);
  EXPECT_EQ(end[0]->getValue<int>("skipped"), 1);
}

TEST_F(HostileRegex, ACatastrophicBacktrackingRegexRunsOverAThousandJobs) {
  startSim();
  for (int i = 0; i < 1000; ++i) {
    org().addJob(queryOn(std::string(30, 'A') + (i % 2 ? "__c" : "__x")));
  }
  auto config = writeConfig(R"(policies:
  - name: report-custom
    resource: query-jobs
    filters: [ { object: { regex: "^([A-Za-z]+_?)+__c$" } } ]
    action: report
)");
  ASSERT_EQ(run({"run", "--once", "--config", config}), 0) << err();
  EXPECT_EQ(audit("decision").size(), 500u);
}

}  // namespace
}  // namespace bulkwarden::testing
