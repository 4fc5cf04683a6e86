// `audit show`, `audit summary`, the journal line per action and the config record's policy
// digest: the real binary over a trail written by `run --once` against the simulated org.
#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

constexpr const char* kPolicies = R"(policies:
  - name: abort-stuck
    resource: query-jobs
    mode: enforce
    filters:
      - state: [InProgress]
      - older-than: { field: createdDate, age: 30m }
    action: abort
  - name: report-old-ingest
    resource: ingest-jobs
    filters:
      - state: [Open]
    action: report
)";

sim::JobSeed seed(const char* kind, const char* state, std::chrono::milliseconds age) {
  sim::JobSeed s;
  s.kind = kind;
  s.state = state;
  s.age = age;
  return s;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string sha256(const std::string& text) {
  Poco::SHA2Engine e(Poco::SHA2Engine::SHA_256);
  e.update(text);
  return Poco::DigestEngine::digestToHex(e.digest());
}

class AuditQuery : public EndToEnd {
 protected:
  // Three stuck query jobs (aborted), one young one (left), one open ingest job (reported).
  void runOnce(std::vector<std::string> extra = {}) {
    startSim();
    for (int i = 0; i < 3; ++i)
      stuck_.push_back(org().addJob(seed("query", "InProgress", hours(2))));
    young_ = org().addJob(seed("query", "InProgress", minutes(1)));
    reported_ = org().addJob(seed("ingest", "Open", hours(1)));
    config_ = writeConfig(kPolicies);
    std::vector<std::string> args = {"run", "--once", "--config", config_};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_EQ(run(args), 0) << err();
    runErr_ = err();
  }
  std::vector<std::string> stuck_;
  std::string young_, reported_, config_, runErr_;
};

// Issue 16 item 2: the journal tells what happened, one line per action and per report.
TEST_F(AuditQuery, RunOnceLogsOneLinePerActionAndReport) {
  runOnce();
  EXPECT_EQ(count(runErr_, "abort "), 3u) << runErr_;
  for (const auto& id : stuck_) {
    EXPECT_EQ(count(runErr_, "abort " + id + " policy=abort-stuck org=test-org outcome=applied"),
              1u)
        << id << "\n"
        << runErr_;
  }
  EXPECT_EQ(count(runErr_, "report " + reported_ + " policy=report-old-ingest org=test-org"), 1u)
      << runErr_;
  EXPECT_EQ(count(runErr_, young_), 0u) << runErr_;
}

TEST_F(AuditQuery, DryRunLogsWouldAbort) {
  runOnce({"--dry-run"});
  for (const auto& id : stuck_) {
    EXPECT_EQ(count(runErr_, "would abort " + id + " policy=abort-stuck org=test-org"), 1u)
        << runErr_;
  }
  EXPECT_EQ(count(runErr_, "outcome=applied"), 0u) << runErr_;
}

TEST_F(AuditQuery, ShowFiltersByJobPolicyOrgSinceAndOutcome) {
  runOnce();
  const std::string& id = stuck_[0];
  ASSERT_EQ(id.size(), 18u);
  // By job, 18 and 15 characters alike: its decision, intent and result, nothing else.
  for (const std::string& form : {id, id.substr(0, 15)}) {
    ASSERT_EQ(run({"audit", "show", auditPath(), "--job", form}), 0) << err();
    auto got = lines(out());
    ASSERT_EQ(got.size(), 3u) << out();
    for (const auto& l : got) EXPECT_NE(l.find("job=" + id), std::string::npos) << l;
    EXPECT_NE(got[0].find(" decision "), std::string::npos) << got[0];
    EXPECT_NE(got[1].find(" intent "), std::string::npos) << got[1];
    EXPECT_NE(got[2].find(" result org=test-org policy=abort-stuck action=abort job=" + id +
                          " outcome=applied"),
              std::string::npos)
        << got[2];
  }
  // By the config instead of the file.
  ASSERT_EQ(run({"audit", "show", "--config", config_, "--job", id}), 0) << err();
  EXPECT_EQ(lines(out()).size(), 3u) << out();
  // By outcome: the three results.
  ASSERT_EQ(run({"audit", "show", auditPath(), "--outcome", "applied"}), 0) << err();
  EXPECT_EQ(lines(out()).size(), 3u) << out();
  ASSERT_EQ(run({"audit", "show", auditPath(), "--outcome", "recorded"}), 0) << err();
  ASSERT_EQ(lines(out()).size(), 1u) << out();
  EXPECT_NE(out().find("job=" + reported_), std::string::npos) << out();
  // A misspelt outcome is a usage error naming the outcomes, not an empty answer.
  ASSERT_EQ(run({"audit", "show", auditPath(), "--outcome", "aplied"}), 64) << err();
  EXPECT_NE(err().find("--outcome 'aplied': not an outcome (recorded, applied,"), std::string::npos)
      << err();
  // By policy.
  ASSERT_EQ(run({"audit", "show", auditPath(), "--policy", "report-old-ingest"}), 0) << err();
  ASSERT_EQ(lines(out()).size(), 1u) << out();
  ASSERT_EQ(run({"audit", "show", auditPath(), "--policy", "abort-stuck"}), 0) << err();
  EXPECT_EQ(lines(out()).size(), 9u) << out();  // 3 decisions, 3 intents, 3 results
  // By org.
  ASSERT_EQ(run({"audit", "show", auditPath(), "--org", "other-org"}), 0) << err();
  EXPECT_EQ(out(), "");
  ASSERT_EQ(run({"audit", "show", auditPath(), "--org", "test-org"}), 0) << err();
  // 3 decisions, 3 intents, 3 results, 1 report; and the passes' run-start and run-end.
  EXPECT_GE(lines(out()).size(), 10u) << out();
  for (const auto& l : lines(out())) EXPECT_NE(l.find(" org=test-org "), std::string::npos) << l;
  // By time: everything is from the last hour; nothing is after 2099.
  ASSERT_EQ(run({"audit", "show", auditPath()}), 0) << err();
  size_t all = lines(out()).size();
  ASSERT_EQ(run({"audit", "show", auditPath(), "--since", "1h"}), 0) << err();
  EXPECT_EQ(lines(out()).size(), all);
  ASSERT_EQ(run({"audit", "show", auditPath(), "--since", "2099-01-01T00:00:00Z"}), 0) << err();
  EXPECT_EQ(out(), "");
  // JSON: the records themselves.
  ASSERT_EQ(run({"audit", "show", auditPath(), "--job", id, "--format", "json"}), 0) << err();
  std::set<std::string> types;
  for (const auto& l : lines(out())) {
    Poco::JSON::Parser p;
    auto o = p.parse(l).extract<Poco::JSON::Object::Ptr>();
    types.insert(o->getValue<std::string>("type"));
    EXPECT_EQ(o->getObject("job")->getValue<std::string>("id"), id);
  }
  EXPECT_EQ(types, (std::set<std::string>{"decision", "intent", "result"}));
  // A malformed id is a usage error.
  EXPECT_EQ(run({"audit", "show", auditPath(), "--job", "750R;rm"}), 64);
}

TEST_F(AuditQuery, SummaryCountsActionsAndPasses) {
  runOnce();
  ASSERT_EQ(run({"audit", "summary", auditPath(), "--since", "24h"}), 0) << err();
  EXPECT_NE(out().find("test-org abort-stuck abort applied: 3"), std::string::npos) << out();
  EXPECT_NE(out().find("test-org report-old-ingest report recorded: 1"), std::string::npos)
      << out();
  EXPECT_NE(out().find("0 error(s)"), std::string::npos) << out();
  ASSERT_EQ(run({"audit", "summary", "--config", config_, "--format", "json"}), 0) << err();
  Poco::JSON::Parser p;
  auto o = p.parse(out()).extract<Poco::JSON::Object::Ptr>();
  EXPECT_GE(o->getValue<int>("passes"), 2);  // a query pass and an ingest pass
  int64_t applied = 0;
  auto actions = o->getArray("actions");
  for (size_t i = 0; i < actions->size(); ++i) {
    auto a = actions->getObject(static_cast<unsigned>(i));
    if (a->getValue<std::string>("outcome") == "applied") applied += a->getValue<int64_t>("count");
  }
  EXPECT_EQ(applied, 3);
}

TEST_F(AuditQuery, MissingFileIs66) {
  startSim();
  auto missing = (dir_ / "no-such-audit.jsonl").string();
  EXPECT_EQ(run({"audit", "show", missing}), 66) << err();
  EXPECT_NE(err().find("no-such-audit.jsonl"), std::string::npos) << err();
  EXPECT_EQ(run({"audit", "summary", missing}), 66) << err();
}

// Records from outside are hostile: an escape sequence or a newline in a field prints escaped,
// a line that is not a record is skipped (and said), an over-long line is skipped whole.
TEST_F(AuditQuery, HostileRecordIsEscaped) {
  startSim();
  auto path = dir_ / "hostile.jsonl";
  std::string evil =
      R"({"seq":1,"ts":"2026-12-01T00:00:00.000Z","run":"r","type":"result","org":"acme","policy":"p\u001b[31mred\nFAKE 2026 result","action":"abort","job":{"id":"750R0000000zlh9IAA"},"outcome":"applied","error":{"message":"\u202eevil"},"prev":"x","hash":"y"})";
  writeFile(path, evil + "\nnot json at all\n" + std::string(2 << 20, 'a') + "\n", 0640);
  ASSERT_EQ(run({"audit", "show", path.string()}), 0) << err();
  auto got = lines(out());
  ASSERT_EQ(got.size(), 1u) << out();
  EXPECT_EQ(out().find('\x1b'), std::string::npos);
  EXPECT_EQ(out().find("\xe2\x80\xae"), std::string::npos);  // U+202E, right-to-left override
  EXPECT_NE(out().find("p\\x1b[31mred\\nFAKE"), std::string::npos) << out();
  EXPECT_NE(err().find("skipped 2 line(s)"), std::string::npos) << err();
  ASSERT_EQ(run({"audit", "show", path.string(), "--format", "json"}), 0) << err();
  EXPECT_EQ(out().find("\xe2\x80\xae"), std::string::npos);
  ASSERT_EQ(run({"audit", "summary", path.string()}), 0) << err();
  EXPECT_EQ(out().find('\x1b'), std::string::npos);
}

// Issue 16 item 7: the config record traces decisions to the policy text that made them.
TEST_F(AuditQuery, ConfigRecordCarriesThePolicyDigest) {
  runOnce();
  auto configs = audit("config");
  ASSERT_EQ(configs.size(), 1u);
  auto digest = configs[0]->getValue<std::string>("policy_digest");
  ASSERT_EQ(digest.size(), 7u + 64u) << digest;
  EXPECT_EQ(digest.rfind("sha256:", 0), 0u);
  auto files = configs[0]->getObject("policy_files");
  auto policyFile = (dir_ / "policies.yaml").string();
  ASSERT_TRUE(files->has(policyFile)) << digest;
  EXPECT_EQ(files->getValue<std::string>(policyFile), sha256(kPolicies));
  EXPECT_EQ(digest, "sha256:" + sha256(sha256(kPolicies) + "  " + policyFile + "\n"));

  // Another policy text, another digest.
  writeFile(dir_ / "policies.yaml", std::string(kPolicies) + "# changed\n");
  ASSERT_EQ(run({"run", "--once", "--config", config_}), 0) << err();
  configs = audit("config");
  ASSERT_EQ(configs.size(), 2u);
  EXPECT_NE(configs[1]->getValue<std::string>("policy_digest"), digest);
}

}  // namespace
}  // namespace bulkwarden::testing
