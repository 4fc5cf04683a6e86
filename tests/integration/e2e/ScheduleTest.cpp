// Schedules end to end with the real binary (issue 16): `bulkwarden schedule` prints the pass
// times the daemon follows (JSON exactly as the contract has it), /status shows a cron policy's
// cron, time zone, description and real next pass (the same time `schedule` prints), a reload
// keeps each policy's schedule, and `run --once` says which policies it runs outside theirs.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <regex>

#include "model/Time.h"
#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

const char* kPolicies = R"(policies:
  - name: nightly
    description: Delete failed query jobs, weekdays at 02:00 Paris time
    resource: query-jobs
    schedule: { cron: "0 2 * * mon-fri", timezone: Europe/Paris, starting-deadline: 30m }
    filters:
      - state: Failed
    action: delete
  - name: hourly
    resource: ingest-jobs
    schedule: { every: 1h }
    filters:
      - state: Failed
    action: report
)";

std::string httpGet(uint16_t port, const std::string& path) {
  Poco::Net::HTTPClientSession s("127.0.0.1", port);
  s.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest req("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
  s.sendRequest(req);
  Poco::Net::HTTPResponse resp;
  auto& in = s.receiveResponse(resp);
  std::string body;
  Poco::StreamCopier::copyToString(in, body);
  return body;
}

class Schedule : public EndToEnd {
 protected:
  uint16_t waitForPort() {
    static const std::regex kListen(R"(http endpoint on http://127\.0\.0\.1:([0-9]+))");
    uint16_t port = 0;
    waitFor([&] {
      std::smatch m;
      std::string e = child_->err();
      if (std::regex_search(e, m, kListen)) port = static_cast<uint16_t>(std::stoi(m[1]));
      return port != 0;
    });
    return port;
  }
  // Passes started for `resource` (run-start records; passes of an org run one at a time, the
  // query jobs first).
  size_t passesOf(const std::string& resource) const {
    size_t n = 0;
    for (const auto& r : audit("run-start")) {
      n += r->optValue<std::string>("resource", "") == resource;
    }
    return n;
  }
};

TEST_F(Schedule, JsonListsTheNextTimesInUtcAsTheContractSays) {
  startSim();
  std::string cfg = writeConfig(kPolicies);
  // Tuesday 2026-12-01 22:19 Paris: the nightly policy next runs Wednesday 02:00 CET (01:00Z).
  ASSERT_EQ(run({"schedule", "--config", cfg, "--from", "2026-12-01T21:19:00Z", "--count", "3",
                 "--format", "json"}),
            0)
      << err();
  Poco::JSON::Parser parser;
  auto root = parser.parse(out()).extract<Poco::JSON::Array::Ptr>();
  ASSERT_EQ(root->size(), 2u) << out();
  // Soonest first: the interval policy never ran, so it is due at once.
  auto first = root->getObject(0);
  auto second = root->getObject(1);
  EXPECT_EQ(first->getValue<std::string>("policy"), "hourly");
  EXPECT_EQ(second->getValue<std::string>("policy"), "nightly");
  std::vector<std::string> keys;
  second->getNames(keys);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"next", "policy"}));
  auto next = second->getArray("next");
  ASSERT_EQ(next->size(), 3u);
  EXPECT_EQ(next->getElement<std::string>(0), "2026-12-02T01:00:00Z");
  EXPECT_EQ(next->getElement<std::string>(1), "2026-12-03T01:00:00Z");
  EXPECT_EQ(next->getElement<std::string>(2), "2026-12-04T01:00:00Z");
  auto hourly = first->getArray("next");
  ASSERT_EQ(hourly->size(), 3u);
  EXPECT_EQ(hourly->getElement<std::string>(0), "2026-12-01T21:19:00Z");
  EXPECT_EQ(hourly->getElement<std::string>(1), "2026-12-01T22:19:00Z");

  // The autumn change in Paris: "*/30" goes on through the repeated hour.
  writeFile(dir_ / "policies.yaml", R"(policies:
  - name: half-hourly
    resource: query-jobs
    schedule: { cron: "*/30 * * * *", timezone: Europe/Paris }
    filters:
      - state: Failed
    action: report
)");
  ASSERT_EQ(run({"schedule", "--config", cfg, "--from", "2026-10-25T00:10:00Z", "--count", "4",
                 "--format", "json"}),
            0)
      << err();
  auto dst = Poco::JSON::Parser().parse(out()).extract<Poco::JSON::Array::Ptr>();
  ASSERT_EQ(dst->size(), 1u) << out();
  auto times = dst->getObject(0)->getArray("next");
  std::vector<std::string> got;
  for (size_t i = 0; i < times->size(); ++i) got.push_back(times->getElement<std::string>(i));
  EXPECT_EQ(got, (std::vector<std::string>{"2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z",
                                           "2026-10-25T01:30:00Z", "2026-10-25T02:00:00Z"}));

  // The table names the schedule and the local time.
  ASSERT_EQ(run({"schedule", "--config", cfg, "--from", "2026-10-25T00:10:00Z", "--count", "2"}),
            0);
  EXPECT_NE(out().find("cron \"*/30 * * * *\" Europe/Paris, starting-deadline 1h"),
            std::string::npos)
      << out();
  EXPECT_NE(out().find("Sun 2026-10-25 02:30 +02:00"), std::string::npos) << out();
  EXPECT_NE(out().find("Sun 2026-10-25 02:00 +01:00"), std::string::npos) << out();
}

TEST_F(Schedule, HelpAndUsageErrors) {
  startSim();
  std::string cfg = writeConfig(kPolicies);
  ASSERT_EQ(run({"schedule", "--help"}), 0);
  EXPECT_NE(out().find("Usage: bulkwarden schedule"), std::string::npos) << out();
  EXPECT_EQ(run({"schedule", "--config", cfg, "--count", "0"}), 64);
  EXPECT_EQ(run({"schedule", "--config", cfg, "--count", "12x"}), 64);
  EXPECT_EQ(run({"schedule", "--config", cfg, "--from", "yesterday\x1b[31m"}), 64);
  EXPECT_EQ(err().find('\x1b'), std::string::npos) << "an escape sequence echoed";
  EXPECT_EQ(run({"schedule", "--config", cfg, "--format", "yaml"}), 64);
  EXPECT_EQ(run({"schedule", "--config", (dir_ / "missing.yaml").string()}), 78);
  // A starting deadline on an interval schedule is refused with its place.
  writeFile(dir_ / "policies.yaml", R"(policies:
  - name: p
    resource: query-jobs
    schedule: { every: 5m, starting-deadline: 1h }
    filters:
      - state: Failed
    action: report
)");
  EXPECT_EQ(run({"schedule", "--config", cfg}), 78);
  EXPECT_NE(err().find("policies.yaml:4:28: 'starting-deadline' goes with 'cron'"),
            std::string::npos)
      << err();
}

TEST_F(Schedule, StatusShowsTheCronItsZoneTheDescriptionAndTheNextPassScheduleComputes) {
  startSim();
  std::string cfg = writeConfig(kPolicies, "", "http: { listen: 127.0.0.1:0 }\n");
  child_ = start({"run", "--config", cfg});
  uint16_t port = waitForPort();
  ASSERT_NE(port, 0) << child_->err();
  // The interval policy runs at start; the cron policy waits for its time.
  ASSERT_TRUE(waitFor([&] { return passesOf("ingest-jobs") >= 1; })) << child_->err();
  Poco::JSON::Object::Ptr nightly, hourly;
  ASSERT_TRUE(waitFor([&] {
    Poco::JSON::Parser parser;
    auto root = parser.parse(httpGet(port, "/status")).extract<Poco::JSON::Object::Ptr>();
    auto pols = root->getArray("policies");
    for (size_t i = 0; i < pols->size(); ++i) {
      auto p = pols->getObject(static_cast<unsigned>(i));
      (p->getValue<std::string>("name") == "nightly" ? nightly : hourly) = p;
    }
    if (!nightly || !hourly || !nightly->has("next_pass") || !hourly->has("next_pass")) {
      return false;
    }
    // Until its first pass has ended, the interval policy's next pass is "now".
    auto next = bulkwarden::model::parseTimestamp(hourly->getValue<std::string>("next_pass"));
    return next && *next > std::chrono::system_clock::now() + std::chrono::minutes(30);
  }));
  EXPECT_EQ(nightly->getValue<std::string>("description"),
            "Delete failed query jobs, weekdays at 02:00 Paris time");
  EXPECT_FALSE(nightly->has("every")) << "a cron policy shown with an interval";
  auto sched = nightly->getObject("schedule");
  ASSERT_TRUE(sched);
  EXPECT_EQ(sched->getValue<std::string>("cron"), "0 2 * * mon-fri");
  EXPECT_EQ(sched->getValue<std::string>("timezone"), "Europe/Paris");
  EXPECT_EQ(sched->getValue<std::string>("starting_deadline"), "30m");
  EXPECT_EQ(hourly->getObject("schedule")->getValue<std::string>("every"), "1h");

  auto daemon = std::move(child_);  // `run` below replaces child_
  ASSERT_EQ(run({"schedule", "--config", cfg, "--count", "1", "--format", "json"}), 0) << err();
  Poco::JSON::Parser parser;
  auto list = parser.parse(out()).extract<Poco::JSON::Array::Ptr>();
  std::map<std::string, std::string> first;
  for (size_t i = 0; i < list->size(); ++i) {
    auto o = list->getObject(static_cast<unsigned>(i));
    first[o->getValue<std::string>("policy")] = o->getArray("next")->getElement<std::string>(0);
  }
  auto secondsOf = [](const std::string& text) {
    return std::chrono::floor<seconds>(*bulkwarden::model::parseTimestamp(text));
  };
  EXPECT_EQ(secondsOf(nightly->getValue<std::string>("next_pass")), secondsOf(first["nightly"]));
  // The interval policy: from its last pass, read from the state store (within a second of the
  // daemon's tick, which the daemon records as it starts the pass).
  auto diff = secondsOf(hourly->getValue<std::string>("next_pass")) - secondsOf(first["hourly"]);
  EXPECT_LE(std::chrono::abs(diff), seconds(1))
      << hourly->getValue<std::string>("next_pass") << " vs " << first["hourly"];
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(), 0);
}

TEST_F(Schedule, AReloadKeepsEachPolicysScheduleAndANewIntervalPolicyRunsAtOnce) {
  startSim();
  const char* one = R"(policies:
  - name: hourly-query
    resource: query-jobs
    schedule: { every: 1h }
    filters:
      - state: Failed
    action: report
)";
  std::string cfg = writeConfig(one);
  child_ = start({"run", "--config", cfg});
  ASSERT_TRUE(waitFor([&] { return passesOf("query-jobs") == 1; })) << child_->err();
  writeFile(dir_ / "policies.yaml", std::string(one) + R"(  - name: added-ingest
    resource: ingest-jobs
    schedule: { every: 1h }
    filters:
      - state: Failed
    action: report
)");
  child_->signal(SIGHUP);
  // The new policy runs at once; the loop that ran it had the old one due too if it were.
  ASSERT_TRUE(waitFor([&] { return passesOf("ingest-jobs") == 1; })) << child_->err();
  EXPECT_EQ(passesOf("query-jobs"), 1u) << "the reload ran an unchanged policy before its time";
  auto configs = audit("config");
  ASSERT_EQ(configs.size(), 2u);
  EXPECT_EQ(configs[1]->getValue<std::string>("run"), "reload");
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(), 0);
}

TEST_F(Schedule, RunOnceSaysWhichPoliciesItRunsOutsideTheirSchedule) {
  startSim();
  // A cron that fires once a year, at a time this test does not run at.
  std::string cfg = writeConfig(R"(policies:
  - name: new-year
    resource: query-jobs
    schedule: { cron: "0 0 1 1 *", starting-deadline: 1m }
    filters:
      - state: Failed
    action: report
  - name: every-time
    resource: query-jobs
    schedule: { every: 5m }
    filters:
      - state: Failed
    action: report
)");
  ASSERT_EQ(run({"run", "--once", "--config", cfg}), 0) << err();
  EXPECT_NE(err().find("policy new-year runs outside its schedule (cron \"0 0 1 1 *\" UTC, "
                       "starting-deadline 1m); its next time is "),
            std::string::npos)
      << err();
  EXPECT_EQ(err().find("policy every-time runs outside"), std::string::npos) << err();
}

}  // namespace
}  // namespace bulkwarden::testing
