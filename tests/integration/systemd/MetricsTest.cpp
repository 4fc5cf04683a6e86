// The HTTP endpoint of the real binary: /metrics parses as Prometheus text and its counters agree
// with the audit trail; /healthz, /readyz, /status; a client that connects and sends nothing
// does not stall the passes.
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <thread>

#include "Eventually.h"
#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct Reply {
  int status = 0;
  std::string contentType;
  std::string body;
};

Reply get(uint16_t port, const std::string& path, const std::string& method = "GET") {
  Poco::Net::HTTPClientSession s("127.0.0.1", port);
  s.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  if (method == "POST") req.setContentLength(0);
  s.sendRequest(req);
  Poco::Net::HTTPResponse resp;
  auto& in = s.receiveResponse(resp);
  Reply r;
  r.status = static_cast<int>(resp.getStatus());
  r.contentType = resp.getContentType();
  Poco::StreamCopier::copyToString(in, r.body);
  return r;
}

// A strict reader of the Prometheus text format 0.0.4: every line is a HELP, a TYPE, or a sample
// `name{label="value",...} number` of a family declared by a TYPE line before it. Returns the
// samples as "name{labels}" -> value; fails the test on any other line.
std::map<std::string, double> parsePrometheus(const std::string& text) {
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$)");
  static const std::regex kType(
      R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? ([-+]?([0-9.]+([eE][-+]?[0-9]+)?|Inf|NaN))( [0-9]+)?$)");
  std::map<std::string, double> out;
  std::map<std::string, std::string> types;
  std::istringstream in(text);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (std::regex_match(line, m, kHelp)) continue;
    if (std::regex_match(line, m, kType)) {
      types[m[1]] = m[2];
      continue;
    }
    if (!std::regex_match(line, m, kSample)) {
      ADD_FAILURE() << "not Prometheus text: " << line;
      continue;
    }
    std::string name = m[1];
    std::string family = std::regex_replace(name, std::regex("_(bucket|sum|count)$"), "");
    EXPECT_TRUE(types.count(name) || types.count(family)) << "sample without TYPE: " << line;
    out[name + m[2].str()] = std::stod(m[5]);
  }
  return out;
}

// Sum of the samples of `name` whose labels contain every `needle` (e.g. outcome="applied").
double sum(const std::map<std::string, double>& samples, const std::string& name,
           const std::vector<std::string>& needles = {}) {
  double total = 0;
  for (const auto& [k, v] : samples) {
    if (k.compare(0, name.size() + 1, name + "{") != 0 && k != name) continue;
    bool all = true;
    for (const auto& n : needles) all = all && k.find(n) != std::string::npos;
    if (all) total += v;
  }
  return total;
}

class Endpoint : public EndToEnd {
 protected:
  uint16_t waitForPort() {
    static const std::regex kListen(R"(http endpoint on http://127\.0\.0\.1:([0-9]+))");
    auto deadline = std::chrono::steady_clock::now() + seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      std::string e = child_->err();
      if (std::regex_search(e, m, kListen)) return static_cast<uint16_t>(std::stoi(m[1]));
      std::this_thread::sleep_for(milliseconds(20));
    }
    ADD_FAILURE() << "no listen line: " << child_->err();
    return 0;
  }
};

TEST_F(Endpoint, MetricsAgreeWithTheAuditTrail) {
  startSim();
  for (int i = 0; i < 40; ++i) {
    sim::JobSeed s;
    s.kind = "query";
    s.state = i < 30 ? "InProgress" : "JobComplete";
    s.age = hours(2);
    org().addJob(s);
  }
  // One pass only (every 1h): the counters are still when we read them.
  const char* policies = R"(policies:
  - name: abort-stuck
    resource: query-jobs
    mode: enforce
    schedule: { every: 1h }
    filters:
      - state: InProgress
    action: abort
  - name: report-done
    resource: query-jobs
    schedule: { every: 1h }
    filters:
      - state: JobComplete
    action: report
)";
  child_ = start({"run", "--config", writeConfig(policies, "", "http: { listen: 127.0.0.1:0 }\n")});
  uint16_t port = waitForPort();
  ASSERT_NE(port, 0);
  // The pass has ended for the metrics too (its pass-end callback follows the run-end record).
  ASSERT_TRUE(waitFor(
      [&] {
        return sum(parsePrometheus(get(port, "/metrics").body),
                   "bulkwarden_pass_duration_seconds_count") >= 1.0;
      },
      seconds(20)))
      << child_->err();
  ASSERT_EQ(audit("run-end").size(), 1u) << child_->err();

  auto r = get(port, "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.contentType.find("text/plain; version=0.0.4"), std::string::npos);
  auto m = parsePrometheus(r.body);

  auto results = audit("result");
  size_t appliedInAudit = 0;
  for (const auto& x : results) appliedInAudit += x->getValue<std::string>("outcome") == "applied";
  EXPECT_EQ(appliedInAudit, 30u);
  EXPECT_EQ(sum(m, "bulkwarden_actions_total"), static_cast<double>(results.size()));
  EXPECT_EQ(sum(m, "bulkwarden_actions_total", {"outcome=\"applied\"", "policy=\"abort-stuck\""}),
            static_cast<double>(appliedInAudit));
  auto decisions = audit("decision");
  EXPECT_EQ(sum(m, "bulkwarden_decisions_total"), static_cast<double>(decisions.size()));
  EXPECT_EQ(sum(m, "bulkwarden_decisions_total", {"policy=\"report-done\""}), 10.0);
  EXPECT_EQ(sum(m, "bulkwarden_passes_total", {"result=\"ok\""}),
            static_cast<double>(audit("run-end").size()));
  EXPECT_EQ(sum(m, "bulkwarden_pass_duration_seconds_count"), 1.0);
  EXPECT_EQ(sum(m, "bulkwarden_jobs_seen", {"state=\"InProgress\""}), 30.0);
  EXPECT_EQ(sum(m, "bulkwarden_jobs_seen", {"state=\"JobComplete\""}), 10.0);
  EXPECT_EQ(sum(m, "bulkwarden_api_calls_total"), static_cast<double>(org().counters().requests));
  // The usage is the highest count among the answers read (with 8 actions in flight they arrive
  // in any order): the org's own count after its last request.
  double used = sum(m, "bulkwarden_salesforce_api_usage", {"kind=\"used\""});
  EXPECT_EQ(used, static_cast<double>(org().apiUsed()));
  EXPECT_GT(sum(m, "bulkwarden_salesforce_api_usage", {"kind=\"max\""}), 0.0);
  // Every audit write was timed: durable ones (config, run-end), buffered ones (run-start,
  // decisions, intents written a round ahead, results), and syncs: the one each action waits for
  // before its request (free when the flusher got there first), and the flusher's own.
  auto intents = audit("intent");
  EXPECT_EQ(sum(m, "bulkwarden_audit_write_seconds_count", {"sync=\"durable\""}),
            static_cast<double>(audit("config").size() + audit("run-end").size()));
  EXPECT_EQ(sum(m, "bulkwarden_audit_write_seconds_count", {"sync=\"buffered\""}),
            static_cast<double>(audit("run-start").size() + decisions.size() + intents.size() +
                                results.size()));
  EXPECT_GE(sum(m, "bulkwarden_audit_write_seconds_count", {"sync=\"sync\""}),
            static_cast<double>(intents.size()));
  EXPECT_EQ(sum(m, "bulkwarden_errors_total"), 0.0);
  EXPECT_EQ(sum(m, "bulkwarden_ready"), 1.0);

  EXPECT_EQ(get(port, "/healthz").status, 200);
  auto ready = get(port, "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  auto st = get(port, "/status");
  EXPECT_EQ(st.status, 200);
  Poco::JSON::Parser parser;
  auto root = parser.parse(st.body).extract<Poco::JSON::Object::Ptr>();
  auto orgs = root->getArray("orgs");
  ASSERT_EQ(orgs->size(), 1u);
  auto passes = orgs->getObject(0)->getArray("last_passes");
  ASSERT_EQ(passes->size(), 1u);
  EXPECT_EQ(passes->getObject(0)->getValue<int64_t>("acted"), 30);
  EXPECT_TRUE(passes->getObject(0)->has("next_by"));
  EXPECT_EQ(root->getArray("policies")->size(), 2u);
  EXPECT_EQ(root->getArray("recent_actions")->size(), 30u);
  EXPECT_EQ(st.body.find(server_->token()), std::string::npos) << "a secret in /status";
  EXPECT_EQ(get(port, "/nope").status, 404);
  EXPECT_EQ(get(port, "/metrics", "POST").status, 405);

  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(seconds(20)), 0) << child_->err();
}

TEST_F(Endpoint, IdleClientsDoNotStallPassesOrTheEndpointForLong) {
  startSim();
  const char* policies = R"(policies:
  - name: watch
    resource: query-jobs
    schedule: { every: 1s }
    filters:
      - state: InProgress
    action: report
)";
  child_ = start({"run", "--config", writeConfig(policies, "", "http: { listen: 127.0.0.1:0 }\n")});
  uint16_t port = waitForPort();
  ASSERT_NE(port, 0);
  // More silent connections than the server has threads.
  std::vector<Poco::Net::StreamSocket> idle;
  for (int i = 0; i < 3; ++i) {
    idle.emplace_back(Poco::Net::SocketAddress("127.0.0.1", port));
  }
  int64_t lists = org().counters().lists;
  EXPECT_TRUE(eventually([&] { return org().counters().lists >= lists + 2; }, seconds(10)))
      << "passes stalled behind idle HTTP clients";
  // The server's 5 s timeout frees its threads: it answers again while the idle sockets stay.
  auto r = get(port, "/healthz");
  EXPECT_EQ(r.status, 200);
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(seconds(20)), 0) << child_->err();
}

}  // namespace
}  // namespace bulkwarden::testing
