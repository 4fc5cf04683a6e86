// Scenario building blocks: the job spec syntax, the default scenario, ids, the sim command's
// usage errors.
#include <map>
#include <regex>

#include "SimTestSupport.h"
#include "sim/SimCommand.h"
#include "sim/SimText.h"

namespace bulkwarden::sim::testing {
namespace {

using namespace std::chrono_literals;

TEST(SimScenario, ParsesJobSpecs) {
  const JobGroup g = parseJobGroup("query:InProgress:1000:age=2h-5h");
  EXPECT_EQ(g.kind, "query");
  EXPECT_EQ(g.state, "InProgress");
  EXPECT_EQ(g.count, 1000);
  EXPECT_EQ(g.age.min, 2h);
  EXPECT_EQ(g.age.max, 5h);
  EXPECT_FALSE(g.finishAfter.has_value());

  const JobGroup h = parseJobGroup(
      "ingest:UploadComplete:5:age=30s:finish=10m-20m:start=1m:final=Failed:type=BigObjectIngest:"
      "object=Contact:operation=upsert:creator=005R0000000Hk3tIAC:api=58.0:race:modified=10s");
  EXPECT_EQ(h.age.min, 30s);
  EXPECT_EQ(h.age.max, 30s);
  ASSERT_TRUE(h.finishAfter.has_value());
  EXPECT_EQ(h.finishAfter->min, 10min);
  EXPECT_EQ(h.finishAfter->max, 20min);
  EXPECT_EQ(h.startAfter->min, 1min);
  EXPECT_EQ(h.finalState, "Failed");
  EXPECT_EQ(h.jobType, "BigObjectIngest");
  EXPECT_EQ(h.object, "Contact");
  EXPECT_EQ(h.operation, "upsert");
  EXPECT_EQ(h.createdById, "005R0000000Hk3tIAC");
  EXPECT_DOUBLE_EQ(h.apiVersion, 58.0);
  EXPECT_TRUE(h.finishesOnAbort);
  EXPECT_EQ(h.modifiedAgo->min, 10s);

  EXPECT_EQ(parseDuration("500ms"), 500ms);
  EXPECT_EQ(parseDuration("7d"), 7 * 24h);
}

TEST(SimScenario, RejectsBadJobSpecs) {
  for (const char* bad : {"query", "query:InProgress", "batch:InProgress:3", "query:Open:3",
                          "query:Running:3", "query:InProgress:0", "query:InProgress:x",
                          "query:InProgress:3:age=5h-2h", "query:InProgress:3:age=2x",
                          "query:InProgress:3:bogus=1", "query:InProgress:3:final=Aborted",
                          "query:InProgress:3:type=V3", "query:InProgress:3:age="}) {
    EXPECT_THROW(parseJobGroup(bad), std::invalid_argument) << bad;
  }
}

TEST(SimScenario, GroupsExpandWithinTheirRanges) {
  SimServer server(SimOptions{});
  Scenario s;
  s.groups.push_back(parseJobGroup("query:JobComplete:200:age=2h-5h:object=Lead"));
  server.org().addScenario(s);
  const auto jobs = server.org().jobs();
  ASSERT_EQ(jobs.size(), 200U);
  const std::string newest = formatTimestamp(server.org().nowMs() - 2 * 3600 * 1000);
  const std::string oldest = formatTimestamp(server.org().nowMs() - 5 * 3600 * 1000 - 60'000);
  for (const auto& job : jobs) {
    EXPECT_EQ(job.object, "Lead");
    EXPECT_EQ(job.state, "JobComplete");
    EXPECT_LE(job.createdDate, newest);
    EXPECT_GE(job.createdDate, oldest);
    EXPECT_GE(job.systemModstamp, job.createdDate);
  }
}

TEST(SimScenario, DefaultScenarioHasEveryKindStateAndShape) {
  SimOptions o;
  o.scenario = defaultScenario();
  SimServer server(o);
  std::map<std::string, int> counts;
  int classic = 0;
  for (const auto& job : server.org().jobs()) {
    ++counts[job.kind + ":" + job.state];
    if (job.jobType == "Classic") ++classic;
  }
  for (const char* state : {"UploadComplete", "InProgress", "JobComplete", "Failed", "Aborted"}) {
    EXPECT_GT(counts[std::string("query:") + state], 0) << state;
    EXPECT_GT(counts[std::string("ingest:") + state], 0) << state;
  }
  EXPECT_GT(counts["ingest:Open"], 0);
  EXPECT_GT(classic, 0);
  EXPECT_GT(server.org().jobs().size(), 2000U);
  // Some jobs move by themselves: a day later no ingest job stays UploadComplete briefly... but
  // the stuck ones remain.
  server.org().advanceClock(24h);
  std::map<std::string, int> later;
  for (const auto& job : server.org().jobs()) ++later[job.kind + ":" + job.state];
  EXPECT_LT(later["query:InProgress"], counts["query:InProgress"]);
  EXPECT_GT(later["query:InProgress"], 0);
  EXPECT_GT(later["query:JobComplete"], 0);
}

TEST(SimScenario, IdsCarryTheCaseSafeChecksum) {
  EXPECT_EQ(idChecksum("750R0000000zlh9"), "IAA");
  EXPECT_EQ(idChecksum("7503h000004R4Ju"), "AAK");
  EXPECT_EQ(idChecksum("005R0000000Giwj"), "IAC");
  SimServer server(SimOptions{});
  const std::string id = server.org().addJob(seed("query", "InProgress"));
  ASSERT_EQ(id.size(), 18U);
  EXPECT_EQ(id.substr(0, 3), "750");
  EXPECT_EQ(id.substr(15), idChecksum(id.substr(0, 15)));
  JobSeed dup = seed("query", "InProgress");
  dup.id = id;
  EXPECT_THROW(server.org().addJob(dup), std::invalid_argument);
  EXPECT_THROW(server.org().addJob(seed("query", "Open")), std::invalid_argument);
  EXPECT_THROW(server.org().addJob(seed("batch", "Open")), std::invalid_argument);
}

TEST(SimScenario, TimestampsUseThePlusZeroForm) {
  EXPECT_EQ(formatTimestamp(1545149731000), "2018-12-18T16:15:31.000+0000");
  EXPECT_EQ(formatTimestamp(1545149731042), "2018-12-18T16:15:31.042+0000");
  EXPECT_EQ(formatTimestamp(0), "1970-01-01T00:00:00.000+0000");
}

TEST(SimScenario, SimCommandUsageErrors) {
  EXPECT_EQ(simCommand({"--bogus"}), 64);
  EXPECT_EQ(simCommand({"--seed"}), 64);
  EXPECT_EQ(simCommand({"--seed", "x"}), 64);
  EXPECT_EQ(simCommand({"--time-scale", "0"}), 64);
  EXPECT_EQ(simCommand({"--jobs", "query:Nope:3"}), 64);
  EXPECT_EQ(simCommand({"--listen", "nocolon"}), 64);
  EXPECT_EQ(simCommand({"--help"}), 0);
}

}  // namespace
}  // namespace bulkwarden::sim::testing
