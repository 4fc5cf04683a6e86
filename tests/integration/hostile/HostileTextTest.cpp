// Text a lying org or token endpoint sends, as the real binary logs and prints it: a 60,000
// character instance_url (which once crashed the log redactor), CR/LF and terminal escapes in
// OAuth errors, Bulk API error codes and messages, and skipped records' ids (which once printed
// lines of their own), and escapes in a job's fields shown by `plan`. Every stderr line must
// carry the "bulkwarden <level>:" prefix, hold no raw control character and stay under the cap.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "log/Sanitize.h"
#include "support/Fixture.h"
#include "support/HostileServer.h"
#include "systemd/NotifySocket.h"

namespace bulkwarden::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kReportBoth = R"(policies:
  - name: report-running-queries
    resource: query-jobs
    mode: enforce
    schedule: { every: 2m }
    filters:
      - state: [InProgress]
    action: report
  - name: report-running-ingest
    resource: ingest-jobs
    mode: enforce
    schedule: { every: 2m }
    filters:
      - state: [InProgress]
    action: report
)";

// What each stderr line must look like: the level prefix, no control character, capped.
void expectOnlyWellFormedLines(const std::string& err) {
  static const std::vector<std::string> kPrefixes = {
      "bulkwarden debug: ",   "bulkwarden info: ",  "bulkwarden notice: ",
      "bulkwarden warning: ", "bulkwarden error: ", "bulkwarden crit: "};
  EXPECT_FALSE(err.empty());
  EXPECT_EQ(err.back(), '\n');
  std::istringstream in(err);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    bool prefixed = false;
    for (const auto& p : kPrefixes) prefixed = prefixed || line.rfind(p, 0) == 0;
    EXPECT_TRUE(prefixed) << "line " << n << " is not a log line: " << line.substr(0, 200);
    EXPECT_EQ(line.rfind("bulkwarden crit: forged", 0), std::string::npos) << line;
    for (char c : line) {
      const auto u = static_cast<unsigned char>(c);
      ASSERT_FALSE(u < 0x20 || u == 0x7f) << "raw control byte " << static_cast<int>(u)
                                          << " in line " << n << ": " << line.substr(0, 200);
    }
    EXPECT_LE(line.size(), log::kMaxLineBytes + log::kMaxMarkerBytes + 32)
        << "line " << n << " is not capped";
  }
}

class HostileText : public EndToEnd {
 protected:
  // A config whose one org logs in with client-credentials at `loginUrl`.
  std::string writeHostileConfig(const std::string& loginUrl,
                                 const std::string& policies = kReportBoth) {
    writeFile(dir_ / "client-secret", "S3cr3t-value\n");
    writeFile(dir_ / "policies.yaml", policies);
    const std::string cfg =
        "orgs:\n"
        "  - name: test-org\n"
        "    api-version: \"62.0\"\n"
        "    auth:\n"
        "      flow: client-credentials\n"
        "      login-url: " +
        loginUrl +
        "\n"
        "      client-id: test-client\n"
        "      client-secret: { file: client-secret }\n"
        "policies: [policies.yaml]\n"
        "audit-log: audit.jsonl\n"
        "state-dir: state\n";
    writeFile(dir_ / "bulkwarden.yaml", cfg);
    return (dir_ / "bulkwarden.yaml").string();
  }
};

HostileReply json(int status, std::string body) {
  HostileReply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// Issue 11 item 1: a token reply whose instance_url is 60,000 characters. Each shape made
// std::regex recurse once per character in the redactor and the process died of SIGSEGV.
TEST_F(HostileText, AHugeInstanceUrlNeitherCrashesNorFloodsTheLog) {
  const std::string run60k(60'000, 'a');
  for (const std::string& url : {"https://" + run60k, "https://eyJ" + run60k,
                                 "https://acme.my.salesforce.com/?access_token=" + run60k}) {
    SCOPED_TRACE(url.substr(0, 50));
    HostileServer server([&](const HostileRequest& r) {
      if (r.target == "/services/oauth2/token") {
        return json(200, R"({"access_token":"tok-123","token_type":"Bearer","instance_url":")" +
                             url + "\"}");
      }
      return json(404, R"([{"errorCode":"NOT_FOUND","message":"no"}])");
    });
    const int rc = run({"run", "--once", "--config", writeHostileConfig(server.url())});
    EXPECT_EQ(rc, 69) << err().substr(0, 2000);  // the listing failed; not 139 (SIGSEGV)
    expectOnlyWellFormedLines(err());
    EXPECT_NE(err().find("bad instance_url \"https://"), std::string::npos)
        << err().substr(0, 2000);
    EXPECT_NE(err().find("(" + std::to_string(url.size()) + " bytes)"), std::string::npos)
        << err().substr(0, 2000);
    // Refused at the token reply: no request went to the 60,000-character host.
    EXPECT_EQ(server.count("GET", "/"), 0u);
  }
}

// Issue 11 item 10: CR/LF and terminal escapes in the token endpoint's OAuth error.
TEST_F(HostileText, AnOAuthErrorCannotForgeALineOrReachTheTerminal) {
  HostileServer server([](const HostileRequest&) {
    return json(400, R"({"error":"invalid_grant\r\nbulkwarden crit: forged error\u001b[2J",)"
                     R"("error_description":"denied\u001b]0;owned\u0007\nbulkwarden crit: forged )"
                     R"(description\u009b31m\u2028"})");
  });
  EXPECT_EQ(run({"run", "--once", "--config", writeHostileConfig(server.url())}), 69) << err();
  expectOnlyWellFormedLines(err());
  // It was logged, escaped.
  EXPECT_NE(err().find("invalid_grant\\r\\nbulkwarden crit: forged error\\x1b[2J"),
            std::string::npos)
      << err();
  EXPECT_NE(err().find("\\x1b]0;owned\\x07\\nbulkwarden crit: forged description\\u009b31m\\u2028"),
            std::string::npos)
      << err();
}

// Issue 11 item 10: an org whose listing holds a record with CR/LF in its id and whose Bulk API
// errors carry CR/LF and escapes in errorCode and message.
TEST_F(HostileText, ServerErrorsAndSkippedIdsCannotForgeLogLines) {
  HostileServer server([](const HostileRequest& r) {
    if (r.target == "/services/oauth2/token") {
      return json(200, R"({"access_token":"tok-123","token_type":"Bearer","instance_url":")" +
                           r.base + "\"}");
    }
    if (r.target.find("/jobs/query") != std::string::npos) {
      return json(
          200, R"({"done":true,"nextRecordsUrl":null,"records":[)"
               R"({"id":"750R0000000\r\nbulkwarden crit: forged id\u001b[2J","jobType":"V2Query",)"
               R"("state":"InProgress","object":"Account","operation":"query",)"
               R"("createdDate":"2026-01-01T00:00:00.000+0000",)"
               R"("systemModstamp":"2026-01-01T00:00:00.000+0000","apiVersion":62.0}]})");
    }
    return json(400, R"([{"errorCode":"INVALID\r\nbulkwarden crit: forged code\u001b[31m",)"
                     R"("message":"bad\nbulkwarden crit: forged message\u001b]0;t\u0007\u0085"}])");
  });
  const int rc = run({"run", "--once", "--config", writeHostileConfig(server.url())});
  EXPECT_EQ(rc, 69) << err();
  expectOnlyWellFormedLines(err());
  EXPECT_NE(err().find("750R0000000\\r\\nbulkwarden crit: forged id\\x1b[2J"), std::string::npos)
      << err();
  EXPECT_NE(err().find("INVALID\\r\\nbulkwarden crit: forged code\\x1b[31m"), std::string::npos)
      << err();
  EXPECT_NE(err().find("bad\\nbulkwarden crit: forged message\\x1b]0;t\\x07\\u0085"),
            std::string::npos)
      << err();
}

// The daemon's sd_notify STATUS= quotes the last pass's listing error: a newline there would end
// the field and start one of the server's choosing, an escape would reach `systemctl status`.
TEST_F(HostileText, TheNotifyStatusQuotesServerTextOnOneEscapedLine) {
  HostileServer server([](const HostileRequest& r) {
    if (r.target == "/services/oauth2/token") {
      return json(200, R"({"access_token":"tok-123","token_type":"Bearer","instance_url":")" +
                           r.base + "\"}");
    }
    return json(400, R"([{"errorCode":"INVALID\nREADY=1\nMAINPID=1","message":"m\u001b[2J"}])");
  });
  NotifySocket notify((dir_ / "notify").string());
  ++runs_;
  child_ = std::make_unique<Child>(
      std::vector<std::string>{"run", "--config", writeHostileConfig(server.url())},
      (dir_ / "out-notify").string(), (dir_ / "err-notify").string(),
      std::vector<std::string>{notify.env()});
  ASSERT_GE(notify.waitFor("READY=1"), 0) << err();
  const int failed = notify.waitFor("STATUS=test-org query-jobs: 0 jobs");
  ASSERT_GE(failed, 0) << err();
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(20s), 0) << err();
  const auto msgs = notify.messages();
  const std::string& text = msgs[static_cast<size_t>(failed)].text;
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;  // STATUS= is the only field
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_NE(text.find("INVALID\\nREADY=1\\nMAINPID=1: m\\x1b[2J"), std::string::npos) << text;
  EXPECT_EQ(std::count_if(msgs.begin(), msgs.end(), [](auto& m) { return m.has("READY=1"); }), 1);
  expectOnlyWellFormedLines(err());
}

// `plan` prints a job's fields in a table: an escape sequence in one must not reach the
// terminal, a CR/LF must not start a line, and --format json stays valid JSON holding the very
// text the org sent.
TEST_F(HostileText, PlanEscapesAJobsFieldsInTheTableAndInJson) {
  startSim();
  const std::string object =
      "Acc\x1b[2J\x1b]0;owned\x07ount\r\nbulkwarden crit: forged\xc2\x9b"
      "31m\xe2\x80\xae__c";
  sim::JobSeed s;
  s.kind = "query";
  s.state = "InProgress";
  s.age = 2h;
  s.object = object;
  const std::string id = org().addJob(s);
  const std::string config = writeConfig(R"(policies:
  - name: abort-running-queries
    resource: query-jobs
    mode: enforce
    schedule: { every: 2m }
    filters:
      - state: [InProgress]
    action: abort
)");
  ASSERT_EQ(run({"plan", "--config", config}), 0) << err();
  const std::string table = out();
  for (char c : table) {
    const auto u = static_cast<unsigned char>(c);
    ASSERT_FALSE((u < 0x20 && c != '\n') || u == 0x7f) << "raw control byte in: " << table;
  }
  EXPECT_EQ(table.find("\xc2\x9b"), std::string::npos) << table;
  EXPECT_EQ(table.find("\xe2\x80\xae"), std::string::npos) << table;
  EXPECT_EQ(table.find("\nbulkwarden crit: forged"), std::string::npos) << table;
  EXPECT_NE(table.find(id + "  InProgress"), std::string::npos) << table;
  EXPECT_NE(table.find("Acc\\x1b[2J\\x1b]0;owned\\x07ount\\r\\nbulkwarden crit: forged\\u009b31m"
                       "\\u202e__c"),
            std::string::npos)
      << table;
  EXPECT_EQ(org().counters().patches, 0);

  child_.reset();
  ASSERT_EQ(run({"plan", "--config", config, "--format", "json"}), 0) << err();
  const std::string text = out();
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    ASSERT_FALSE((u < 0x20 && c != '\n' && c != ' ') || u >= 0x7f) << "not plain ASCII: " << text;
  }
  Poco::JSON::Parser parser;
  auto passes = parser.parse(text).extract<Poco::JSON::Array::Ptr>();
  ASSERT_EQ(passes->size(), 1u) << text;
  auto jobs = passes->getObject(0)->getArray("policies")->getObject(0)->getArray("jobs");
  ASSERT_EQ(jobs->size(), 1u) << text;
  EXPECT_EQ(jobs->getObject(0)->getValue<std::string>("object"), object);
}

// `validate` quotes a bad value from the policy file in its diagnostic: escaped, one line.
TEST_F(HostileText, ValidateEscapesPolicyTextInItsDiagnostics) {
  writeFile(dir_ / "token", "unused\n");
  writeFile(dir_ / "policies.yaml", R"(policies:
  - name: "evil\e[2J\r\nbulkwarden.yaml: OK"
    resource: query-jobs
    filters:
      - state: [InProgress]
    action: report
)");
  writeFile(dir_ / "bulkwarden.yaml",
            "orgs:\n  - name: test-org\n    instance-url: https://acme.my.salesforce.com\n"
            "    auth:\n      flow: access-token\n      access-token: { file: token }\n"
            "policies: [policies.yaml]\naudit-log: audit.jsonl\nstate-dir: state\n");
  EXPECT_EQ(run({"validate", "--config", (dir_ / "bulkwarden.yaml").string()}), 78) << err();
  const std::string e = err();
  EXPECT_EQ(e.find('\x1b'), std::string::npos) << e;
  EXPECT_EQ(e.find('\r'), std::string::npos) << e;
  EXPECT_EQ(e.find("\nbulkwarden.yaml: OK"), std::string::npos) << e;
  EXPECT_NE(e.find("evil\\x1b[2J\\r\\nbulkwarden.yaml: OK"), std::string::npos) << e;
}

}  // namespace
}  // namespace bulkwarden::testing
