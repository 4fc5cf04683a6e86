// SIGTERM while the client waits out a Retry-After: the real binary, against an org that answers
// every listing with 503 and "Retry-After: 25", stops at once instead of sleeping the 25 s (the
// retry's wait is the clock's, which the stop request ends), in `run --once` and in the daemon.
#include <gtest/gtest.h>

#include <csignal>
#include <string>
#include <vector>

#include "Eventually.h"
#include "support/Fixture.h"
#include "support/HostileServer.h"

namespace bulkwarden::testing {
namespace {

using namespace std::chrono_literals;

class StopDuringRetry : public EndToEnd, public ::testing::WithParamInterface<bool> {
 protected:
  std::string writeConfig(const std::string& instanceUrl) {
    writeFile(dir_ / "token", "tok-123\n");
    writeFile(dir_ / "policies.yaml", R"(policies:
  - name: report-running-queries
    resource: query-jobs
    mode: enforce
    schedule: { every: 2m }
    filters:
      - state: [InProgress]
    action: report
)");
    writeFile(dir_ / "bulkwarden.yaml",
              "orgs:\n"
              "  - name: test-org\n"
              "    api-version: \"62.0\"\n"
              "    instance-url: " +
                  instanceUrl +
                  "\n"
                  "    auth:\n"
                  "      flow: access-token\n"
                  "      access-token: { file: token }\n"
                  "policies: [policies.yaml]\n"
                  "audit-log: audit.jsonl\n"
                  "state-dir: state\n");
    return (dir_ / "bulkwarden.yaml").string();
  }
};

TEST_P(StopDuringRetry, SigtermEndsTheWaitForRetryAfterAtOnce) {
  const bool once = GetParam();
  HostileServer server([](const HostileRequest&) {
    HostileReply r;
    r.status = 503;
    r.body = R"([{"errorCode":"SERVER_UNAVAILABLE","message":"busy"}])";
    r.headers = {{"Retry-After", "25"}};
    return r;
  });
  std::vector<std::string> args{"run", "--config", writeConfig(server.url())};
  if (once) args.push_back("--once");
  child_ = start(args);
  // The event: the client says it waits before sending the listing again.
  ASSERT_TRUE(eventually([this] { return err().find("trying again in") != std::string::npos; }))
      << err();
  const auto listings = [&server] {
    int n = 0;
    for (const auto& r : server.requests()) n += r.target.find("/jobs/query?") != std::string::npos;
    return n;
  };
  EXPECT_EQ(listings(), 1);
  const auto signalled = std::chrono::steady_clock::now();
  child_->signal(SIGTERM);
  const int code = child_->wait(15s);
  ASSERT_NE(code, -1) << "still waiting 15 s after SIGTERM\n" << err();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 10s);
  EXPECT_NE(err().find("stop requested; not trying again"), std::string::npos) << err();
  EXPECT_EQ(listings(), 1) << "the listing was sent again after the stop";
  if (!once) {
    EXPECT_EQ(code, 0) << err();
  }
}

INSTANTIATE_TEST_SUITE_P(OnceAndDaemon, StopDuringRetry, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "RunOnce" : "Daemon";
                         });

}  // namespace
}  // namespace bulkwarden::testing
