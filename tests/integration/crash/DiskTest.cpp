// The audit trail cannot be written (docs/reliability.md A4, A5): bulkwarden sends no request whose
// intent is not on disk, says so, and is not killed by SIGXFSZ.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <set>

#include "audit/AuditLog.h"
#include "audit/Records.h"
#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

using std::chrono::hours;

constexpr const char* kPolicy = R"(policies:
  - name: abort-stuck
    resource: query-jobs
    mode: enforce
    filters:
      - state: InProgress
    action: abort
)";

class Disk : public EndToEnd {
 protected:
  void seed(int n) {
    startSim();
    addJobs(n, "query", "InProgress", hours(1));
  }
  // Runs a shell command line; returns the exit code (128+signal when killed).
  static int shell(const std::string& command) {
    int status = std::system(command.c_str());
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
  }
  // Every request the org received had its intent in the trail; the requests stopped at the
  // first failed write.
  void checkNothingUnrecorded(const std::string& trail) {
    int intents = 0, results = 0;
    std::set<std::string> announced;
    // Through the daemon's reader; the torn last record is not a record.
    audit::RecordParser parser;
    (void)audit::readTrailLines({trail}, [&](const std::string&, std::string_view line) {
      auto parsed = parser.parse(line);
      if (!parsed) return;
      if (parsed.record->is(audit::RecordType::Intent)) {
        ++intents;
        if (auto job = parsed.record->job()) announced.insert(job->id);
      }
      if (parsed.record->is(audit::RecordType::Result)) ++results;
    });
    auto c = org().counters();
    EXPECT_GT(c.patches, 0) << "the disk filled before any action: the test proves nothing";
    // An intent may be on disk without its request (the write failed next to it: nothing more
    // is sent), never the other way round.
    EXPECT_LE(c.patches, intents);
    for (const auto& j : org().jobs()) {
      if (org().appliedActions(j.id) > 0) {
        EXPECT_TRUE(announced.count(j.id)) << j.id << " was aborted without its intent on disk";
      }
    }
    EXPECT_LE(results, intents);
    EXPECT_LT(c.patches, 60) << "it kept acting after the audit trail failed";
  }
};

TEST_F(Disk, AFullDiskStopsEveryActionAtTheFirstFailedWrite) {
  if (shell("unshare -m true 2>/dev/null") != 0) GTEST_SKIP() << "no mount namespaces here";
  seed(60);
  // No free-space reserve here: the point is to fill the disk while acting.
  auto config = writeConfig(kPolicy, "", "audit-reserve: 0\n");
  // audit-log on a 64 KiB tmpfs private to the child's mount namespace; copied out at the end.
  // (mode 0700: bulkwarden refuses an audit folder others may write.)
  std::string small = (dir_ / "small").string();
  fs::create_directories(small);
  std::string cfg = Child::slurp(config);
  cfg.replace(cfg.find("audit-log: audit.jsonl"), 22, "audit-log: " + small + "/audit.jsonl");
  writeFile(config, cfg);
  std::string cmd = "unshare -m sh -c 'mount -t tmpfs -o size=64k,mode=0700 tmpfs " + small +
                    " && " + binaryPath() + " run --once --config " + config + " 2>" +
                    (dir_ / "err").string() + "; rc=$?; cp " + small + "/audit.jsonl " +
                    (dir_ / "full.jsonl").string() + "; exit $rc'";
  int rc = shell(cmd);
  EXPECT_EQ(rc, 74) << Child::slurp((dir_ / "err").string());
  std::string err = Child::slurp((dir_ / "err").string());
  EXPECT_NE(err.find("No space left on device"), std::string::npos) << err;
  checkNothingUnrecorded((dir_ / "full.jsonl").string());
}

TEST_F(Disk, AFileSizeLimitIsEfbigNotADeathBySigxfsz) {
  if (shell("command -v prlimit >/dev/null") != 0) GTEST_SKIP() << "prlimit not installed";
  seed(60);
  auto config = writeConfig(kPolicy);
  std::string cmd = "prlimit --fsize=60000 " + binaryPath() + " run --once --config " + config +
                    " 2>" + (dir_ / "err").string();
  int rc = shell(cmd);
  std::string err = Child::slurp((dir_ / "err").string());
  EXPECT_EQ(rc, 74) << err;  // not 128+SIGXFSZ
  EXPECT_NE(err.find("File too large"), std::string::npos) << err;
  checkNothingUnrecorded(auditPath());
  // Space again: the next start cuts the torn record, settles open intents, finishes the work.
  child_ = start({"run", "--once", "--config", config});
  EXPECT_EQ(child_->wait(), 0) << this->err();
  auto report = audit::verifyFile(auditPath());
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_TRUE(report.openIntents.empty());
  for (const auto& j : org().jobs()) EXPECT_EQ(j.state, "Aborted");
  EXPECT_EQ(org().counters().patches, 60);
}

}  // namespace
}  // namespace bulkwarden::testing
