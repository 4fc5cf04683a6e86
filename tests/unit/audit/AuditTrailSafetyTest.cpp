// The audit trail against a local attacker and a careless operator (issue 11 items 6, 7, 8, 12;
// issue 16 item 1): links, foreign modes, a second writer, a cut or rewritten trail, a huge torn
// tail, rotated files found and checked as one trail. Real files in a temporary folder.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>

#include "audit/AuditLog.h"

namespace bulkwarden::audit {
namespace {

namespace fs = std::filesystem;

class AuditTrailSafety : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-safety-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "audit.jsonl").string();
    anchor_ = (dir_ / "state" / "audit.anchor").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string readAll(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static void writeAll(const std::string& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
  }
  static std::vector<std::string> lines(const std::string& p) {
    std::ifstream in(p);
    std::vector<std::string> out;
    std::string l;
    while (std::getline(in, l)) out.push_back(l);
    return out;
  }
  static void writeLines(const std::string& p, const std::vector<std::string>& ls) {
    std::string text;
    for (const auto& l : ls) text += l + "\n";
    writeAll(p, text);
  }
  AuditOptions anchored(const std::string& key = "") const {
    AuditOptions o;
    o.anchorPath = anchor_;
    o.key = key;
    return o;
  }
  // A trail of `n` records (an intent and its result now and then), anchored.
  void writeTrail(int n, const std::string& key = "") {
    AuditLog log(path_, anchored(key));
    for (int i = 0; i < n; ++i) {
      if (i % 10 == 3) {
        uint64_t intent = log.append("intent", "r", Fields().add("job", "750R" + std::to_string(i)),
                                     AuditSink::Sync::Durable);
        log.append("result", "r",
                   Fields().add("intent", static_cast<int64_t>(intent)).add("outcome", "applied"),
                   AuditSink::Sync::Durable);
        ++i;
      } else {
        log.append("decision", "r", Fields().add("i", i), AuditSink::Sync::Buffered);
      }
    }
  }
  // Re-chains `ls` from genesis as someone without the key would: seq renumbered, prev and hash
  // recomputed with plain SHA-256, macs dropped.
  static std::vector<std::string> rechain(const std::vector<std::string>& ls) {
    std::vector<std::string> out;
    std::string prev(kGenesisHash);
    uint64_t seq = 0;
    std::map<std::string, std::string> renumbered;  // old seq -> new, for results' "intent"
    const std::regex intentRef("\"intent\":([0-9]+)");
    for (const auto& l : ls) {
      auto prevAt = l.find(",\"prev\":\"");
      std::string body = l.substr(0, prevAt);
      auto comma = body.find(',');
      renumbered[body.substr(7, comma - 7)] = std::to_string(++seq);
      body = "{\"seq\":" + std::to_string(seq) + body.substr(comma);
      std::smatch m;
      if (std::regex_search(body, m, intentRef)) {
        body.replace(static_cast<size_t>(m.position(1)), static_cast<size_t>(m.length(1)),
                     renumbered[m[1].str()]);
      }
      body += ",\"prev\":\"" + prev + "\"";
      std::string hash = sha256Hex(body);
      out.push_back(body + ",\"hash\":\"" + hash + "\"}");
      prev = hash;
    }
    return out;
  }

  fs::path dir_;
  std::string path_;
  std::string anchor_;
};

AuditError::Kind kindOf(const std::function<void()>& f, std::string* what = nullptr) {
  try {
    f();
  } catch (const AuditError& e) {
    if (what) *what = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "no AuditError";
  return AuditError::Kind::Io;
}

// Item 6: a symlink at the audit path made bulkwarden cut the "torn tail" of the file it points
// to, then append to it.
TEST_F(AuditTrailSafety, ASymlinkAtTheAuditPathIsRefusedAndItsTargetIsUntouched) {
  std::string target = (dir_ / "victim.txt").string();
  const std::string text = "precious line\nno newline at the end";
  writeAll(target, text);
  ASSERT_EQ(::symlink(target.c_str(), path_.c_str()), 0);
  std::string what;
  EXPECT_EQ(kindOf([&] { AuditLog log(path_); }, &what), AuditError::Kind::Refused);
  EXPECT_NE(what.find("symbolic link"), std::string::npos) << what;
  EXPECT_EQ(readAll(target), text);
  // A dangling link is not followed to create its target either.
  fs::remove(path_);
  std::string elsewhere = (dir_ / "created-through-link").string();
  ASSERT_EQ(::symlink(elsewhere.c_str(), path_.c_str()), 0);
  EXPECT_EQ(kindOf([&] { AuditLog log(path_); }), AuditError::Kind::Refused);
  EXPECT_FALSE(fs::exists(elsewhere));
}

TEST_F(AuditTrailSafety, ASymlinkAtTheLockOrTheAnchorIsNotFollowed) {
  std::string target = (dir_ / "victim.txt").string();
  writeAll(target, "keep me\n");
  ASSERT_EQ(::symlink(target.c_str(), (path_ + ".lock").c_str()), 0);
  EXPECT_EQ(kindOf([&] { AuditLog log(path_); }), AuditError::Kind::Refused);
  fs::remove(path_ + ".lock");
  fs::create_directories(dir_ / "state");
  ASSERT_EQ(::symlink(target.c_str(), anchor_.c_str()), 0);
  EXPECT_EQ(kindOf([&] { AuditLog log(path_, anchored()); }), AuditError::Kind::Refused);
  EXPECT_EQ(readAll(target), "keep me\n");
}

TEST_F(AuditTrailSafety, AFileWhoseLastCompleteLineIsNotARecordIsNeverCut) {
  const std::string text = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1\npartial";
  writeAll(path_, text);
  std::string what;
  EXPECT_EQ(kindOf([&] { AuditLog log(path_); }, &what), AuditError::Kind::Refused);
  EXPECT_NE(what.find("not a valid audit record"), std::string::npos) << what;
  EXPECT_EQ(readAll(path_), text);
  // Nor one without any line break that does not start like a record.
  writeAll(path_, "not an audit file at all");
  EXPECT_EQ(kindOf([&] { AuditLog log(path_); }), AuditError::Kind::Refused);
  EXPECT_EQ(readAll(path_), "not an audit file at all");
}

TEST_F(AuditTrailSafety, FoldersAre0700AndFiles0640Or0600WhateverTheUmask) {
  mode_t old = ::umask(0);
  std::string deep = (dir_ / "a" / "b" / "audit.jsonl").string();
  {
    AuditLog log(deep, anchored());
    log.append("a", "r", Fields(), AuditSink::Sync::Durable);
  }
  ::umask(old);
  auto mode = [](const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  };
  EXPECT_EQ(mode(dir_ / "a"), 0700u);
  EXPECT_EQ(mode(dir_ / "a" / "b"), 0700u);
  EXPECT_EQ(mode(dir_ / "state"), 0700u);
  EXPECT_EQ(mode(deep), 0640u);
  EXPECT_EQ(mode(deep + ".lock"), 0600u);
  EXPECT_EQ(mode(anchor_), 0600u);
}

TEST_F(AuditTrailSafety, AFolderOrFileOthersMayWriteIsRefusedWithTheFix) {
  fs::create_directories(dir_ / "open");
  ::chmod((dir_ / "open").c_str(), 0777);
  std::string what;
  EXPECT_EQ(kindOf([&] { AuditLog log((dir_ / "open" / "audit.jsonl").string()); }, &what),
            AuditError::Kind::Refused);
  EXPECT_NE(what.find("chmod go-w"), std::string::npos) << what;
  EXPECT_FALSE(fs::exists(dir_ / "open" / "audit.jsonl"));
  { AuditLog log(path_); }
  ::chmod(path_.c_str(), 0662);
  EXPECT_EQ(kindOf([&] { AuditLog log(path_); }, &what), AuditError::Kind::Refused);
  EXPECT_NE(what.find("writable by others"), std::string::npos) << what;
}

// Item 7: one writer per trail, whatever state-dir each process uses.
TEST_F(AuditTrailSafety, ASecondWriterOnTheSameTrailIsBusy) {
  AuditLog first(path_);
  first.append("a", "r", Fields(), AuditSink::Sync::Durable);
  std::string what;
  EXPECT_EQ(kindOf([&] { AuditLog second(path_); }, &what), AuditError::Kind::Busy);
  EXPECT_NE(what.find("in use by another bulkwarden (pid " + std::to_string(::getpid())),
            std::string::npos)
      << what;
  // Rotation keeps the lock (it is beside the path, not on the moved file).
  fs::rename(path_, path_ + ".1");
  first.reopen();
  EXPECT_EQ(kindOf([&] { AuditLog second(path_); }), AuditError::Kind::Busy);
}

// Item 12: a 200 MB tail without a newline took 439 s and was deleted. Now refused at once, and
// kept. (A sparse file: the test is quick and small on disk.)
TEST_F(AuditTrailSafety, AHugeTornTailIsRefusedFastAndKept) {
  { AuditLog(path_).append("a", "r", Fields(), AuditSink::Sync::Durable); }
  uint64_t good = fs::file_size(path_);
  ASSERT_EQ(::truncate(path_.c_str(), 200ll << 20), 0);
  auto started = std::chrono::steady_clock::now();
  std::string what;
  EXPECT_EQ(kindOf([&] { AuditLog log(path_); }, &what), AuditError::Kind::Refused);
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, std::chrono::seconds(2));
  EXPECT_NE(what.find("will not cut it"), std::string::npos) << what;
  EXPECT_EQ(fs::file_size(path_), 200ull << 20);
  // Just under the limit of a record it is a torn record, and cut.
  ASSERT_EQ(::truncate(path_.c_str(), static_cast<off_t>(good + kMaxRecordBytes - 1)), 0);
  AuditLog log(path_);
  EXPECT_EQ(log.recoveredBytes(), kMaxRecordBytes - 1);
}

TEST_F(AuditTrailSafety, AnOverlongLastLineIsNotTakenForARecord) {
  writeAll(path_, std::string(3 * kMaxRecordBytes, 'x') + "\n");
  EXPECT_EQ(kindOf([&] { AuditLog log(path_); }), AuditError::Kind::Refused);
  EXPECT_EQ(fs::file_size(path_), 3 * kMaxRecordBytes + 1);
}

TEST(AuditHmac, MatchesRfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(hmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// Item 8: the anchor finds a cut tail at start; accepting it is possible and recorded.
TEST_F(AuditTrailSafety, TheLogRefusesATrailCutBehindItsAnchorUntilAccepted) {
  writeTrail(150);
  auto ls = lines(path_);
  ASSERT_GE(ls.size(), 150u);
  ls.resize(100);
  writeLines(path_, ls);
  std::string what;
  EXPECT_EQ(kindOf([&] { AuditLog log(path_, anchored()); }, &what), AuditError::Kind::Refused);
  EXPECT_NE(what.find("behind its anchor"), std::string::npos) << what;
  EXPECT_NE(what.find("records 101.."), std::string::npos) << what;
  EXPECT_NE(what.find("audit accept"), std::string::npos) << what;
  EXPECT_EQ(lines(path_).size(), 100u);  // nothing written
  {
    AuditOptions o = anchored();
    o.acceptAnchor = true;
    AuditLog log(path_, o);
    EXPECT_NE(log.anchorNote().find("accepted"), std::string::npos) << log.anchorNote();
  }
  auto after = lines(path_);
  ASSERT_EQ(after.size(), 101u);
  EXPECT_NE(after.back().find("\"type\":\"anchor\""), std::string::npos) << after.back();
  EXPECT_NE(after.back().find("accepted by the operator"), std::string::npos);
  EXPECT_NO_THROW(AuditLog(path_, anchored()));
  auto anchor = readAnchor(anchor_);
  ASSERT_TRUE(anchor);
  VerifyOptions vo;
  vo.anchor = &*anchor;
  auto r = verifyFiles(trailFiles(path_), vo);
  EXPECT_TRUE(r.ok) << r.problem;
}

TEST_F(AuditTrailSafety, VerifyAgainstTheAnchorFindsACutTailAndACutHead) {
  writeTrail(300);
  auto ls = lines(path_);
  auto anchor = readAnchor(anchor_);
  ASSERT_TRUE(anchor);
  EXPECT_EQ(anchor->firstSeq, 1u);
  EXPECT_EQ(anchor->lastSeq, ls.size());  // a clean close anchors the last record
  VerifyOptions vo;
  vo.anchor = &*anchor;
  EXPECT_TRUE(verifyFiles({path_}, vo).ok);

  auto cutTail = ls;
  cutTail.resize(ls.size() - 50);
  writeLines(path_, cutTail);
  EXPECT_TRUE(verifyFile(path_).ok);  // the chain alone cannot tell
  auto r = verifyFiles({path_}, vo);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("cut tail"), std::string::npos) << r.problem;

  std::vector<std::string> cutHead(ls.begin() + 200, ls.end());
  writeLines(path_, cutHead);
  EXPECT_TRUE(verifyFile(path_).ok);  // a file may start mid-chain (rotation)
  r = verifyFiles({path_}, vo);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("cut head"), std::string::npos) << r.problem;
  EXPECT_EQ(r.firstBadSeq, 201u);
}

// A record about one abort dropped and the whole trail re-chained: with audit-key, caught even
// when the forger also rewrote (or removed) the anchor.
TEST_F(AuditTrailSafety, ARechainedRewriteIsCaughtByTheKeyEvenWithAForgedAnchor) {
  const std::string key = "k3y-from-a-credential";
  writeTrail(60, key);
  auto ls = lines(path_);
  std::vector<std::string> kept;
  for (const auto& l : ls) {
    if (l.find("750R13") == std::string::npos && l.find("\"intent\":14,") == std::string::npos) {
      kept.push_back(l);
    }
  }
  ASSERT_EQ(kept.size(), ls.size() - 2);
  auto forged = rechain(kept);
  writeLines(path_, forged);
  EXPECT_TRUE(verifyFile(path_).ok);  // without the key the forgery is a valid chain
  // The forger also writes a matching anchor (without the key: no mac).
  Anchor fake;
  fake.trail = path_;
  fake.firstSeq = 1;
  fake.lastSeq = forged.size();
  VerifyOptions vo;
  vo.key = key;
  vo.anchor = &fake;
  auto r = verifyFiles({path_}, vo);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("no mac"), std::string::npos) << r.problem;
  // Without the anchor at all, the key alone still finds it.
  vo.anchor = nullptr;
  EXPECT_FALSE(verifyFiles({path_}, vo).ok);
  // And the real anchor carries a mac the forger cannot make.
  EXPECT_TRUE(readAnchor(anchor_, key)->authenticated);
  EXPECT_EQ(kindOf([&] { (void)readAnchor(anchor_, "another key"); }), AuditError::Kind::Refused);
}

TEST_F(AuditTrailSafety, AForgedMacIsFoundAtItsSeq) {
  const std::string key = "secret";
  writeTrail(20, key);
  auto ls = lines(path_);
  // Change a field and recompute the hash, keeping the old mac: the chain after it breaks too,
  // so change the last record only.
  std::string& last = ls.back();
  auto prevAt = last.find(",\"prev\":\"");
  std::string body = last.substr(0, prevAt);
  body.insert(body.find(",\"type\""), ",\"x\":1");
  body += last.substr(prevAt, last.find(",\"hash\"") - prevAt);
  std::string hash = sha256Hex(body);
  last = body + ",\"hash\":\"" + hash + "\",\"mac\":\"" + std::string(64, 'a') + "\"}";
  writeLines(path_, ls);
  VerifyOptions vo;
  vo.key = key;
  auto r = verifyFiles({path_}, vo);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("mac does not match"), std::string::npos) << r.problem;
  EXPECT_EQ(r.firstBadSeq, ls.size());
}

// Issue 16 item 1: rotated files are found (bulkwarden's and logrotate's names, gzip too) and
// checked as one trail; a missing middle file is a chain break between files.
TEST_F(AuditTrailSafety, TrailFilesFindsRotatedFilesOfBothNamingsInSeqOrder) {
  AuditOptions o;
  o.rotateBytes = 1500;
  {
    AuditLog log(path_, o);
    for (int i = 0; i < 30; ++i) {
      log.append("decision", "r", Fields().add("i", i), AuditSink::Sync::Buffered);
    }
    // logrotate then moves the live file to .1, and the chain goes on in a new one.
    fs::rename(path_, path_ + ".1");
    log.reopen();
    for (int i = 0; i < 3; ++i) {
      log.append("decision", "r", Fields().add("j", i), AuditSink::Sync::Buffered);
    }
  }
  fs::create_directories(dir_ / "unrelated");
  writeAll(path_ + ".lock.bak", "x\n");
  writeAll(path_ + ".3.xz", "compressed");
  std::vector<std::string> unchecked;
  auto files = trailFiles(path_, &unchecked);
  ASSERT_GE(files.size(), 4u);
  EXPECT_EQ(files.back(), path_);
  EXPECT_EQ(files[files.size() - 2], path_ + ".1");
  ASSERT_EQ(unchecked.size(), 1u);
  EXPECT_EQ(unchecked[0], path_ + ".3.xz");
  auto r = verifyFiles(files);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 33u);
  EXPECT_EQ(r.firstSeq, 1u);
  // A deleted middle file: found, and named.
  std::string middle = files[1];
  fs::remove(middle);
  r = verifyFiles(trailFiles(path_));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("are missing"), std::string::npos) << r.problem;
  EXPECT_FALSE(r.unreadable);
}

TEST_F(AuditTrailSafety, AMissingFileIsUnreadableNotAltered) {
  auto r = verifyFiles({(dir_ / "nope.jsonl").string()});
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.unreadable);
}

}  // namespace
}  // namespace bulkwarden::audit

namespace bulkwarden::audit {
namespace {

// A file named like a rotated one that holds no record is named by verify, not left out.
TEST_F(AuditTrailSafety, ARotatedNameWithoutRecordsIsReportedNotSkipped) {
  { AuditLog(path_).append("a", "r", Fields(), AuditSink::Sync::Durable); }
  writeAll(path_ + ".7", "planted\n");
  writeAll(path_ + ".8", "");  // an empty one (logrotate's `create` then nothing written) is fine
  auto files = trailFiles(path_);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0], path_ + ".7");
  auto r = verifyFiles(files);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("not a JSON object"), std::string::npos) << r.problem;
}

}  // namespace
}  // namespace bulkwarden::audit
