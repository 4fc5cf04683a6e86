// Rotation, reopen, the free-space reserve and fail-closed recovery, on real files.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>

#include "audit/AuditLog.h"

namespace bulkwarden::audit {
namespace {

namespace fs = std::filesystem;

class AuditFailure : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-auditf-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "audit.jsonl").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string readAll(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  fs::path dir_;
  std::string path_;
};

TEST_F(AuditFailure, RotationCarriesTheChainAndKeepsEveryFile) {
  AuditOptions o;
  o.rotateBytes = 1200;
  {
    AuditLog log(path_, o);
    for (int i = 0; i < 40; ++i) {
      log.append("decision", "r", Fields().add("i", i), AuditSink::Sync::Buffered);
    }
  }
  auto files = trailFiles(path_);
  ASSERT_GE(files.size(), 4u);
  EXPECT_EQ(files.back(), path_);
  for (const auto& f : files) EXPECT_LE(fs::file_size(f), 1200u) << f;
  EXPECT_NE(files.front().find("audit.jsonl.000000000001"), std::string::npos) << files.front();
  auto report = verifyFiles(files);
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 40u);
  // The live file alone starts mid-chain, which is fine on its own...
  EXPECT_TRUE(verifyFile(path_).ok);
  // ...but a rotated file that goes missing breaks the trail.
  std::vector<std::string> gap(files);
  gap.erase(gap.begin() + 1);
  EXPECT_FALSE(verifyFiles(gap).ok);
}

TEST_F(AuditFailure, ReopenAfterLogrotateContinuesTheChainInANewFile) {
  AuditLog log(path_);
  log.append("a", "r", Fields(), AuditSink::Sync::Durable);
  std::string moved = path_ + ".1";
  fs::rename(path_, moved);
  log.reopen();
  EXPECT_EQ(log.append("b", "r", Fields(), AuditSink::Sync::Durable), 2u);
  auto report = verifyFiles({moved, path_});
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 2u);
}

TEST_F(AuditFailure, BelowTheReserveIntentsAreRefusedButResultsAreWritten) {
  AuditOptions o;
  o.reserveBytes = uint64_t{1} << 62;  // more than any disk has
  AuditLog log(path_, o);
  EXPECT_THROW(log.append("intent", "r", Fields(), AuditSink::Sync::Durable), AuditError);
  EXPECT_NO_THROW(log.append("result", "r", Fields().add("intent", 0), AuditSink::Sync::Durable));
  EXPECT_NO_THROW(log.append("decision", "r", Fields(), AuditSink::Sync::Buffered));
  EXPECT_TRUE(log.failure().empty());  // a reserve refusal is not a broken log
}

// RLIMIT_FSIZE makes the kernel refuse writes past a size with EFBIG (and SIGXFSZ, ignored as
// bulkwarden ignores it): the log must fail closed, then resume by itself once writing works.
TEST_F(AuditFailure, AFileSizeLimitFailsClosedAndRecoversWhenLifted) {
  auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  AuditOptions o;
  o.retryInterval = std::chrono::milliseconds(0);
  {
    AuditLog log(path_, o);
    log.append("decision", "r", Fields().add("pad", std::string(300, 'x')),
               AuditSink::Sync::Durable);
    uint64_t size = fs::file_size(path_);
    rlimit tight = old;
    tight.rlim_cur = size + 200;  // the next record fits only in part
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tight), 0);
    EXPECT_THROW(log.append("intent", "r", Fields().add("pad", std::string(300, 'y')),
                            AuditSink::Sync::Durable),
                 AuditError);
    EXPECT_FALSE(log.failure().empty());
    EXPECT_NE(log.failure().find("File too large"), std::string::npos) << log.failure();
    // Still failing while the limit holds: nothing is accepted.
    EXPECT_THROW(log.append("intent", "r", Fields(), AuditSink::Sync::Durable), AuditError);
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
    // Writing works again: the next append cuts the torn record, says so, and goes on.
    uint64_t seq = log.append("intent", "r", Fields(), AuditSink::Sync::Durable);
    EXPECT_EQ(seq, 3u);  // 1 decision, 2 recovery, 3 this intent
    EXPECT_TRUE(log.failure().empty());
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, oldHandler);
  auto text = readAll(path_);
  EXPECT_NE(text.find("\"type\":\"recovery\""), std::string::npos);
  EXPECT_NE(text.find("\"bytes_dropped\":200"), std::string::npos) << text;
  auto report = verifyFile(path_);
  EXPECT_TRUE(report.ok) << report.problem;
}

}  // namespace
}  // namespace bulkwarden::audit

namespace bulkwarden::audit {
namespace {

// docs/reliability.md A3: a trail cut at any byte starts again, losing only the torn record, and
// the repaired trail verifies.
TEST_F(AuditFailure, ATrailCutAtAThousandRandomOffsetsAlwaysRecovers) {
  {
    AuditLog log(path_);
    for (int i = 0; i < 60; ++i) {
      log.append(i % 2 ? "intent" : "decision", "r", Fields().add("i", i),
                 AuditSink::Sync::Buffered);
    }
  }
  const std::string whole = readAll(path_);
  std::mt19937 rng(3);
  // On tmpfs when there is one: 1000 recoveries means 1000 fdatasyncs. (A folder of our own:
  // the log refuses one others may write, as /dev/shm itself.)
  char shm[] = "/dev/shm/bw-cut-XXXXXX";
  std::string cutDir =
      fs::is_directory("/dev/shm") && ::mkdtemp(shm) != nullptr ? shm : dir_.string();
  std::string cut = cutDir + "/cut.jsonl";
  for (int round = 0; round < 1000; ++round) {
    size_t at = 1 + rng() % (whole.size() - 1);
    {
      std::ofstream out(cut, std::ios::binary | std::ios::trunc);
      out << whole.substr(0, at);
    }
    size_t lastNewline = whole.rfind('\n', at - 1);
    uint64_t expectDropped = lastNewline == std::string::npos ? at : at - lastNewline - 1;
    uint64_t dropped;
    {
      AuditLog log(cut);
      dropped = log.recoveredBytes();
      log.append("decision", "r", Fields(), AuditSink::Sync::Durable);
    }
    ASSERT_EQ(dropped, expectDropped) << "cut at " << at;
    auto report = verifyFile(cut);
    ASSERT_TRUE(report.ok) << "cut at " << at << ": " << report.problem;
  }
  fs::remove(cut);
  fs::remove(cut + ".lock");
  if (cutDir != dir_.string()) fs::remove(cutDir);
}

}  // namespace
}  // namespace bulkwarden::audit
