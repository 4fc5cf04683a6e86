// `bulkwarden run` under a service manager, end to end with the real binary: sd_notify messages
// on a NOTIFY_SOCKET made here (READY, STATUS, WATCHDOG, RELOADING, STOPPING), SIGHUP reloads,
// the watchdog withheld when a pass hangs, and journald priorities on standard error.
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <regex>
#include <set>
#include <thread>

#include "Eventually.h"
#include "audit/AuditLog.h"
#include "support/Fixture.h"
#include "systemd/NotifySocket.h"

namespace bulkwarden::testing {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Steady = std::chrono::steady_clock;

const char* kReportPolicy = R"(policies:
  - name: watch-old
    resource: query-jobs
    schedule: { every: 1s }
    filters:
      - state: InProgress
    action: report
)";

class Service : public EndToEnd {
 protected:
  void seed(int n) {
    for (int i = 0; i < n; ++i) {
      sim::JobSeed s;
      s.kind = "query";
      s.state = "InProgress";
      s.age = hours(1);
      org().addJob(s);
    }
  }
  std::unique_ptr<Child> startWithEnv(const std::vector<std::string>& args,
                                      const std::vector<std::string>& env) {
    ++runs_;
    return std::make_unique<Child>(args, (dir_ / ("out" + std::to_string(runs_))).string(),
                                   (dir_ / ("err" + std::to_string(runs_))).string(), env);
  }
  // Decision records of a policy in the audit trail.
  size_t decisionsOf(const std::string& policy) const {
    size_t n = 0;
    for (const auto& d : audit("decision")) {
      if (d->getValue<std::string>("policy") == policy) ++n;
    }
    return n;
  }
  template <class F>
  static bool eventually(F f, milliseconds timeout = seconds(20)) {
    return testing::eventually(f, timeout);
  }
};

TEST_F(Service, TellsSystemdReadyStatusWatchdogAndStopping) {
  startSim();
  seed(3);
  NotifySocket notify((dir_ / "notify").string());
  const auto watchdogUsec = seconds(3);
  child_ = startWithEnv({"run", "--config", writeConfig(kReportPolicy)},
                        {notify.env(), "WATCHDOG_USEC=3000000"});
  int ready = notify.waitFor("READY=1");
  ASSERT_GE(ready, 0) << err();
  EXPECT_EQ(ready, 0) << "READY=1 must be the first message";
  EXPECT_NE(notify.messages()[0].value("STATUS").find("1 org(s), 1 policy"), std::string::npos)
      << notify.messages()[0].text;
  // After each pass: one line with what it did.
  int status = notify.waitFor("STATUS=test-org query-jobs: 3 jobs", static_cast<size_t>(ready) + 1);
  ASSERT_GE(status, 0) << err() << (notify.messages().size() > 1 ? notify.messages()[1].text : "");
  // Let the watchdog run for a few intervals; every ping must come well within WATCHDOG_USEC
  // (systemd restarts the service after a gap of WATCHDOG_USEC). Pings are due every quarter of
  // it; two thirds leaves room for a loaded CI machine without hiding a loop that pings late.
  auto pingCount = [&] {
    size_t n = 0;
    for (const auto& m : notify.messages()) n += m.has("WATCHDOG=1");
    return n;
  };
  ASSERT_TRUE(eventually([&] { return pingCount() >= 8; })) << err();
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(seconds(20)), 0) << err();
  auto msgs = notify.messages();
  std::vector<Steady::time_point> pings;
  for (const auto& m : msgs) {
    if (m.has("WATCHDOG=1")) pings.push_back(m.at);
  }
  ASSERT_GE(pings.size(), 8u);
  pings.insert(pings.begin(), msgs[static_cast<size_t>(ready)].at);
  for (size_t i = 1; i < pings.size(); ++i) {
    EXPECT_LT(pings[i] - pings[i - 1], watchdogUsec * 2 / 3) << "gap before ping " << i;
  }
  ASSERT_FALSE(msgs.empty());
  EXPECT_TRUE(msgs.back().has("STOPPING=1")) << msgs.back().text;
  EXPECT_EQ(std::count_if(msgs.begin(), msgs.end(), [](auto& m) { return m.has("READY=1"); }), 1);
}

TEST_F(Service, SighupLoadsTheNewPoliciesAndABadConfigKeepsTheOld) {
  startSim();
  seed(2);
  NotifySocket notify((dir_ / "notify").string());
  std::string cfg = writeConfig(kReportPolicy);
  child_ = startWithEnv({"run", "--config", cfg}, {notify.env()});
  ASSERT_GE(notify.waitFor("READY=1"), 0) << child_->err();
  ASSERT_TRUE(eventually([&] { return decisionsOf("watch-old") >= 2; })) << child_->err();

  // A new policy file: after SIGHUP the new policy decides, the old one no longer does.
  writeFile(dir_ / "policies.yaml", R"(policies:
  - name: watch-new
    resource: query-jobs
    schedule: { every: 1s }
    filters:
      - state: InProgress
    action: report
)");
  size_t before = notify.messages().size();
  child_->signal(SIGHUP);
  int reloading = notify.waitFor("RELOADING=1", before);
  ASSERT_GE(reloading, 0) << child_->err();
  int ready = notify.waitFor("READY=1", static_cast<size_t>(reloading) + 1);
  ASSERT_GE(ready, 0) << child_->err();
  EXPECT_TRUE(notify.messages()[static_cast<size_t>(reloading)].has("MONOTONIC_USEC="));
  ASSERT_TRUE(eventually([&] { return decisionsOf("watch-new") >= 2; })) << child_->err();
  size_t oldCount = decisionsOf("watch-old");
  // Two more passes of the new policy (every second), and none of the old one meanwhile.
  size_t newCount = decisionsOf("watch-new");
  ASSERT_TRUE(eventually([&] { return decisionsOf("watch-new") >= newCount + 2; }))
      << child_->err();
  EXPECT_EQ(decisionsOf("watch-old"), oldCount) << "the old policy still runs";
  auto configs = audit("config");
  ASSERT_EQ(configs.size(), 2u);
  EXPECT_EQ(configs[1]->getValue<std::string>("run"), "reload");
  EXPECT_EQ(configs[1]->getValue<std::string>("policies"), "watch-new");

  // A broken config: every error is logged, the old configuration keeps running.
  writeFile(dir_ / "bulkwarden.yaml", Child::slurp(cfg) + "colour: blue\nconcurrency: -3\n");
  before = notify.messages().size();
  child_->signal(SIGHUP);
  reloading = notify.waitFor("RELOADING=1", before);
  ASSERT_GE(reloading, 0);
  ready = notify.waitFor("READY=1", static_cast<size_t>(reloading) + 1);
  ASSERT_GE(ready, 0);
  EXPECT_NE(notify.messages()[static_cast<size_t>(ready)].value("STATUS").find("reload failed"),
            std::string::npos);
  ASSERT_TRUE(eventually(
      [&] { return child_->err().find("still running the previous") != std::string::npos; }));
  std::string e = child_->err();
  EXPECT_NE(e.find("bulkwarden.yaml:12:1: "), std::string::npos) << e;  // colour
  EXPECT_NE(e.find("concurrency"), std::string::npos) << e;
  newCount = decisionsOf("watch-new");
  ASSERT_TRUE(eventually([&] { return decisionsOf("watch-new") > newCount; }))
      << "the running configuration stopped after a failed reload";
  EXPECT_EQ(audit("config").size(), 2u);
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(seconds(20)), 0) << child_->err();
  EXPECT_TRUE(bulkwarden::audit::verifyFile(auditPath()).ok);
}

TEST_F(Service, AReloadMidPassLosesNoActionAndRepeatsNone) {
  startSim();
  seed(600);
  NotifySocket notify((dir_ / "notify").string());
  const char* policies = R"(policies:
  - name: abort-all
    resource: query-jobs
    mode: enforce
    schedule: { every: 1s }
    filters:
      - state: InProgress
    action: abort
)";
  child_ = startWithEnv({"run", "--config", writeConfig(policies)}, {notify.env()});
  ASSERT_TRUE(eventually([&] { return org().counters().appliedAborts >= 30; })) << child_->err();
  child_->signal(SIGHUP);
  ASSERT_GE(notify.waitFor("RELOADING=1"), 0);
  // The old pass finishes what it sent; the new configuration's first pass takes the rest.
  ASSERT_TRUE(eventually([&] { return org().counters().appliedAborts == 600; }, seconds(60)))
      << org().counters().appliedAborts << "\n"
      << child_->err();
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(seconds(20)), 0) << child_->err();
  auto report = bulkwarden::audit::verifyFile(auditPath());
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_TRUE(report.openIntents.empty());
  size_t applied = 0;
  std::set<std::string> jobs;
  for (const auto& r : audit("result")) {
    if (r->getValue<std::string>("outcome") == "applied") {
      ++applied;
      jobs.insert(r->getObject("job")->getValue<std::string>("id"));
    }
  }
  EXPECT_EQ(applied, 600u);
  EXPECT_EQ(jobs.size(), 600u) << "a job was aborted twice";
  auto ends = audit("run-end");
  ASSERT_GE(ends.size(), 2u);
  EXPECT_TRUE(ends[0]->has("stopped")) << "the reload did not come mid-pass";
  EXPECT_EQ(audit("config").size(), 2u);
}

TEST_F(Service, SigtermMidPassStopsCleanlyAndSaysStopping) {
  startSim();
  seed(3000);
  NotifySocket notify((dir_ / "notify").string());
  const char* policies = R"(policies:
  - name: abort-all
    resource: query-jobs
    mode: enforce
    filters:
      - state: InProgress
    action: abort
)";
  child_ = startWithEnv({"run", "--config", writeConfig(policies)}, {notify.env()});
  ASSERT_TRUE(eventually([&] { return org().counters().appliedAborts >= 50; })) << child_->err();
  auto sent = Steady::now();
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(seconds(20)), 0) << child_->err();
  EXPECT_LT(Steady::now() - sent, seconds(10)) << "stop took too long";
  EXPECT_GE(notify.waitFor("STOPPING=1", 0, seconds(1)), 0);
  int64_t applied = org().counters().appliedAborts;
  EXPECT_LT(applied, 3000) << "the stop request did not stop the pass";
  auto report = bulkwarden::audit::verifyFile(auditPath());
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_TRUE(report.openIntents.empty()) << "an action in flight was not recorded";
  int64_t appliedResults = 0;
  for (const auto& r : audit("result")) {
    appliedResults += r->getValue<std::string>("outcome") == "applied";
  }
  EXPECT_EQ(appliedResults, applied);
}

TEST_F(Service, AHungPassStopsTheWatchdogPings) {
  // An "org" that accepts connections and never answers: the listing hangs (until its 60 s read
  // timeout), and with a 1 s pass limit the service must stop pinging.
  Poco::Net::ServerSocket blackhole(Poco::Net::SocketAddress("127.0.0.1", 0));
  writeFile(dir_ / "token", "00D000000000001!AQfake\n");
  writeFile(dir_ / "policies.yaml", kReportPolicy);
  writeFile(dir_ / "bulkwarden.yaml",
            "orgs:\n  - name: stuck-org\n    instance-url: http://127.0.0.1:" +
                std::to_string(blackhole.address().port()) +
                "\n    auth: { flow: access-token, access-token: { file: token } }\n"
                "policies: [policies.yaml]\naudit-log: audit.jsonl\nstate-dir: state\n");
  NotifySocket notify((dir_ / "notify").string());
  child_ =
      startWithEnv({"run", "--config", (dir_ / "bulkwarden.yaml").string()},
                   {notify.env(), "WATCHDOG_USEC=1000000", "BULKWARDEN_WATCHDOG_PASS_LIMIT=1s"});
  ASSERT_GE(notify.waitFor("READY=1"), 0) << child_->err();
  ASSERT_TRUE(eventually(
      [&] { return child_->err().find("withholding the watchdog") != std::string::npos; },
      seconds(10)))
      << child_->err();
  size_t count = notify.messages().size();
  // Through two watchdog intervals (pings are due every quarter of one): not one ping.
  auto noPing = [&] {
    auto msgs = notify.messages();
    for (size_t i = count; i < msgs.size(); ++i) {
      if (msgs[i].has("WATCHDOG=1")) return false;
    }
    return true;
  };
  EXPECT_TRUE(testing::holdsFor(noPing, seconds(2))) << "pinged while a pass hangs";
  EXPECT_NE(child_->err().find("org stuck-org: a pass has been running for"), std::string::npos);
  // The child is killed by the fixture (a hung pass would hold SIGTERM for its read timeout).
}

TEST_F(Service, UnderJournaldEachLineCarriesItsPriority) {
  startSim();
  seed(1);
  std::string cfg = writeConfig(kReportPolicy);
  // JOURNAL_STREAM names the device and inode of the stream stderr is connected to; the
  // child's stderr is the file err<N>, created here first so that its inode is known.
  auto journalEnv = [&](int run) {
    auto path = dir_ / ("err" + std::to_string(run));
    writeFile(path, "");
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return "JOURNAL_STREAM=" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  };
  child_ = startWithEnv({"run", "--once", "--config", cfg}, {journalEnv(runs_ + 1)});
  EXPECT_EQ(child_->wait(seconds(30)), 0) << child_->err();
  std::string e = child_->err();
  ASSERT_FALSE(e.empty());
  std::istringstream lines(e);
  std::string line;
  int info = 0;
  while (std::getline(lines, line)) {
    EXPECT_TRUE(std::regex_search(line, std::regex("^<[2-7]>"))) << line;
    if (line.rfind("<6>", 0) == 0) ++info;
  }
  EXPECT_GE(info, 1) << "the pass summary is an info line: <6>";
  EXPECT_NE(e.find("<6>test-org query-jobs: 1 jobs"), std::string::npos) << e;

  // A pass that fails (the org refuses the token) is an error line: <3>; the token stays out.
  writeFile(dir_ / "token", "00D000000000001!AQwrong\n");
  auto bad = startWithEnv({"run", "--once", "--config", cfg}, {journalEnv(runs_ + 1)});
  EXPECT_EQ(bad->wait(seconds(30)), 69);
  EXPECT_NE(bad->err().find("\n<3>test-org query-jobs: "), std::string::npos) << bad->err();
  EXPECT_EQ(bad->err().find("AQwrong"), std::string::npos) << "a secret reached the log";

  // JOURNAL_STREAM inherited by a process whose stderr goes elsewhere: plain lines.
  writeFile(dir_ / "token", server_->token() + "\n");
  auto plain = startWithEnv({"run", "--once", "--config", cfg}, {"JOURNAL_STREAM=8:12345"});
  EXPECT_EQ(plain->wait(seconds(30)), 0);
  EXPECT_EQ(plain->err().find("<6>"), std::string::npos) << plain->err();
  EXPECT_NE(plain->err().find("bulkwarden info: test-org query-jobs: 1 jobs"), std::string::npos)
      << plain->err();
}

}  // namespace
}  // namespace bulkwarden::testing
