// `bulkwarden validate --connect` against the simulated org: logs in, reads one page, and warns
// (without failing) when the integration user lacks "Manage Data Integrations".
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace bulkwarden::testing
