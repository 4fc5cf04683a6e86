// The command line on Poco::Util::ServerApplication (app/Cli.cpp): each subcommand's --help is
// its own, an unknown option names the subcommand and exits 64, ServerApplication's --daemon,
// --pidfile and --umask are refused, and the service stops on SIGQUIT as on SIGTERM
// (waitForTerminationRequest).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

const char* kPolicy = R"(policies:
  - name: watch-old
    resource: query-jobs
    schedule: { every: 1h }
    filters:
      - state: InProgress
    action: report
)";

class Cli : public EndToEnd {};

TEST_F(Cli, EachSubcommandPrintsItsOwnHelp) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const auto& c : std::vector<Case>{
           {{"run", "--help"}, "Usage: bulkwarden [run]"},
           {{"--once", "--help"}, "Usage: bulkwarden [run]"},
           {{"validate", "--help"}, "Usage: bulkwarden validate"},
           {{"plan", "-h"}, "Usage: bulkwarden plan"},
           {{"audit", "verify", "--help"}, "bulkwarden audit verify FILE..."},
           {{"audit", "show", "--help"}, "bulkwarden audit show [--config FILE | FILE] [--job ID]"},
           {{"audit", "summary", "-h"}, "bulkwarden audit summary [--config FILE | FILE]"},
           {{"audit", "accept", "--help"}, "bulkwarden audit accept --config FILE"},
           {{"schedule", "--help"}, "schedule"},
           {{"demo", "--help"}, "bulkwarden demo:"},
           {{"sim", "--help"}, "sim"},
       }) {
    SCOPED_TRACE(c.args.front() + " " + c.args.back());
    EXPECT_EQ(run(c.args), 0) << err();
    EXPECT_NE(out().find(c.says), std::string::npos) << out();
    // Not the global text.
    EXPECT_EQ(out().find("Exit codes (sysexits.h)"), std::string::npos) << out();
  }
  EXPECT_EQ(run({"--help"}), 0);
  EXPECT_NE(out().find("Exit codes (sysexits.h)"), std::string::npos);
}

TEST_F(Cli, AuditVerifyHelpIsNotAFile) {
  EXPECT_EQ(run({"audit", "verify", (dir_ / "missing.jsonl").string(), "--help"}), 0) << err();
  EXPECT_EQ(err().find("cannot read"), std::string::npos) << err();
}

TEST_F(Cli, AnUnknownOptionNamesItsSubcommandAndExits64) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const auto& c : std::vector<Case>{
           {{"--bogus"}, "unknown option '--bogus' for `run`"},
           {{"run", "--format", "json"}, "unknown option '--format' for `run`"},
           {{"validate", "--once"}, "unknown option '--once' for `validate`"},
           {{"plan", "--dry-run"}, "unknown option '--dry-run' for `plan`"},
           // OptionProcessor would take a prefix for the option; bulkwarden never did.
           {{"plan", "--conf", "x.yaml"}, "unknown option '--conf' for `plan`"},
           {{"validate", "stray"}, "unknown option 'stray' for `validate`"},
           {{"audit", "verify", "--bogus"}, "for `audit verify`"},
           {{"schedule", "--bogus"}, "bulkwarden schedule: unknown option '--bogus'"},
           {{"demo", "--bogus"}, "bulkwarden demo: unknown option '--bogus'"},
           {{"sim", "--bogus"}, "bulkwarden sim: unknown option '--bogus'"},
           {{"plan", "--format", "yaml"}, "--format is table or json"},
           {{"validate", "--config"}, "--config needs a file"},
       }) {
    SCOPED_TRACE(c.args.front() + " " + c.args.back());
    EXPECT_EQ(run(c.args), 64) << err();
    EXPECT_NE(err().find(c.says), std::string::npos) << err();
  }
}

TEST_F(Cli, ServerApplicationsDaemonOptionsAreRefused) {
  for (const auto& a : {"--daemon", "--pidfile=/tmp/bw.pid", "--umask=000"}) {
    SCOPED_TRACE(a);
    // Exit 64 from this very process: no fork into the background, no pid file.
    EXPECT_EQ(run({"run", "--config", (dir_ / "none.yaml").string(), a}), 64) << err();
    EXPECT_NE(err().find("not supported"), std::string::npos) << err();
    EXPECT_NE(err().find("foreground"), std::string::npos) << err();
  }
  EXPECT_FALSE(fs::exists("/tmp/bw.pid"));
}

TEST_F(Cli, OptionsKeepTheirPlaces) {
  startSim();
  std::string config = writeConfig(kPolicy);
  // --log-level before the subcommand, --config in both spellings, the last one winning.
  EXPECT_EQ(run({"--log-level", "info", "validate", "--config=" + config}), 0) << err();
  EXPECT_EQ(run({"validate", "-c", (dir_ / "none.yaml").string(), "--config", config}), 0) << err();
  EXPECT_EQ(run({"--log-level", "loud", "validate"}), 64);
  EXPECT_NE(err().find("unknown log level 'loud'"), std::string::npos) << err();
}

TEST_F(Cli, TheServiceStopsOnSigquitAsOnSigterm) {
  startSim();
  std::string config = writeConfig(kPolicy);
  auto child = start({"--config", config});
  ASSERT_TRUE(waitFor([&] { return fs::exists(auditPath()) && !audit("config").empty(); }))
      << child->err();
  child->signal(SIGQUIT);
  EXPECT_EQ(child->wait(), 0) << child->err();
  EXPECT_NE(child->err().find("stopped"), std::string::npos) << child->err();
}

}  // namespace
}  // namespace bulkwarden::testing
