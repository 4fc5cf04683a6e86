// The audit trail from the command line (issue 11 items 6-8, issue 16 item 1), with the real
// binary: links and second writers refused with their exit codes, a cut trail found by
// `audit verify --config` and refused at start until `audit accept`, rotated files found.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>

#include "audit/AuditLog.h"
#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

using std::chrono::hours;

class AuditTrail : public EndToEnd {
 protected:
  std::string config(const std::string& extra = "") {
    startSim();
    addJobs(3, "query", "InProgress", hours(2));
    return writeConfig(kReport, "", extra);
  }
  std::vector<std::string> lines() const {
    std::ifstream in(auditPath());
    std::vector<std::string> out;
    std::string l;
    while (std::getline(in, l)) out.push_back(l);
    return out;
  }
  void writeLines(const std::vector<std::string>& ls) const {
    std::ofstream out(auditPath(), std::ios::trunc);
    for (const auto& l : ls) out << l << "\n";
  }
  static constexpr const char* kReport = R"(policies:
  - name: watch
    resource: query-jobs
    schedule: { every: 1h }
    filters:
      - state: InProgress
    action: report
)";
};

TEST_F(AuditTrail, ASymlinkAtTheAuditPathIsRefusedWith78AndItsTargetIsUntouched) {
  auto cfg = config();
  std::string victim = (dir_ / "victim.txt").string();
  writeFile(victim, "line one\nunterminated");
  ASSERT_EQ(::symlink(victim.c_str(), auditPath().c_str()), 0);
  EXPECT_EQ(run({"run", "--once", "--config", cfg}), 78) << err();
  EXPECT_NE(err().find("symbolic link"), std::string::npos) << err();
  EXPECT_EQ(Child::slurp(victim), "line one\nunterminated");
  EXPECT_EQ(org().counters().lists, 0);
}

TEST_F(AuditTrail, ASecondWriterWithAnotherStateDirIsRefusedWith75) {
  auto cfg = config();
  auto daemon = start({"run", "--config", cfg});
  ASSERT_TRUE(waitFor([&] { return !audit("run-end").empty(); })) << daemon->err();
  // The same audit-log, another state-dir: the state-dir lock does not see it, the trail's does.
  std::string text = Child::slurp(cfg);
  text.replace(text.find("state-dir: state"), 16, "state-dir: other");
  std::string second = (dir_ / "second.yaml").string();
  writeFile(second, text);
  auto records = audit().size();
  EXPECT_EQ(run({"run", "--once", "--config", second}), 75) << err();
  EXPECT_NE(err().find("in use by another bulkwarden (pid " + std::to_string(daemon->pid())),
            std::string::npos)
      << err();
  EXPECT_EQ(audit().size(), records);
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(std::chrono::seconds(10)), 0) << daemon->err();
  ASSERT_EQ(run({"audit", "verify", "--config", cfg}), 0) << err() << out();
}

TEST_F(AuditTrail, ATrailCutBehindItsAnchorStopsTheDaemonUntilAccepted) {
  auto cfg = config();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(run({"run", "--once", "--config", cfg}), 0) << err();
  ASSERT_EQ(run({"audit", "verify", "--config", cfg}), 0) << err() << out();
  EXPECT_NE(out().find("matches its anchor"), std::string::npos) << out();
  auto ls = lines();
  ASSERT_GT(ls.size(), 8u);
  ls.resize(ls.size() - 5);
  writeLines(ls);
  EXPECT_EQ(run({"audit", "verify", auditPath()}), 0) << err();  // the chain alone: intact
  EXPECT_EQ(run({"audit", "verify", "--config", cfg}), 65) << out();
  EXPECT_NE(err().find("cut tail"), std::string::npos) << err();
  EXPECT_EQ(run({"run", "--once", "--config", cfg}), 78);
  EXPECT_NE(err().find("behind its anchor"), std::string::npos) << err();
  EXPECT_NE(err().find("bulkwarden audit accept --config"), std::string::npos) << err();
  auto listed = org().counters().lists;
  EXPECT_EQ(lines().size(), ls.size());
  // The daemon (not --once) refuses the same way.
  EXPECT_EQ(run({"run", "--config", cfg}), 78) << err();
  EXPECT_EQ(org().counters().lists, listed);
  ASSERT_EQ(run({"audit", "accept", "--config", cfg}), 0) << err();
  EXPECT_NE(out().find("accepted"), std::string::npos) << out();
  auto anchors = audit("anchor");
  ASSERT_EQ(anchors.size(), 1u);
  EXPECT_NE(anchors[0]->getValue<std::string>("reason").find("accepted by the operator"),
            std::string::npos);
  EXPECT_EQ(run({"audit", "verify", "--config", cfg}), 0) << err();
  EXPECT_EQ(run({"run", "--once", "--config", cfg}), 0) << err();
}

TEST_F(AuditTrail, VerifyConfigFindsACutHead) {
  auto cfg = config();
  for (int i = 0; i < 2; ++i) ASSERT_EQ(run({"run", "--once", "--config", cfg}), 0) << err();
  auto ls = lines();
  writeLines(std::vector<std::string>(ls.begin() + 4, ls.end()));
  EXPECT_EQ(run({"audit", "verify", auditPath()}), 0) << err();
  EXPECT_EQ(run({"audit", "verify", "--config", cfg}), 65);
  EXPECT_NE(err().find("cut head: the trail starts at seq 5"), std::string::npos) << err();
}

TEST_F(AuditTrail, WithAnAuditKeyARechainedRewriteIsFound) {
  writeFile(dir_ / "audit.key", "a key from a secret file\n");
  auto cfg = config("audit-key: { file: audit.key }\n");
  for (int i = 0; i < 2; ++i) ASSERT_EQ(run({"run", "--once", "--config", cfg}), 0) << err();
  ASSERT_EQ(run({"audit", "verify", "--config", cfg}), 0) << err();
  EXPECT_NE(out().find("every mac matches audit-key"), std::string::npos) << out();
  // Drop every decision about the jobs and re-chain what is left, as someone without the key
  // would (plain SHA-256, no mac).
  auto ls = lines();
  std::vector<std::string> kept;
  for (const auto& l : ls) {
    if (l.find("\"type\":\"decision\"") == std::string::npos) kept.push_back(l);
  }
  std::string prev(audit::kGenesisHash);
  std::vector<std::string> forged;
  for (size_t i = 0; i < kept.size(); ++i) {
    std::string body = kept[i].substr(0, kept[i].find(",\"prev\":\""));
    body = "{\"seq\":" + std::to_string(i + 1) + body.substr(body.find(','));
    body += ",\"prev\":\"" + prev + "\"";
    prev = audit::sha256Hex(body);
    forged.push_back(body + ",\"hash\":\"" + prev + "\"}");
  }
  writeLines(forged);
  EXPECT_EQ(run({"audit", "verify", auditPath()}), 0) << err();  // a valid chain without the key
  EXPECT_EQ(run({"audit", "verify", "--config", cfg}), 65);
  EXPECT_NE(err().find("mac"), std::string::npos) << err();
}

TEST_F(AuditTrail, VerifyFindsLogrotateFilesAndAMissingOneIs66) {
  auto cfg = config();
  ASSERT_EQ(run({"run", "--once", "--config", cfg}), 0) << err();
  auto first = lines().size();
  fs::rename(auditPath(), auditPath() + ".1");  // logrotate, with the daemon stopped
  ASSERT_EQ(run({"run", "--once", "--config", cfg}), 0) << err();
  fs::rename(auditPath() + ".1", auditPath() + ".2");
  fs::rename(auditPath(), auditPath() + ".1");
  ASSERT_EQ(run({"run", "--once", "--config", cfg}), 0) << err();
  auto total = first + audit::verifyFile(auditPath() + ".1").records + lines().size();
  ASSERT_EQ(run({"audit", "verify", auditPath()}), 0) << err();
  EXPECT_NE(out().find(fmt::format("{} records in 3 files, seq 1..{}", total, total)),
            std::string::npos)
      << out();
  EXPECT_EQ(run({"audit", "verify", "--config", cfg}), 0) << err();
  // The middle file deleted: a break between files, named.
  fs::remove(auditPath() + ".1");
  EXPECT_EQ(run({"audit", "verify", auditPath()}), 65);
  EXPECT_NE(err().find("are missing"), std::string::npos) << err();
  // A missing file is not an altered one.
  EXPECT_EQ(run({"audit", "verify", (dir_ / "nope.jsonl").string()}), 66) << err();
  EXPECT_EQ(run({"audit", "verify", auditPath(), (dir_ / "nope.jsonl").string()}), 66);
  EXPECT_EQ(run({"audit", "verify", "--help"}), 0);
  EXPECT_NE(out().find("audit verify --config FILE"), std::string::npos);
}

}  // namespace
}  // namespace bulkwarden::testing
