// Runtime wiring of the auth config: the token provider per flow, startup without network, and
// the process made non-dumpable before any secret is read.
#include <gtest/gtest.h>
#include <sys/prctl.h>

#include "app/Runtime.h"
#include "auth/AuthSupport.h"
#include "config/Config.h"

namespace bulkwarden::testing {
namespace {

TEST_F(AuthTest, RuntimeStartsWithoutContactingTheTokenEndpointAndIsNotDumpable) {
  startSim();
  writePrivate((dir_ / "jwt.key").string(), jwt_->privateKeyPem);
  writePrivate((dir_ / "p.yaml").string(), "policies: []\n", 0644);
  const std::string cfg = (dir_ / "c.yaml").string();
  writePrivate(cfg,
               "orgs:\n  - name: a\n    ca-file: ca.pem\n    auth:\n      flow: jwt-bearer\n"
               "      login-url: " +
                   server_->baseUrl() + "\n      client-id: " + kClientId + "\n      username: " +
                   kUsername + "\n      private-key: { file: jwt.key }\npolicies: p.yaml\n",
               0644);
  ASSERT_EQ(::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
  auto rt = app::Runtime::create(config::loadConfig(cfg));
  EXPECT_EQ(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0) << "tokens could end up in a core dump";
  ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  ASSERT_EQ(rt->clients.size(), 1u);
  EXPECT_EQ(org().counters().tokenRequests, 0) << "no login before the first pass";
  EXPECT_EQ(rt->clients[0]->calls(), 0);
  auto listed = rt->clients[0]->list(model::ResourceKind::Query, [](salesforce::Page&&) {});
  EXPECT_TRUE(listed.ok()) << listed.error().describe();
  EXPECT_EQ(org().counters().tokenRequests, 1);
  // GET /services/data/ (the api-version check, once) and one list page.
  EXPECT_EQ(rt->clients[0]->calls(), 2);
}

}  // namespace
}  // namespace bulkwarden::testing
