#include "audit/AuditLog.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace bulkwarden::audit {
namespace {

namespace fs = std::filesystem;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-audit-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "audit.jsonl").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  static AuditLog::ClockFn fixedClock() {
    return [] { return *model::parseTimestamp("2026-11-29T10:00:00.123Z"); };
  }
  std::vector<std::string> lines() const {
    std::ifstream in(path_);
    std::vector<std::string> out;
    std::string l;
    while (std::getline(in, l)) out.push_back(l);
    return out;
  }
  std::string content() const {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void write(const std::string& text) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << text;
  }
  static Poco::JSON::Object::Ptr parse(const std::string& line) {
    Poco::JSON::Parser p;
    return p.parse(line).extract<Poco::JSON::Object::Ptr>();
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(AuditLogTest, WritesContiguousChainedRecordsWithTheContractFields) {
  {
    AuditLog log(path_, fixedClock());
    EXPECT_EQ(log.append("run-start", "r1", Fields().add("org", "acme"), AuditSink::Sync::Buffered),
              1u);
    EXPECT_EQ(log.append("intent", "r1", Fields().add("policy", "p"), AuditSink::Sync::Durable),
              2u);
    EXPECT_EQ(log.append("result", "r1", Fields().add("intent", 2).add("outcome", "applied"),
                         AuditSink::Sync::Durable),
              3u);
  }
  auto ls = lines();
  ASSERT_EQ(ls.size(), 3u);
  auto first = parse(ls[0]);
  EXPECT_EQ(first->getValue<int>("seq"), 1);
  EXPECT_EQ(first->getValue<std::string>("ts"), "2026-11-29T10:00:00.123Z");
  EXPECT_EQ(first->getValue<std::string>("run"), "r1");
  EXPECT_EQ(first->getValue<std::string>("type"), "run-start");
  EXPECT_EQ(first->getValue<std::string>("org"), "acme");
  EXPECT_EQ(first->getValue<std::string>("prev"), std::string(kGenesisHash));
  auto second = parse(ls[1]);
  EXPECT_EQ(second->getValue<std::string>("prev"), first->getValue<std::string>("hash"));
  EXPECT_EQ(first->getValue<std::string>("hash").size(), 64u);
  auto report = verifyFile(path_);
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 3u);
  EXPECT_TRUE(report.openIntents.empty());
}

TEST_F(AuditLogTest, FileModeIsNotWorldReadable) {
  { AuditLog log(path_); }
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0007, 0u);
}

TEST_F(AuditLogTest, ContinuesTheChainAcrossReopen) {
  { AuditLog(path_, fixedClock()).append("a", "r", Fields(), AuditSink::Sync::Durable); }
  {
    AuditLog log(path_, fixedClock());
    EXPECT_EQ(log.lastSeq(), 1u);
    EXPECT_EQ(log.append("b", "r", Fields(), AuditSink::Sync::Durable), 2u);
  }
  EXPECT_TRUE(verifyFile(path_).ok);
}

TEST_F(AuditLogTest, CutsATornTailAndRecordsTheRecovery) {
  {
    AuditLog log(path_, fixedClock());
    log.append("a", "r", Fields(), AuditSink::Sync::Durable);
    log.append("b", "r", Fields(), AuditSink::Sync::Durable);
  }
  std::string whole = content();
  std::string torn = R"({"seq":3,"ts":"2026-11-29T10:00:00.123Z","run":"r","ty)";
  write(whole + torn);
  {
    AuditLog log(path_, fixedClock());
    EXPECT_EQ(log.recoveredBytes(), torn.size());
  }
  auto ls = lines();
  ASSERT_EQ(ls.size(), 3u);
  auto rec = parse(ls[2]);
  EXPECT_EQ(rec->getValue<std::string>("type"), "recovery");
  EXPECT_EQ(rec->getValue<int>("seq"), 3);
  EXPECT_EQ(rec->getValue<size_t>("bytes_dropped"), torn.size());
  EXPECT_TRUE(verifyFile(path_).ok);
}

TEST_F(AuditLogTest, RefusesToContinueFromADamagedLastRecord) {
  { AuditLog(path_, fixedClock()).append("a", "r", Fields(), AuditSink::Sync::Durable); }
  std::string c = content();
  c[c.find("\"a\"") + 1] = 'b';  // the type changes: the hash no longer matches
  write(c);
  EXPECT_THROW(AuditLog(path_, fixedClock()), AuditError);
}

TEST_F(AuditLogTest, EscapesAnythingSalesforceSends) {
  {
    AuditLog log(path_, fixedClock());
    log.append(
        "decision", "r",
        Fields().add("message", std::string("quote\" backslash\\ nl\n ctl\x01 bad\xff utf8 é")),
        AuditSink::Sync::Durable);
  }
  auto rec = parse(lines()[0]);
  EXPECT_EQ(rec->getValue<std::string>("message"),
            "quote\" backslash\\ nl\n ctl\x01 bad\xEF\xBF\xBD utf8 é");
  auto report = verifyFile(path_);
  EXPECT_TRUE(report.ok) << report.problem;
}

TEST_F(AuditLogTest, ConcurrentDurableAppendsStayContiguous) {
  {
    AuditLog log(path_);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&log, t] {
        for (int i = 0; i < 50; ++i) {
          log.append("intent", "r", Fields().add("t", t).add("i", i), AuditSink::Sync::Durable);
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  auto report = verifyFile(path_);
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 400u);
  EXPECT_EQ(report.openIntents.size(), 400u);
}

class VerifyTest : public AuditLogTest {
 protected:
  void SetUp() override {
    AuditLogTest::SetUp();
    AuditLog log(path_, fixedClock());
    for (int i = 0; i < 5; ++i)
      log.append("decision", "r", Fields().add("i", i), AuditSink::Sync::Buffered);
    uint64_t intent = log.append("intent", "r", Fields(), AuditSink::Sync::Durable);
    log.append("result", "r", Fields().add("intent", static_cast<int64_t>(intent)),
               AuditSink::Sync::Durable);
  }
};

TEST_F(VerifyTest, AFlippedByteIsFoundAtItsSeq) {
  auto ls = lines();
  std::string c;
  for (size_t i = 0; i < ls.size(); ++i) {
    if (i == 3) ls[i][ls[i].find("\"i\":3") + 4] = '7';
    c += ls[i] + "\n";
  }
  write(c);
  auto r = verifyFile(path_);
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.firstBadSeq.has_value());
  EXPECT_EQ(*r.firstBadSeq, 4u);
}

TEST_F(VerifyTest, ADeletedMiddleLineIsFound) {
  auto ls = lines();
  std::string c;
  for (size_t i = 0; i < ls.size(); ++i) {
    if (i != 2) c += ls[i] + "\n";
  }
  write(c);
  auto r = verifyFile(path_);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.firstBadSeq, 3u);
}

TEST_F(VerifyTest, ATornTailIsFound) {
  write(content() + "{\"seq\":8");
  auto r = verifyFile(path_);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("torn"), std::string::npos);
}

TEST_F(VerifyTest, ReorderedLinesAreFound) {
  auto ls = lines();
  std::swap(ls[1], ls[2]);
  std::string c;
  for (auto& l : ls) c += l + "\n";
  write(c);
  auto r = verifyFile(path_);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.firstBadSeq, 2u);
}

TEST_F(VerifyTest, AnIntentWithoutResultIsListed) {
  {
    AuditLog log(path_, fixedClock());
    log.append("intent", "r", Fields(), AuditSink::Sync::Durable);
  }
  auto r = verifyFile(path_);
  EXPECT_TRUE(r.ok);
  ASSERT_EQ(r.openIntents.size(), 1u);
  EXPECT_EQ(r.openIntents[0], 8u);
}

TEST(AuditLogOpen, ANonRegularFileIsRefused) {
  // /dev/full (a character device) as the audit log: refused at open, before any action.
  char tmpl[] = "/tmp/bw-full-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string link = std::string(tmpl) + "/audit.jsonl";
  ASSERT_EQ(::symlink("/dev/full", link.c_str()), 0);
  EXPECT_THROW(AuditLog{link}, AuditError);
  fs::remove_all(tmpl);
}

}  // namespace
}  // namespace bulkwarden::audit
