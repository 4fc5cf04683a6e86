// The audit trail's schema (docs/design.md section 4) in one place: every record type and every
// result outcome, each with one name table that serves both ways; one typed record per kind the
// daemon writes, each rendering its fields in the order the trail has always had them (the names
// and the order are part of the record's hash: changing them breaks no chain, but it changes what
// outside checks read); and the one reader of a record line shared by `audit verify`,
// `audit show`, recovery and the tests. The trail is outside input: the reader caps a line,
// bounds nesting, and turns anything malformed into an error, never a crash.
// Plain functions and value types: thread-safe (a RecordParser is one thread's).
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/AuditSink.h"
#include "audit/Fields.h"
#include "model/Job.h"

namespace bulkwarden::audit {

// ---- names -------------------------------------------------------------------------------------

enum class RecordType {
  Config,    // at start and at each reload
  RunStart,  // a pass begins
  Decision,  // a policy matched a job
  Held,      // jobs held back in bulk, one record per policy and reason
  Limit,     // a policy over max-actions or max-percent
  Intent,    // before a request is sent (durable first)
  Result,    // after its answer, or when recovery settled an open intent
  RunEnd,    // a pass ends
  Recovery,  // the trail was repaired (torn tail cut off, writable again after a failure)
  Anchor,    // the anchor was created, replaced or accepted (audit accept)
};
inline constexpr std::array kRecordTypes = {
    RecordType::Config,   RecordType::RunStart, RecordType::Decision, RecordType::Held,
    RecordType::Limit,    RecordType::Intent,   RecordType::Result,   RecordType::RunEnd,
    RecordType::Recovery, RecordType::Anchor};
std::string_view toString(RecordType type);
std::optional<RecordType> parseRecordType(std::string_view name);

// What happened to one matched job (a `result`'s `outcome`, and the keys of run-end's
// `outcomes`). The order is run-end's key order: new names go at the end.
enum class Outcome {
  Recorded,         // report action, or dry-run: a decision only
  Applied,          // Salesforce accepted the abort or delete
  AlreadyTerminal,  // abort refused because the job had already finished (not a failure)
  NotFound,         // the job no longer exists (recovery: gone after an abort)
  Failed,           // Salesforce refused, or an error that proves nothing was applied
  Unknown,          // the request may have been applied; no answer came back
  NotStarted,       // the pass stopped (SIGTERM, auth or limit error) before this action
  Held,             // held back: exempted, over a limit, or outside the policy's windows
  Refused,          // refused unprocessed (503, 429, concurrent limit): retried, or retries spent
  StillActive,      // refused as INVALIDJOBSTATE, yet a GET shows the job still running
  NotPermitted,     // the user may not act on the job (Manage Data Integrations missing)
  Confirmed,        // recovery: the job is in the state the open intent's action leads to
  NotApplied,       // recovery: the job is not (the request never took effect)
  NotSent,          // cluster: the local trail refused the intent, so its request never went out
};
inline constexpr std::array kOutcomes = {
    Outcome::Recorded,   Outcome::Applied,     Outcome::AlreadyTerminal, Outcome::NotFound,
    Outcome::Failed,     Outcome::Unknown,     Outcome::NotStarted,      Outcome::Held,
    Outcome::Refused,    Outcome::StillActive, Outcome::NotPermitted,    Outcome::Confirmed,
    Outcome::NotApplied, Outcome::NotSent};
std::string_view toString(Outcome outcome);
std::optional<Outcome> parseOutcome(std::string_view name);

// ---- typed records (one writer each) -----------------------------------------------------------

// What a decision, an intent and a result say about the job and the policy acting on it. Either
// `job` (the engine's) or `jobJson` (recovery: the intent's `job` object as read back, valid JSON
// from the reader) names the job.
struct Subject {
  std::string_view org;
  std::string_view policy;
  std::string_view action;
  std::string_view mode;
  const model::Job* job = nullptr;
  std::string_view jobJson;
};
// `{"id":...,"kind":...,...}` of a job, as the trail holds it.
Fields jobFields(const model::Job& job);

struct ConfigRecord {
  static constexpr RecordType kType = RecordType::Config;
  static constexpr AuditSink::Sync kSync = AuditSink::Sync::Durable;
  std::string_view config;
  int64_t orgs = 0;
  std::string_view policies;  // comma-separated, load order
  bool dryRun = false;
  std::string_view version;
  std::string_view policyDigest;  // hex SHA-256 (written as "sha256:<hex>")
  Fields policyFiles;
  Fields fields() const;
};

struct RunStartRecord {
  static constexpr RecordType kType = RecordType::RunStart;
  static constexpr AuditSink::Sync kSync = AuditSink::Sync::Buffered;
  std::string_view org;
  std::string_view resource;
  std::string_view policies;  // comma-separated
  bool dryRun = false;
  bool followUp = false;
  Fields fields() const;
};

struct DecisionRecord {
  static constexpr RecordType kType = RecordType::Decision;
  static constexpr AuditSink::Sync kSync = AuditSink::Sync::Buffered;
  Subject subject;
  std::string_view reason;
  std::string_view alsoMatched;  // other matching policies, comma-separated; empty: none
  Fields fields() const;
};

struct HeldRecord {
  static constexpr RecordType kType = RecordType::Held;
  static constexpr AuditSink::Sync kSync = AuditSink::Sync::Buffered;
  std::string_view org;
  std::string_view policy;
  std::string_view action;
  std::string_view mode;
  std::string_view reason;
  int64_t count = 0;
  std::vector<std::string_view> ids;  // the first ones; `ids_omitted` counts the others
  Fields fields() const;
};

struct LimitRecord {
  static constexpr RecordType kType = RecordType::Limit;
  static constexpr AuditSink::Sync kSync = AuditSink::Sync::Buffered;
  std::string_view org;
  std::string_view policy;
  std::string_view action;
  int64_t matched = 0;
  int64_t jobsSeen = 0;
  std::string_view reason;
  std::optional<int64_t> capActing;  // on-limit: cap, acting on this many
  // A follow-up: the jobs it read (`jobsSeen` is then the last full listing's count).
  std::optional<int64_t> jobsRead;
  Fields fields() const;
};

struct IntentRecord {
  static constexpr RecordType kType = RecordType::Intent;
  static constexpr AuditSink::Sync kSync = AuditSink::Sync::Durable;
  Subject subject;
  std::optional<int> attempt;  // a retry's attempt number
  Fields fields() const;
};

struct ResultError {
  std::string_view kind;
  std::string_view code;  // empty: none
  std::string_view message;
};

// The result of a request the engine sent.
struct ResultRecord {
  static constexpr RecordType kType = RecordType::Result;
  static constexpr AuditSink::Sync kSync = AuditSink::Sync::Buffered;
  Subject subject;
  uint64_t intent = 0;
  Outcome outcome = Outcome::Applied;
  std::optional<int> attempt;
  std::optional<int64_t> retryInMs;
  int http = 0;                    // 0: no answer
  std::string_view observedState;  // read back with a GET (`settled_by: get`); empty: not read
  std::string_view hint;           // empty: none
  std::optional<ResultError> error;
  Fields fields() const;
};

// The result recovery writes for an open intent it settled by reading the job.
struct ReconciledResultRecord {
  static constexpr RecordType kType = RecordType::Result;
  static constexpr AuditSink::Sync kSync = AuditSink::Sync::Durable;
  Subject subject;
  uint64_t intent = 0;
  Outcome outcome = Outcome::Confirmed;
  std::string_view observedState;
  std::string_view intentRun;
  Fields fields() const;
};

// Cluster mode: the result the shared trail gets for an intent the local trail refused (its
// request never went out): the intent's fields, then `intent`, `outcome: not-sent`, `reason`.
struct NotSentResultRecord {
  static constexpr RecordType kType = RecordType::Result;
  static constexpr AuditSink::Sync kSync = AuditSink::Sync::Durable;
  const Fields& intentFields;
  uint64_t intent = 0;
  std::string_view reason;
  Fields fields() const;
};

struct RunEndRecord {
  static constexpr RecordType kType = RecordType::RunEnd;
  static constexpr AuditSink::Sync kSync = AuditSink::Sync::Durable;
  std::string_view org;
  std::string_view resource;
  bool listingComplete = false;
  int64_t pages = 0;
  int64_t jobsSeen = 0;
  int64_t skipped = 0;
  int64_t duplicates = 0;  // written when > 0
  int64_t matched = 0;
  int64_t acted = 0;
  int64_t held = 0;
  std::vector<std::pair<Outcome, int64_t>> outcomes;
  int64_t apiCalls = 0;
  // With an API budget: calls by purpose, and the actions it held back (written when > 0).
  std::optional<std::vector<std::pair<std::string_view, int64_t>>> calls;
  int64_t budgetDeferred = 0;
  std::string_view error;       // why the listing failed; empty: it did not
  std::string_view stateError;  // empty: none
  bool stopped = false;
  int64_t durationMs = 0;
  Fields fields() const;
};

// Writes `record` to `sink` for pass `run`; returns its seq. Throws AuditError.
template <class R>
uint64_t write(AuditSink& sink, std::string_view run, const R& record,
               AuditSink::Sync sync = R::kSync) {
  return sink.append(toString(R::kType), run, record.fields(), sync);
}

// ---- the reader --------------------------------------------------------------------------------

// A job as a record names it.
struct JobView {
  std::string id;
  std::string kind;  // query | ingest ("" when absent)
  std::string state;
  std::string jobType;  // Classic for a Bulk API 1.0 job; "" for 2.0
  std::string json;     // the `job` object, re-serialized (valid JSON)
};

// One record line, read.
class Record {
 public:
  uint64_t seq = 0;
  std::string ts;
  std::string run;
  std::string typeName;            // as written
  std::optional<RecordType> type;  // nullopt: a name this build does not know
  std::string prev;
  std::string hash;                // "" when absent
  std::string mac;                 // "" when absent
  Poco::JSON::Object::Ptr object;  // every field, for readers of fields with no accessor below

  bool is(RecordType t) const { return type == t; }
  // A string field; "" when absent or not a string.
  std::string text(const std::string& key) const;
  // An integer field; nullopt when absent, not an integer or out of range.
  std::optional<int64_t> integer(const std::string& key) const;
  std::string org() const { return text("org"); }
  std::string policy() const { return text("policy"); }
  std::string action() const { return text("action"); }
  std::string mode() const { return text("mode"); }
  std::string reason() const { return text("reason"); }
  std::optional<JobView> job() const;      // nullopt: no `job` object
  std::optional<uint64_t> intent() const;  // a result's intent seq
  std::string outcomeName() const { return text("outcome"); }
  std::optional<Outcome> outcome() const { return parseOutcome(outcomeName()); }
  std::optional<int64_t> attempt() const { return integer("attempt"); }
};

enum class ParseFailure {
  None,
  TooLong,        // longer than kMaxRecordBytes
  NotJson,        // not a JSON object (truncated, invalid, nested too deep...)
  MissingHeader,  // seq, ts, run, type or prev missing or of the wrong JSON type
};

struct ParsedLine {
  std::optional<Record> record;
  ParseFailure failure = ParseFailure::None;
  std::string error;  // why, for a person (the line itself is never quoted)
  explicit operator bool() const { return record.has_value(); }
};

// No record nests deeper than this (the record, `job` or `error` or `outcomes`).
inline constexpr size_t kMaxRecordDepth = 8;

// Parses record lines; keeps one JSON parser for many lines. Not thread-safe.
class RecordParser {
 public:
  RecordParser();
  // `requireHeader` false: any JSON object is a Record (`audit show` lists what it can).
  ParsedLine parse(std::string_view line, bool requireHeader = true);

 private:
  Poco::JSON::Parser parser_;
};

// One line, with a parser of its own.
ParsedLine parseRecord(std::string_view line, bool requireHeader = true);

// Reads the records of a trail's files (rotated first) through the reader, calling `fn` for
// each; a line that is not a record goes to `bad` (may be null) with its file and why. Returns
// empty, or why a file could not be read.
std::string readRecords(
    const std::vector<std::string>& paths, const std::function<void(const Record&)>& fn,
    const std::function<void(const std::string& path, const ParsedLine&)>& bad = nullptr);

// ---- open intents ------------------------------------------------------------------------------

// An intent with no result after it: the process stopped between announcing an action and
// recording its outcome.
struct OpenIntent {
  uint64_t seq = 0;
  std::string run;
  std::string org;
  std::string policy;
  std::string action;  // abort | delete
  std::string mode;
  std::string jobId;
  model::ResourceKind kind = model::ResourceKind::Query;
  bool classic = false;  // a Bulk API 1.0 job (`jobType: Classic`): read through the 1.0 resource
  std::string jobJson;   // the intent's `job` object, copied into the result as it was
};

// The intent a record names, when it is one with what recovery needs (org, policy, action, job
// id); nullopt otherwise.
std::optional<OpenIntent> openIntentOf(const Record& record);

struct OpenIntentScan {
  std::vector<OpenIntent> open;  // oldest first
  std::string error;             // a file could not be read: settle nothing (empty: all read)
  uint64_t skipped = 0;          // lines that were not records
};

// Intents without a result across the trail's files (rotated first, .gz read through gzip).
OpenIntentScan findOpenIntents(const std::vector<std::string>& trailFiles);

}  // namespace bulkwarden::audit
