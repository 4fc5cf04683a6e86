#include "engine/Recovery.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ScriptedJobs.h"
#include "audit/AuditLog.h"
#include "engine/Pass.h"

namespace bulkwarden::engine {
namespace {

namespace fs = std::filesystem;
using salesforce::ApiError;

model::Job job(const std::string& id, model::JobState state) {
  model::Job j;
  j.id = id;
  j.state = state;
  j.createdDate = j.systemModstamp = *model::parseTimestamp("2026-11-29T10:00:00Z");
  return j;
}

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-recovery-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "audit.jsonl").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  uint64_t intent(audit::AuditLog& log, const std::string& action, const std::string& id,
                  model::JobState state = model::JobState::InProgress) {
    audit::Fields f;
    f.add("org", "acme")
        .add("policy", "p")
        .add("action", action)
        .add("mode", "enforce")
        .add("job", audit::jobFields(job(id, state)));
    return log.append("intent", "r1", f, audit::AuditSink::Sync::Durable);
  }
  fs::path dir_;
  std::string path_;
};

TEST_F(RecoveryTest, SettlesEveryOpenIntentByReadingTheJobNeverByActingAgain) {
  {
    audit::AuditLog log(path_);
    intent(log, "abort", "750R00000000001AAA");  // applied before the crash
    intent(log, "abort", "750R00000000002AAA");  // never sent
    intent(log, "delete", "750R00000000003AAA", model::JobState::JobComplete);  // applied
    intent(log, "delete", "750R00000000004AAA", model::JobState::JobComplete);  // not applied
    uint64_t done = intent(log, "abort", "750R00000000005AAA");
    log.append("result", "r1",
               audit::Fields().add("intent", static_cast<int64_t>(done)).add("outcome", "applied"),
               audit::AuditSink::Sync::Durable);
    intent(log, "abort", "750R00000000006AAA");  // the org cannot answer now
  }
  auto open = audit::findOpenIntents({path_}).open;
  ASSERT_EQ(open.size(), 5u);
  EXPECT_EQ(open[0].jobId, "750R00000000001AAA");
  EXPECT_EQ(open[2].action, "delete");

  // Answers GETs from a table; any action is a test failure (recovery must never re-send).
  testing::ScriptedJobs org;
  org.unscriptedGet = ApiError{ApiError::Kind::NotFound, 404, "NOT_FOUND", ""};
  org.gets.emplace("750R00000000001AAA", job("750R00000000001AAA", model::JobState::Aborted));
  org.gets.emplace("750R00000000002AAA", job("750R00000000002AAA", model::JobState::InProgress));
  org.gets.emplace("750R00000000004AAA", job("750R00000000004AAA", model::JobState::JobComplete));
  org.gets.emplace("750R00000000006AAA",
                   salesforce::Result<model::Job>(
                       ApiError{ApiError::Kind::Transient, 503, "SERVER_UNAVAILABLE", "busy"}));
  ReconcileSummary s;
  {
    audit::AuditLog log(path_);
    s = reconcile(open, {{"acme", &org}}, log);
  }
  EXPECT_TRUE(org.actions.empty());
  EXPECT_EQ(org.getCalls, 5);
  EXPECT_EQ(s.confirmed, 2);
  EXPECT_EQ(s.notApplied, 2);
  EXPECT_EQ(s.unresolved, 1);

  std::map<std::string, std::string> outcome;
  for (const auto& r : testing::auditRecords(path_, audit::RecordType::Result)) {
    if (r.object->has("reconciled")) outcome[r.job().value().id] = r.outcomeName();
  }
  EXPECT_EQ(outcome["750R00000000001AAA"], "confirmed");
  EXPECT_EQ(outcome["750R00000000002AAA"], "not-applied");
  EXPECT_EQ(outcome["750R00000000003AAA"], "confirmed");
  EXPECT_EQ(outcome["750R00000000004AAA"], "not-applied");
  EXPECT_EQ(outcome.count("750R00000000006AAA"), 0u);

  auto report = audit::verifyFile(path_);
  EXPECT_TRUE(report.ok) << report.problem;
  ASSERT_EQ(report.openIntents.size(), 1u);  // the one the org could not answer for
  EXPECT_EQ(audit::findOpenIntents({path_}).open.size(), 1u);
}

}  // namespace
}  // namespace bulkwarden::engine
