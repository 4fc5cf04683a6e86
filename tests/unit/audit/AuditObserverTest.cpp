// The audit log tells its WriteObserver (audit/WriteObserver.h) how each append, sync and
// syncThrough went: the kind, the time taken, and a refusal with its reason.
#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "TempDir.h"
#include "audit/AuditLog.h"

namespace bulkwarden::audit {
namespace {

class RecordingObserver : public WriteObserver {
 public:
  struct Write {
    WriteKind kind;
    std::chrono::nanoseconds took;
    bool ok;
    std::string error;
  };
  void onAuditWrite(WriteKind kind, std::chrono::nanoseconds took, bool ok,
                    const std::string& error) override {
    std::lock_guard lock(mutex);
    writes.push_back({kind, took, ok, error});
  }
  std::mutex mutex;
  std::vector<Write> writes;
};

TEST(AuditObserver, EveryAppendAndSyncIsToldWithItsKind) {
  testing::TempDir dir;
  AuditLog log((dir / "audit.jsonl").string());
  log.append("config", "startup", Fields().add("a", "b"), AuditSink::Sync::Durable);  // unseen
  RecordingObserver observer;
  log.setObserver(&observer);
  EXPECT_EQ(log.observer(), &observer);
  log.append("decision", "r1", Fields().add("job", "x"), AuditSink::Sync::Buffered);
  uint64_t seq = log.append("intent", "r1", Fields().add("job", "x"), AuditSink::Sync::Buffered);
  log.syncThrough(seq);
  log.append("run-end", "r1", Fields(), AuditSink::Sync::Durable);
  log.sync();
  ASSERT_EQ(observer.writes.size(), 5u);
  std::vector<WriteKind> kinds;
  for (const auto& w : observer.writes) {
    kinds.push_back(w.kind);
    EXPECT_TRUE(w.ok);
    EXPECT_EQ(w.error, "");
    EXPECT_GE(w.took.count(), 0);
  }
  EXPECT_EQ(kinds, (std::vector<WriteKind>{WriteKind::Buffered, WriteKind::Buffered,
                                           WriteKind::Sync, WriteKind::Durable, WriteKind::Sync}));
  log.setObserver(nullptr);
  log.append("decision", "r2", Fields(), AuditSink::Sync::Buffered);
  EXPECT_EQ(observer.writes.size(), 5u);
}

TEST(AuditObserver, ARefusedWriteIsToldWithItsReasonAndStillThrown) {
  testing::TempDir dir;
  AuditOptions options;
  options.reserveBytes = UINT64_MAX;  // no file system has this much free: intents are refused
  AuditLog log((dir / "audit.jsonl").string(), options);
  RecordingObserver observer;
  log.setObserver(&observer);
  EXPECT_THROW(log.append("intent", "r1", Fields().add("job", "x"), AuditSink::Sync::Durable),
               AuditError);
  ASSERT_EQ(observer.writes.size(), 1u);
  EXPECT_EQ(observer.writes[0].kind, WriteKind::Durable);
  EXPECT_FALSE(observer.writes[0].ok);
  EXPECT_NE(observer.writes[0].error.find("below the reserve"), std::string::npos)
      << observer.writes[0].error;
}

TEST(AuditObserver, KindNamesAreTheMetricLabels) {
  EXPECT_EQ(writeKindName(WriteKind::Buffered), "buffered");
  EXPECT_EQ(writeKindName(WriteKind::Durable), "durable");
  EXPECT_EQ(writeKindName(WriteKind::Sync), "sync");
}

}  // namespace
}  // namespace bulkwarden::audit
