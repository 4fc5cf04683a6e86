#include "audit/Records.h"

#include <Poco/JSON/Stringifier.h>
#include <fmt/format.h>

#include <limits>
#include <map>
#include <sstream>

#include "audit/AuditLog.h"
#include "model/Time.h"

namespace bulkwarden::audit {

namespace {

// One table per enum: the name of each value, in the enum's order. toString and parse both read
// it, so a name cannot be spelt two ways.
constexpr std::array<std::string_view, kRecordTypes.size()> kRecordTypeNames = {
    "config", "run-start", "decision", "held",     "limit",
    "intent", "result",    "run-end",  "recovery", "anchor"};
constexpr std::array<std::string_view, kOutcomes.size()> kOutcomeNames = {
    "recorded",    "applied", "already-terminal", "not-found",    "failed",        "unknown",
    "not-started", "held",    "refused",          "still-active", "not-permitted", "confirmed",
    "not-applied", "not-sent"};

template <class E, size_t N>
std::string_view nameOf(E value, const std::array<std::string_view, N>& names) {
  auto i = static_cast<size_t>(value);
  return i < N ? names[i] : std::string_view("?");
}

template <class E, size_t N>
std::optional<E> valueOf(std::string_view name, const std::array<std::string_view, N>& names) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<E>(i);
  }
  return std::nullopt;
}

// Every enum value sits at its own index in its table (checked at compile time).
constexpr bool tablesInOrder() {
  for (size_t i = 0; i < kRecordTypes.size(); ++i) {
    if (static_cast<size_t>(kRecordTypes[i]) != i) return false;
  }
  for (size_t i = 0; i < kOutcomes.size(); ++i) {
    if (static_cast<size_t>(kOutcomes[i]) != i) return false;
  }
  return true;
}
static_assert(tablesInOrder());

// `"a","b"` as a JSON array of strings.
std::string jsonArray(const std::vector<std::string_view>& items) {
  std::string out = "[";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    appendJsonString(out, item);
  }
  return out + "]";
}

void addSubject(Fields& f, const Subject& s) {
  f.add("org", s.org).add("policy", s.policy).add("action", s.action).add("mode", s.mode);
  if (s.job) {
    f.add("job", jobFields(*s.job));
  } else {
    f.addRaw("job", s.jobJson.empty() ? std::string_view("{}") : s.jobJson);
  }
}

// The deepest nesting of objects and arrays in `text` (outside strings); stops counting past
// `cap`. Poco's parser recurses, so depth is bounded before it sees the line.
size_t nesting(std::string_view text, size_t cap) {
  size_t depth = 0, deepest = 0;
  bool inString = false, escaped = false;
  for (char c : text) {
    if (inString) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        inString = false;
      }
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
      if (deepest > cap) return deepest;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::optional<std::string> stringField(const Poco::JSON::Object::Ptr& obj, const std::string& key) {
  if (!obj || !obj->has(key)) return std::nullopt;
  const auto& v = obj->get(key);
  if (!v.isString()) return std::nullopt;
  try {
    return v.extract<std::string>();
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

std::optional<int64_t> integerField(const Poco::JSON::Object::Ptr& obj, const std::string& key) {
  if (!obj || !obj->has(key)) return std::nullopt;
  const auto& v = obj->get(key);
  try {
    if (!v.isInteger()) return std::nullopt;
    if (v.isSigned()) return v.convert<int64_t>();
    auto u = v.convert<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::string_view toString(RecordType type) { return nameOf(type, kRecordTypeNames); }
std::optional<RecordType> parseRecordType(std::string_view name) {
  return valueOf<RecordType>(name, kRecordTypeNames);
}
std::string_view toString(Outcome outcome) { return nameOf(outcome, kOutcomeNames); }
std::optional<Outcome> parseOutcome(std::string_view name) {
  return valueOf<Outcome>(name, kOutcomeNames);
}

Fields jobFields(const model::Job& job) {
  Fields f;
  f.add("id", job.id)
      .add("kind", model::resourcePath(job.kind))
      .add("state", model::toString(job.state))
      .add("object", job.object)
      .add("operation", job.operation)
      .add("createdById", job.createdById)
      .add("createdDate", model::formatSalesforce(job.createdDate))
      .add("systemModstamp", model::formatSalesforce(job.systemModstamp));
  // Only for 1.0 jobs, so that 2.0 records keep their shape; recovery reads it back.
  if (job.isClassic()) f.add("jobType", job.jobType);
  return f;
}

Fields ConfigRecord::fields() const {
  Fields f;
  f.add("config", config)
      .add("orgs", orgs)
      .add("policies", policies)
      .add("dry_run", dryRun)
      .add("version", version)
      .add("policy_digest", "sha256:" + std::string(policyDigest))
      .add("policy_files", policyFiles);
  return f;
}

Fields RunStartRecord::fields() const {
  Fields f;
  f.add("org", org).add("resource", resource).add("policies", policies).add("dry_run", dryRun);
  if (followUp) f.add("follow_up", true);  // read the crossing jobs, no listing
  return f;
}

Fields DecisionRecord::fields() const {
  Fields f;
  addSubject(f, subject);
  f.add("reason", reason);
  if (!alsoMatched.empty()) {
    f.add("also_matched", alsoMatched)
        .add("won_because", "first abort/delete policy in load order that does not exempt the job");
  }
  return f;
}

Fields HeldRecord::fields() const {
  Fields f;
  f.add("org", org)
      .add("policy", policy)
      .add("action", action)
      .add("mode", mode)
      .add("reason", reason)
      .add("count", count)
      .addRaw("ids", jsonArray(ids));
  if (count > static_cast<int64_t>(ids.size())) {
    f.add("ids_omitted", count - static_cast<int64_t>(ids.size()));
  }
  return f;
}

Fields LimitRecord::fields() const {
  Fields f;
  f.add("org", org)
      .add("policy", policy)
      .add("action", action)
      .add("matched", matched)
      .add("jobs_seen", jobsSeen)
      .add("reason", reason);
  if (capActing) f.add("on_limit", "cap").add("acting", *capActing);
  if (jobsRead) f.add("jobs_read", *jobsRead);
  return f;
}

Fields IntentRecord::fields() const {
  Fields f;
  addSubject(f, subject);
  if (attempt) f.add("attempt", *attempt);
  return f;
}

Fields ResultRecord::fields() const {
  Fields f;
  addSubject(f, subject);
  f.add("intent", static_cast<int64_t>(intent)).add("outcome", toString(outcome));
  if (attempt) f.add("attempt", *attempt);
  if (retryInMs) f.add("retry_in_ms", *retryInMs);
  if (http != 0) f.add("http", http);
  if (!observedState.empty()) f.add("settled_by", "get").add("observed_state", observedState);
  if (!hint.empty()) f.add("hint", hint);
  if (error) {
    Fields err;
    err.add("kind", error->kind);
    if (!error->code.empty()) err.add("code", error->code);
    err.add("message", error->message);
    f.add("error", err);
  }
  return f;
}

Fields ReconciledResultRecord::fields() const {
  Fields f;
  addSubject(f, subject);
  f.add("intent", static_cast<int64_t>(intent))
      .add("outcome", toString(outcome))
      .add("reconciled", true)
      .add("observed_state", observedState)
      .add("intent_run", intentRun);
  return f;
}

Fields NotSentResultRecord::fields() const {
  Fields f = intentFields;
  f.add("intent", static_cast<int64_t>(intent))
      .add("outcome", toString(Outcome::NotSent))
      .add("reason", reason);
  return f;
}

Fields RunEndRecord::fields() const {
  Fields f;
  f.add("org", org)
      .add("resource", resource)
      .add("listing_complete", listingComplete)
      .add("pages", pages)
      .add("jobs_seen", jobsSeen)
      .add("skipped", skipped);
  if (duplicates > 0) f.add("duplicates", duplicates);
  f.add("matched", matched).add("acted", acted).add("held", held);
  Fields counts;
  for (const auto& [o, n] : outcomes) counts.add(toString(o), n);
  f.add("outcomes", counts).add("api_calls", apiCalls);
  if (calls) {
    Fields byPurpose;
    for (const auto& [purpose, n] : *calls) byPurpose.add(purpose, n);
    f.add("calls", byPurpose);
    if (budgetDeferred > 0) f.add("budget_deferred", budgetDeferred);
  }
  if (!error.empty()) f.add("error", error);
  if (!stateError.empty()) f.add("state_error", stateError);
  if (stopped) f.add("stopped", true);
  f.add("duration_ms", durationMs);
  return f;
}

// ---- the reader ----

std::string Record::text(const std::string& key) const {
  return stringField(object, key).value_or(std::string());
}

std::optional<int64_t> Record::integer(const std::string& key) const {
  return integerField(object, key);
}

std::optional<JobView> Record::job() const {
  if (!object || !object->has("job")) return std::nullopt;
  Poco::JSON::Object::Ptr job;
  try {
    job = object->getObject("job");
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
  if (!job) return std::nullopt;
  JobView v;
  v.id = stringField(job, "id").value_or("");
  v.kind = stringField(job, "kind").value_or("");
  v.state = stringField(job, "state").value_or("");
  v.jobType = stringField(job, "jobType").value_or("");
  std::ostringstream js;
  Poco::JSON::Stringifier::condense(job, js);
  v.json = js.str();
  return v;
}

std::optional<uint64_t> Record::intent() const {
  auto n = integer("intent");
  if (!n || *n < 0) return std::nullopt;
  return static_cast<uint64_t>(*n);
}

RecordParser::RecordParser() { parser_.setDepth(kMaxRecordDepth); }

ParsedLine RecordParser::parse(std::string_view line, bool requireHeader) {
  ParsedLine out;
  auto failed = [&](ParseFailure why, std::string text) {
    out.failure = why;
    out.error = std::move(text);
    return std::move(out);
  };
  if (line.size() > kMaxRecordBytes) {
    return failed(ParseFailure::TooLong,
                  fmt::format("longer than a record can be ({} bytes)", kMaxRecordBytes));
  }
  if (nesting(line, kMaxRecordDepth) > kMaxRecordDepth) {
    return failed(ParseFailure::NotJson,
                  fmt::format("nested deeper than a record can be ({} levels)", kMaxRecordDepth));
  }
  Record r;
  try {
    parser_.reset();
    Poco::Dynamic::Var parsed = parser_.parse(std::string(line));
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) {
      return failed(ParseFailure::NotJson, "not a JSON object");
    }
    r.object = parsed.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    return failed(ParseFailure::NotJson, e.displayText());
  } catch (const std::exception& e) {
    return failed(ParseFailure::NotJson, e.what());
  }
  if (!r.object) return failed(ParseFailure::NotJson, "not a JSON object");
  auto seq = integerField(r.object, "seq");
  auto ts = stringField(r.object, "ts");
  auto run = stringField(r.object, "run");
  auto type = stringField(r.object, "type");
  auto prev = stringField(r.object, "prev");
  if (requireHeader && (!seq || *seq < 0 || !ts || !run || !type || !prev)) {
    return failed(ParseFailure::MissingHeader, "lacks seq, ts, run, type or prev");
  }
  r.seq = seq && *seq >= 0 ? static_cast<uint64_t>(*seq) : 0;
  r.ts = ts.value_or("");
  r.run = run.value_or("");
  r.typeName = type.value_or("");
  r.type = parseRecordType(r.typeName);
  r.prev = prev.value_or("");
  r.hash = stringField(r.object, "hash").value_or("");
  r.mac = stringField(r.object, "mac").value_or("");
  out.record = std::move(r);
  return out;
}

ParsedLine parseRecord(std::string_view line, bool requireHeader) {
  RecordParser parser;
  return parser.parse(line, requireHeader);
}

std::string readRecords(const std::vector<std::string>& paths,
                        const std::function<void(const Record&)>& fn,
                        const std::function<void(const std::string&, const ParsedLine&)>& bad) {
  RecordParser parser;
  uint64_t tooLong = 0;
  std::string why = readTrailLines(
      paths,
      [&](const std::string& path, std::string_view line) {
        ParsedLine parsed = parser.parse(line);
        if (parsed) {
          fn(*parsed.record);
        } else if (bad) {
          bad(path, parsed);
        }
      },
      &tooLong);
  if (tooLong > 0 && bad) {
    ParsedLine p;
    p.failure = ParseFailure::TooLong;
    p.error =
        fmt::format("{} line(s) longer than a record can be ({} bytes)", tooLong, kMaxRecordBytes);
    bad(paths.empty() ? std::string() : paths.back(), p);
  }
  return why;
}

std::optional<OpenIntent> openIntentOf(const Record& r) {
  if (!r.is(RecordType::Intent)) return std::nullopt;
  auto job = r.job();
  auto org = stringField(r.object, "org");
  auto policy = stringField(r.object, "policy");
  auto action = stringField(r.object, "action");
  if (!job || job->id.empty() || !org || !policy || !action) return std::nullopt;
  OpenIntent i;
  i.seq = r.seq;
  i.run = r.run;
  i.org = *org;
  i.policy = *policy;
  i.action = *action;
  i.mode = stringField(r.object, "mode").value_or("enforce");
  i.jobId = job->id;
  i.kind = job->kind == "ingest" ? model::ResourceKind::Ingest : model::ResourceKind::Query;
  i.classic = job->jobType == "Classic";
  i.jobJson = std::move(job->json);
  return i;
}

OpenIntentScan findOpenIntents(const std::vector<std::string>& trailFiles) {
  OpenIntentScan scan;
  std::map<uint64_t, OpenIntent> open;
  RecordParser parser;
  scan.error = readTrailLines(trailFiles, [&](const std::string&, std::string_view line) {
    // A cheap filter first: most records are decisions.
    if (line.find("\"type\":\"intent\"") == std::string_view::npos &&
        line.find("\"type\":\"result\"") == std::string_view::npos) {
      return;
    }
    ParsedLine parsed = parser.parse(line);
    if (!parsed) {
      ++scan.skipped;  // `audit verify` is the place to diagnose a damaged line
      return;
    }
    const Record& r = *parsed.record;
    if (r.is(RecordType::Result)) {
      if (auto intent = r.intent()) open.erase(*intent);
      return;
    }
    if (auto i = openIntentOf(r)) {
      open[i->seq] = std::move(*i);
    } else if (r.is(RecordType::Intent)) {
      ++scan.skipped;
    }
  });
  if (!scan.error.empty()) return scan;  // an unread file may hold results: settle nothing
  for (auto& [_, i] : open) scan.open.push_back(std::move(i));
  return scan;
}

}  // namespace bulkwarden::audit
