// The audit schema (audit/Records.h): names both ways, typed records rendering the exact bytes
// the trail held before they existed, the shared reader on hostile lines, and docs/design.md
// naming every type and outcome.
#include "audit/Records.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "AuditRecords.h"
#include "TempDir.h"
#include "audit/AuditLog.h"

namespace bulkwarden::audit {
namespace {

// ---- names ----

TEST(RecordNames, EveryRecordTypeRoundTripsThroughItsOneTable) {
  std::set<std::string_view> seen;
  for (auto t : kRecordTypes) {
    auto name = toString(t);
    EXPECT_NE(name, "?");
    EXPECT_TRUE(seen.insert(name).second) << name << " named twice";
    EXPECT_EQ(parseRecordType(name), t) << name;
  }
  EXPECT_EQ(seen.size(), 10u);
  // The names on disk, as every trail written so far spells them.
  EXPECT_EQ(toString(RecordType::RunStart), "run-start");
  EXPECT_EQ(toString(RecordType::RunEnd), "run-end");
  EXPECT_EQ(toString(RecordType::Anchor), "anchor");
}

TEST(RecordNames, EveryOutcomeRoundTripsThroughItsOneTable) {
  std::set<std::string_view> seen;
  for (auto o : kOutcomes) {
    auto name = toString(o);
    EXPECT_NE(name, "?");
    EXPECT_TRUE(seen.insert(name).second) << name << " named twice";
    EXPECT_EQ(parseOutcome(name), o) << name;
  }
  EXPECT_EQ(seen.size(), 14u);
  EXPECT_EQ(toString(Outcome::AlreadyTerminal), "already-terminal");
  EXPECT_EQ(toString(Outcome::NotApplied), "not-applied");
  EXPECT_EQ(toString(Outcome::Confirmed), "confirmed");
  EXPECT_EQ(toString(Outcome::NotFound), "not-found");
  EXPECT_EQ(toString(Outcome::NotSent), "not-sent");
}

TEST(RecordNames, ParseRejectsNamesNotInTheTable) {
  for (std::string_view bad : {std::string_view(""), std::string_view("Intent"),
                               std::string_view("intent "), std::string_view("run_start"),
                               std::string_view("results"), std::string_view("intent\0", 7)}) {
    EXPECT_FALSE(parseRecordType(bad).has_value()) << bad;
  }
  for (std::string_view bad : {"", "Applied", "not_applied", "confirm", "?", "ok"}) {
    EXPECT_FALSE(parseOutcome(bad).has_value()) << bad;
  }
}

// ---- typed records render what the trail held ----

// `old`, a line as the code before typed records wrote it, rebuilt around `fields`: its header
// (seq, ts, run), the type, the fields, its prev, and the hash computed again. Equal to `old` only
// if the fields are byte for byte the same (so the hash is too).
std::string rebuilt(const std::string& old, RecordType type, const Fields& fields) {
  auto typeAt = old.find(",\"type\":");
  auto prevAt = old.find(",\"prev\":");
  auto hashAt = old.find(",\"hash\":");
  std::string line = old.substr(0, typeAt) + ",\"type\":\"" + std::string(toString(type)) + "\"";
  if (!fields.empty()) line += "," + fields.body();
  line += old.substr(prevAt, hashAt - prevAt);
  return line + ",\"hash\":\"" + sha256Hex(line) + "\"}";
}

model::Job demoJob(const char* id, model::JobState state, const char* object, const char* created,
                   const char* modstamp) {
  model::Job j;
  j.id = id;
  j.kind = model::ResourceKind::Query;
  j.state = state;
  j.object = object;
  j.operation = "query";
  j.createdById = "005R0000000GiwjIAC";
  j.createdDate = *model::parseTimestamp(created);
  j.systemModstamp = *model::parseTimestamp(modstamp);
  return j;
}

// Captured from `bulkwarden demo` before the records were typed.
const std::string kRunStart =
    R"({"seq":1,"ts":"2026-12-02T05:31:43.215Z","run":"20261202T053143.215Z-3f1440da","type":"run-start","org":"demo-org","resource":"query-jobs","policies":"abort-stuck-query-jobs,delete-finished-query-jobs","dry_run":false,"prev":"0000000000000000000000000000000000000000000000000000000000000000","hash":"fb5b59e9f50900ae7ecb629df6e222ecafb7e3c9dfaa44726c1e92cafa565550"})";
const std::string kDecision =
    R"({"seq":2,"ts":"2026-12-02T05:31:43.627Z","run":"20261202T053143.215Z-3f1440da","type":"decision","org":"demo-org","policy":"delete-finished-query-jobs","action":"delete","mode":"enforce","job":{"id":"750Do0000rNWQWzIAP","kind":"query","state":"JobComplete","object":"Account","operation":"query","createdById":"005R0000000GiwjIAC","createdDate":"2026-11-29T00:09:36.754+0000","systemModstamp":"2026-11-29T00:17:18.974+0000"},"reason":"state JobComplete in [JobComplete, Failed, Aborted]; systemModstamp 3d5h14m24s ago > 1d","prev":"fb5b59e9f50900ae7ecb629df6e222ecafb7e3c9dfaa44726c1e92cafa565550","hash":"21cb2f563b0fe0dfc1608cd86205348ad9159bd5f61338fb680f5f062c907f95"})";
const std::string kIntent =
    R"({"seq":1319,"ts":"2026-12-02T05:31:43.994Z","run":"20261202T053143.215Z-3f1440da","type":"intent","org":"demo-org","policy":"delete-finished-query-jobs","action":"delete","mode":"enforce","job":{"id":"750Do0000rNWQWzIAP","kind":"query","state":"JobComplete","object":"Account","operation":"query","createdById":"005R0000000GiwjIAC","createdDate":"2026-11-29T00:09:36.754+0000","systemModstamp":"2026-11-29T00:17:18.974+0000"},"prev":"4461a5eee8ce0ff4ed26290be69b327921757159861c1132338af50fca76cf47","hash":"11df4a3324d35ddc01d5aa6085ec2748cedc2056737cc3526cd339f6f1326b39"})";
const std::string kResultApplied =
    R"({"seq":1335,"ts":"2026-12-02T05:31:44.053Z","run":"20261202T053143.215Z-3f1440da","type":"result","org":"demo-org","policy":"delete-finished-query-jobs","action":"delete","mode":"enforce","job":{"id":"750Do0000fNh4vAIAR","kind":"query","state":"JobComplete","object":"Case","operation":"query","createdById":"005R0000000GiwjIAC","createdDate":"2026-11-28T15:46:56.969+0000","systemModstamp":"2026-11-28T15:58:31.625+0000"},"intent":1323,"outcome":"applied","http":204,"prev":"358ebddf341934d52afd0880029fd3a32018276c3efd7780330ba84e79115025","hash":"3bdfa841de82cf9db8a33591ef05411e5ef737f1d18c95f9b8d05c89c373f5a3"})";
const std::string kResultTerminal =
    R"({"seq":2201,"ts":"2026-12-02T05:31:44.578Z","run":"20261202T053143.215Z-3f1440da","type":"result","org":"demo-org","policy":"abort-stuck-query-jobs","action":"abort","mode":"enforce","job":{"id":"750Do0000crF7pBIAS","kind":"query","state":"InProgress","object":"Lead","operation":"query","createdById":"005R0000000GiwjIAC","createdDate":"2026-12-02T02:35:23.008+0000","systemModstamp":"2026-12-02T02:35:23.008+0000"},"intent":2158,"outcome":"already-terminal","http":400,"settled_by":"get","observed_state":"JobComplete","error":{"kind":"invalid-state","code":"INVALIDJOBSTATE","message":"Aborting already Completed Job not allowed"},"prev":"8c0bc8623c93651c728a8bc62f2d068adfe10bf889f98259a3b46c2a77d74727","hash":"54850399a0abf7a009819c08c39852297c06a5ef2b195665c957d8a27b16d15c"})";
const std::string kRunEnd =
    R"({"seq":3953,"ts":"2026-12-02T05:31:45.586Z","run":"20261202T053143.215Z-3f1440da","type":"run-end","org":"demo-org","resource":"query-jobs","listing_complete":true,"pages":2,"jobs_seen":1790,"skipped":0,"matched":1317,"acted":1317,"held":0,"outcomes":{"applied":1314,"already-terminal":3},"api_calls":1323,"calls":{"list":2,"follow-up":0,"action":1320,"recovery":0,"token":0,"probe":1},"duration_ms":2371,"prev":"2709ccd878fe274cc01d3771b5f79917df77635e7c1f33701fed03fc7f2a8990","hash":"8a4e029b15453ac323e8cb8e74ff3e42954439efc7618254bb6baf9ef3c97b0e"})";

TEST(TypedRecords, TheCapturedLinesAreIntactRecords) {
  // The literals above are real records: each verifies against its own hash.
  for (const auto* line :
       {&kRunStart, &kDecision, &kIntent, &kResultApplied, &kResultTerminal, &kRunEnd}) {
    auto at = line->find(",\"hash\":");
    EXPECT_EQ(line->substr(at + 9, 64), sha256Hex(line->substr(0, at))) << *line;
  }
}

TEST(TypedRecords, RunStartWrittenByTheLogIsTheCapturedLineWithItsHash) {
  testing::TempDir dir("bw-records");
  const std::string path = (dir / "audit.jsonl").string();
  {
    AuditLog log(path, [] { return *model::parseTimestamp("2026-12-02T05:31:43.215Z"); });
    write(log, "20261202T053143.215Z-3f1440da",
          RunStartRecord{"demo-org", "query-jobs",
                         "abort-stuck-query-jobs,delete-finished-query-jobs", false, false});
  }
  std::ifstream in(path);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(line, kRunStart);
}

TEST(TypedRecords, DecisionIntentAndResultsRenderTheCapturedBytes) {
  const auto account = demoJob("750Do0000rNWQWzIAP", model::JobState::JobComplete, "Account",
                               "2026-11-29T00:09:36.754+0000", "2026-11-29T00:17:18.974+0000");
  const Subject del{"demo-org", "delete-finished-query-jobs", "delete", "enforce", &account, {}};
  DecisionRecord decision{
      del,
      "state JobComplete in [JobComplete, Failed, Aborted]; systemModstamp 3d5h14m24s ago > 1d",
      ""};
  EXPECT_EQ(rebuilt(kDecision, RecordType::Decision, decision.fields()), kDecision);
  EXPECT_EQ(rebuilt(kIntent, RecordType::Intent, IntentRecord{del, std::nullopt}.fields()),
            kIntent);

  const auto caseJob = demoJob("750Do0000fNh4vAIAR", model::JobState::JobComplete, "Case",
                               "2026-11-28T15:46:56.969+0000", "2026-11-28T15:58:31.625+0000");
  ResultRecord applied;
  applied.subject =
      Subject{"demo-org", "delete-finished-query-jobs", "delete", "enforce", &caseJob, {}};
  applied.intent = 1323;
  applied.outcome = Outcome::Applied;
  applied.http = 204;
  EXPECT_EQ(rebuilt(kResultApplied, RecordType::Result, applied.fields()), kResultApplied);

  const auto lead = demoJob("750Do0000crF7pBIAS", model::JobState::InProgress, "Lead",
                            "2026-12-02T02:35:23.008+0000", "2026-12-02T02:35:23.008+0000");
  ResultRecord terminal;
  terminal.subject = Subject{"demo-org", "abort-stuck-query-jobs", "abort", "enforce", &lead, {}};
  terminal.intent = 2158;
  terminal.outcome = Outcome::AlreadyTerminal;
  terminal.http = 400;
  terminal.observedState = "JobComplete";
  terminal.error =
      ResultError{"invalid-state", "INVALIDJOBSTATE", "Aborting already Completed Job not allowed"};
  EXPECT_EQ(rebuilt(kResultTerminal, RecordType::Result, terminal.fields()), kResultTerminal);
}

TEST(TypedRecords, RunEndRendersTheCapturedBytes) {
  RunEndRecord end;
  end.org = "demo-org";
  end.resource = "query-jobs";
  end.listingComplete = true;
  end.pages = 2;
  end.jobsSeen = 1790;
  end.matched = 1317;
  end.acted = 1317;
  end.outcomes = {{Outcome::Applied, 1314}, {Outcome::AlreadyTerminal, 3}};
  end.apiCalls = 1323;
  end.calls = {{"list", 2},     {"follow-up", 0}, {"action", 1320},
               {"recovery", 0}, {"token", 0},     {"probe", 1}};
  end.durationMs = 2371;
  EXPECT_EQ(rebuilt(kRunEnd, RecordType::RunEnd, end.fields()), kRunEnd);
}

// The records the demo does not write, against the field lists the code before typed records
// assembled by hand (engine/Pass.cpp, ActionRunner.cpp, Recovery.cpp, app/ and cluster/).
TEST(TypedRecords, TheOtherKindsKeepTheirKeysAndOrder) {
  Fields files;
  files.add("policies.yaml", "sha256:ab");
  ConfigRecord config{"/etc/bulkwarden/bulkwarden.yaml", 2, "a,b", true, "1.2.3", "cd", files};
  EXPECT_EQ(
      config.fields().body(),
      R"("config":"/etc/bulkwarden/bulkwarden.yaml","orgs":2,"policies":"a,b","dry_run":true,)"
      R"("version":"1.2.3","policy_digest":"sha256:cd","policy_files":{"policies.yaml":"sha256:ab"})");

  EXPECT_EQ(
      (RunStartRecord{"acme", "ingest-jobs", "p", true, true}.fields().body()),
      R"("org":"acme","resource":"ingest-jobs","policies":"p","dry_run":true,"follow_up":true)");

  HeldRecord held{"acme", "p", "abort", "dry-run", "exempt", 3, {"750A", "750B"}};
  EXPECT_EQ(held.fields().body(),
            R"("org":"acme","policy":"p","action":"abort","mode":"dry-run","reason":"exempt",)"
            R"("count":3,"ids":["750A","750B"],"ids_omitted":1)");
  held.count = 2;
  EXPECT_EQ(held.fields().body().find("ids_omitted"), std::string::npos);

  LimitRecord limit{"acme", "p", "delete", 50, 100, "over max-actions 10", 10, std::nullopt};
  EXPECT_EQ(limit.fields().body(),
            R"("org":"acme","policy":"p","action":"delete","matched":50,"jobs_seen":100,)"
            R"("reason":"over max-actions 10","on_limit":"cap","acting":10)");
  limit.capActing.reset();
  EXPECT_EQ(limit.fields().body(),
            R"("org":"acme","policy":"p","action":"delete","matched":50,"jobs_seen":100,)"
            R"("reason":"over max-actions 10")");
  limit.jobsRead = 3;  // a follow-up: the jobs it read, after the rest
  EXPECT_EQ(limit.fields().body(),
            R"("org":"acme","policy":"p","action":"delete","matched":50,"jobs_seen":100,)"
            R"("reason":"over max-actions 10","jobs_read":3)");

  model::Job classic;
  classic.id = "750C";
  classic.kind = model::ResourceKind::Ingest;
  classic.state = model::JobState::InProgress;
  classic.jobType = "Classic";
  classic.createdDate = classic.systemModstamp = *model::parseTimestamp("2026-11-29T10:00:00Z");
  const std::string job =
      R"({"id":"750C","kind":"ingest","state":"InProgress","object":"","operation":"",)"
      R"("createdById":"","createdDate":"2026-11-29T10:00:00.000+0000",)"
      R"("systemModstamp":"2026-11-29T10:00:00.000+0000","jobType":"Classic"})";
  const Subject s{"acme", "p", "abort", "enforce", &classic, {}};
  const std::string head = R"("org":"acme","policy":"p","action":"abort","mode":"enforce","job":)";
  EXPECT_EQ((IntentRecord{s, 2}.fields().body()), head + job + R"(,"attempt":2)");

  DecisionRecord decision{s, "why", "q,r"};
  EXPECT_EQ(decision.fields().body(),
            head + job +
                R"(,"reason":"why","also_matched":"q,r","won_because":"first abort/delete policy )"
                R"(in load order that does not exempt the job")");

  ResultRecord retried;
  retried.subject = s;
  retried.intent = 7;
  retried.outcome = Outcome::Refused;
  retried.attempt = 1;
  retried.retryInMs = 2000;
  retried.http = 503;
  retried.hint = "h";
  retried.error = ResultError{"transient", "", "busy"};
  EXPECT_EQ(retried.fields().body(),
            head + job +
                R"(,"intent":7,"outcome":"refused","attempt":1,"retry_in_ms":2000,"http":503,)"
                R"("hint":"h","error":{"kind":"transient","message":"busy"})");

  ResultRecord notStarted;
  notStarted.subject = s;
  notStarted.intent = 8;
  notStarted.outcome = Outcome::NotStarted;
  EXPECT_EQ(notStarted.fields().body(), head + job + R"(,"intent":8,"outcome":"not-started")");

  ReconciledResultRecord reconciled;
  reconciled.subject = Subject{"acme", "p", "delete", "enforce", nullptr, R"({"id":"750X"})"};
  reconciled.intent = 9;
  reconciled.outcome = Outcome::NotApplied;
  reconciled.observedState = "JobComplete";
  reconciled.intentRun = "r1";
  EXPECT_EQ(
      reconciled.fields().body(),
      R"("org":"acme","policy":"p","action":"delete","mode":"enforce","job":{"id":"750X"},)"
      R"("intent":9,"outcome":"not-applied","reconciled":true,"observed_state":"JobComplete",)"
      R"("intent_run":"r1")");

  Fields intentFields = IntentRecord{s, std::nullopt}.fields();
  EXPECT_EQ((NotSentResultRecord{intentFields, 11, "refused"}.fields().body()),
            head + job + R"(,"intent":11,"outcome":"not-sent","reason":"refused")");

  RunEndRecord end;
  end.org = "acme";
  end.resource = "query-jobs";
  end.duplicates = 2;
  end.outcomes = {{Outcome::Recorded, 1}};
  end.error = "listing failed";
  end.stateError = "disk";
  end.stopped = true;
  end.durationMs = 5;
  EXPECT_EQ(end.fields().body(),
            R"("org":"acme","resource":"query-jobs","listing_complete":false,"pages":0,)"
            R"("jobs_seen":0,"skipped":0,"duplicates":2,"matched":0,"acted":0,"held":0,)"
            R"("outcomes":{"recorded":1},"api_calls":0,"error":"listing failed",)"
            R"("state_error":"disk","stopped":true,"duration_ms":5)");
  end.calls.emplace();
  end.budgetDeferred = 4;
  EXPECT_NE(end.fields().body().find(R"("api_calls":0,"calls":{},"budget_deferred":4,"error")"),
            std::string::npos);
}

TEST(TypedRecords, WriteChoosesTheRecordsTypeAndSync) {
  struct Capture : AuditSink {
    std::string type, run, body;
    Sync how = Sync::Buffered;
    uint64_t append(std::string_view t, std::string_view r, const Fields& f, Sync s) override {
      type = t, run = r, body = f.body(), how = s;
      return 1;
    }
    void sync() override {}
  } sink;
  write(sink, "run", IntentRecord{Subject{"o", "p", "abort", "enforce", nullptr, "{}"}, {}});
  EXPECT_EQ(sink.type, "intent");
  EXPECT_EQ(sink.run, "run");
  EXPECT_EQ(sink.how, AuditSink::Sync::Durable);
  write(sink, "run", RunStartRecord{}, AuditSink::Sync::Buffered);
  EXPECT_EQ(sink.type, "run-start");
  EXPECT_EQ(sink.how, AuditSink::Sync::Buffered);
  write(sink, "recovery", ReconciledResultRecord{});
  EXPECT_EQ(sink.type, "result");
  EXPECT_EQ(sink.how, AuditSink::Sync::Durable);
  write(sink, "r", RunEndRecord{});
  EXPECT_EQ(sink.how, AuditSink::Sync::Durable);
}

// ---- the reader ----

TEST(RecordReader, ReadsTheTypedFieldsOfARecord) {
  auto parsed = parseRecord(kResultTerminal);
  ASSERT_TRUE(parsed) << parsed.error;
  const Record& r = *parsed.record;
  EXPECT_EQ(r.seq, 2201u);
  EXPECT_EQ(r.ts, "2026-12-02T05:31:44.578Z");
  EXPECT_EQ(r.run, "20261202T053143.215Z-3f1440da");
  EXPECT_EQ(r.type, RecordType::Result);
  EXPECT_EQ(r.prev, "8c0bc8623c93651c728a8bc62f2d068adfe10bf889f98259a3b46c2a77d74727");
  EXPECT_EQ(r.hash, "54850399a0abf7a009819c08c39852297c06a5ef2b195665c957d8a27b16d15c");
  EXPECT_EQ(r.mac, "");
  EXPECT_EQ(r.org(), "demo-org");
  EXPECT_EQ(r.policy(), "abort-stuck-query-jobs");
  EXPECT_EQ(r.action(), "abort");
  EXPECT_EQ(r.intent(), 2158u);
  EXPECT_EQ(r.outcome(), Outcome::AlreadyTerminal);
  auto job = r.job();
  ASSERT_TRUE(job);
  EXPECT_EQ(job->id, "750Do0000crF7pBIAS");
  EXPECT_EQ(job->kind, "query");
  EXPECT_EQ(job->state, "InProgress");
  EXPECT_EQ(job->jobType, "");
  EXPECT_FALSE(r.attempt());

  auto intent = parseRecord(kIntent);
  ASSERT_TRUE(intent);
  auto open = openIntentOf(*intent.record);
  ASSERT_TRUE(open);
  EXPECT_EQ(open->seq, 1319u);
  EXPECT_EQ(open->jobId, "750Do0000rNWQWzIAP");
  EXPECT_EQ(open->action, "delete");
  EXPECT_EQ(open->mode, "enforce");
  EXPECT_FALSE(open->classic);
  // The job object is carried into recovery's result as valid JSON naming the same job.
  auto again = parseRecord(R"({"seq":1,"ts":"t","run":"r","type":"x","prev":"p","job":)" +
                           open->jobJson + "}");
  ASSERT_TRUE(again) << again.error;
  EXPECT_EQ(again.record->job()->id, "750Do0000rNWQWzIAP");
  EXPECT_FALSE(again.record->type.has_value());  // a type this build does not know
  EXPECT_EQ(again.record->typeName, "x");
}

TEST(RecordReader, HostileLinesAreErrorsNeverCrashes) {
  const std::string ok = kIntent;
  std::vector<std::pair<std::string, std::string>> lines = {
      {"empty", ""},
      {"truncated", ok.substr(0, ok.size() / 2)},
      {"one byte short", ok.substr(0, ok.size() - 1)},
      {"not an object", "[1,2,3]"},
      {"null", "null"},
      {"a string", R"("seq")"},
      {"garbage", "\x01\x02\x03 nope"},
      {"seq a string", R"({"seq":"1","ts":"t","run":"r","type":"intent","prev":"p"})"},
      {"seq negative", R"({"seq":-1,"ts":"t","run":"r","type":"intent","prev":"p"})"},
      {"seq a fraction", R"({"seq":1.5,"ts":"t","run":"r","type":"intent","prev":"p"})"},
      {"seq huge",
       R"({"seq":99999999999999999999999999,"ts":"t","run":"r","type":"intent","prev":"p"})"},
      {"seq 1e400", R"({"seq":1e400,"ts":"t","run":"r","type":"intent","prev":"p"})"},
      {"type a number", R"({"seq":1,"ts":"t","run":"r","type":7,"prev":"p"})"},
      {"run an object", R"({"seq":1,"ts":"t","run":{},"type":"intent","prev":"p"})"},
      {"no prev", R"({"seq":1,"ts":"t","run":"r","type":"intent"})"},
      {"deeply nested", std::string(100000, '[') + std::string(100000, ']')},
      {"deeply nested object", R"({"seq":1,"ts":"t","run":"r","type":"intent","prev":"p","x":)" +
                                   std::string(5000, '{') + std::string(5000, '}') + "}"},
      {"non-UTF-8 outside strings", std::string("{\"seq\":1,\xff\xfe}")},
      {"2 MiB", R"({"seq":1,"ts":"t","run":"r","type":"intent","prev":"p","x":")" +
                    std::string(2 << 20, 'a') + "\"}"},
      {"NUL inside", std::string("{\"seq\":1\0,\"ts\":\"t\"}", 19)},
  };
  RecordParser parser;
  for (const auto& [what, line] : lines) {
    auto parsed = parser.parse(line);
    EXPECT_FALSE(parsed) << what;
    EXPECT_NE(parsed.failure, ParseFailure::None) << what;
    EXPECT_FALSE(parsed.error.empty()) << what;
    EXPECT_EQ(parsed.error.find("aaaaaaaa"), std::string::npos) << what << ": the line is quoted";
  }
  EXPECT_EQ(parser.parse(lines[18].second).failure, ParseFailure::TooLong);
  EXPECT_EQ(parser.parse(lines[7].second).failure, ParseFailure::MissingHeader);
  // The parser is still good after all that.
  EXPECT_TRUE(parser.parse(ok));
}

TEST(RecordReader, WrongTypesInsideARecordReadAsAbsent) {
  auto parsed = parseRecord(
      R"({"seq":3,"ts":"t","run":"r","type":"result","prev":"p","intent":"2","outcome":5,)"
      R"("org":[],"job":"750","attempt":1e30})");
  ASSERT_TRUE(parsed) << parsed.error;
  const Record& r = *parsed.record;
  EXPECT_FALSE(r.intent());
  EXPECT_FALSE(r.outcome());
  EXPECT_EQ(r.org(), "");
  EXPECT_FALSE(r.job());
  EXPECT_FALSE(r.attempt());
  EXPECT_FALSE(openIntentOf(r));
  // Invalid UTF-8, even inside a string, is not a record (the writer never writes it: it replaces
  // such bytes with U+FFFD), and says so.
  for (const std::string& bytes :
       {std::string(R"({"seq":1,"ts":"t","run":"r)") + "\xff\xfe" +
            R"(","type":"intent","prev":"p"})",
        std::string(R"({"seq":1,"ts":"t","run":"r","type":"intent","prev":"p","job":{"id":"75)") +
            "\xc3\x28" + R"("}})"}) {
    auto odd = parseRecord(bytes);
    EXPECT_FALSE(odd);
    EXPECT_EQ(odd.failure, ParseFailure::NotJson);
    EXPECT_FALSE(odd.error.empty());
  }
}

TEST(RecordReader, OpenIntentsAreFoundThroughTheReaderAcrossFilesAndSkipDamagedLines) {
  testing::TempDir dir("bw-records");
  const std::string path = (dir / "audit.jsonl").string();
  model::Job job;
  job.id = "750R00000000001AAA";
  job.jobType = "Classic";
  job.kind = model::ResourceKind::Ingest;
  {
    AuditLog log(path);
    const Subject s{"acme", "p", "abort", "enforce", &job, {}};
    uint64_t settled = write(log, "r1", IntentRecord{s, {}});
    ResultRecord result;
    result.subject = s;
    result.intent = settled;
    write(log, "r1", result);
    write(log, "r1", IntentRecord{s, 2});
  }
  {
    // A damaged line in the middle (a hostile edit): skipped, counted, never a crash.
    std::ofstream out(path, std::ios::app);
    out << R"({"seq":4,"type":"intent","job":)" << std::string(50, '{') << "\n";
  }
  auto scan = findOpenIntents({path});
  EXPECT_TRUE(scan.error.empty()) << scan.error;
  EXPECT_EQ(scan.skipped, 1u);
  ASSERT_EQ(scan.open.size(), 1u);
  EXPECT_EQ(scan.open[0].seq, 3u);
  EXPECT_TRUE(scan.open[0].classic);
  EXPECT_EQ(scan.open[0].kind, model::ResourceKind::Ingest);
  EXPECT_EQ(scan.open[0].run, "r1");

  // A file that cannot be read: nothing is settled (its results may be in it).
  auto missing = findOpenIntents({(dir / "gone.jsonl").string(), path});
  EXPECT_FALSE(missing.error.empty());
  EXPECT_TRUE(missing.open.empty());
  std::filesystem::create_symlink(path, (dir / "link.jsonl").string());
  EXPECT_FALSE(findOpenIntents({(dir / "link.jsonl").string()}).error.empty());
}

TEST(RecordReader, TheTestHelperReadsATrailThroughTheReader) {
  testing::TempDir dir("bw-records");
  const std::string path = (dir / "audit.jsonl").string();
  model::Job job;
  job.id = "750R00000000002AAA";
  {
    AuditLog log(path);
    write(log, "r", RunStartRecord{"acme", "query-jobs", "p", false, false});
    write(log, "r", IntentRecord{Subject{"acme", "p", "abort", "enforce", &job, {}}, {}});
  }
  EXPECT_EQ(testing::auditRecords(path).size(), 2u);
  auto intents = testing::auditRecords(path, RecordType::Intent);
  ASSERT_EQ(intents.size(), 1u);
  EXPECT_EQ(intents[0].seq, 2u);
  EXPECT_TRUE(testing::intentFor(path, "750R00000000002AAA"));
  EXPECT_FALSE(testing::intentFor(path, "750R00000000009AAA"));
  EXPECT_EQ(testing::intentCount(path), 1);
}

// ---- the doc ----

TEST(RecordDocs, DesignSection4NamesEveryRecordTypeAndOutcome) {
  std::ifstream in(std::string(BULKWARDEN_SOURCE_DIR) + "/docs/design.md");
  ASSERT_TRUE(in) << "docs/design.md";
  std::stringstream all;
  all << in.rdbuf();
  const std::string doc = all.str();
  auto from = doc.find("\n## 4. The audit trail");
  ASSERT_NE(from, std::string::npos);
  auto to = doc.find("\n## 5.", from);
  const std::string section = doc.substr(from, to - from);
  for (auto t : kRecordTypes) {
    EXPECT_NE(section.find("| `" + std::string(toString(t)) + "` |"), std::string::npos)
        << "docs/design.md section 4 has no table row for record type " << toString(t);
  }
  for (auto o : kOutcomes) {
    EXPECT_NE(section.find("`" + std::string(toString(o)) + "`"), std::string::npos)
        << "docs/design.md section 4 does not name outcome " << toString(o);
  }
  EXPECT_NE(section.find("daemon/audit/Records.h"), std::string::npos);
}

}  // namespace
}  // namespace bulkwarden::audit
