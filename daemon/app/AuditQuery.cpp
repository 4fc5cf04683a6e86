#include "app/AuditQuery.h"

#include "cluster/ClusterNode.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>

#include "app/ExitCodes.h"
#include "audit/AuditLog.h"
#include "audit/Records.h"
#include "config/Config.h"
#include "log/Log.h"
#include "model/Time.h"

namespace bulkwarden::app {

namespace {

constexpr const char* kUsage =
    R"(Usage:
  bulkwarden audit show [--config FILE | FILE] [--job ID] [--policy NAME] [--org NAME]
                        [--since 24h|ISO] [--outcome O] [--format text|json]
      the trail's records (rotated files and the live one), oldest first; text: one line a
      record (ts type org policy action job outcome error); json: the records themselves.
      --job takes the 15- or 18-character id; --outcome: recorded (reports and dry runs),
      applied, already-terminal, not-found, failed, unknown, not-started, held, refused,
      still-active, not-permitted, confirmed, not-applied, not-sent
  bulkwarden audit summary [--config FILE | FILE] [--since 24h|ISO] [--format text|json]
      passes, actions by org, policy, action and outcome, jobs held back, errors

Exit codes: 0 success, 64 usage error, 66 a file missing or unreadable, 78 configuration error.
)";

int usage(const std::string& message) {
  fmt::print(stderr, "bulkwarden: {}\n{}", message, kUsage);
  return kExitUsage;
}

// A string from the trail as printed: escaped, capped; "-" when empty.
std::string shown(const std::string& text) { return text.empty() ? "-" : log::outside(text); }

std::string str(const Poco::JSON::Object::Ptr& obj, const std::string& key) {
  if (!obj || !obj->has(key)) return {};
  const auto& v = obj->get(key);
  try {
    return v.isString() ? v.extract<std::string>() : v.convert<std::string>();
  } catch (const Poco::Exception&) {
    return {};
  }
}

bool validJobId(const std::string& id) {
  if (id.size() != 15 && id.size() != 18) return false;
  for (char c : id) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum) return false;
  }
  return true;
}

// The 18-character form only adds a checksum of the first 15: compare those.
bool sameJob(const std::string& a, const std::string& b) {
  return a.size() >= 15 && b.size() >= 15 && a.compare(0, 15, b, 0, 15) == 0;
}

// One record, as the filters and the printers see it.
struct Record {
  Poco::JSON::Object::Ptr obj;
  std::optional<audit::RecordType> kind;
  std::string ts, type, org, policy, action, job, outcome, error;
  std::optional<model::Timestamp> when;
  bool is(audit::RecordType t) const { return kind == t; }
};

Record fields(const audit::Record& record) {
  using audit::RecordType;
  const auto& obj = record.object;
  Record r;
  r.obj = obj;
  r.kind = record.type;
  r.ts = str(obj, "ts");
  r.type = str(obj, "type");
  r.org = str(obj, "org");
  r.policy = str(obj, "policy");
  r.action = str(obj, "action");
  r.when = model::parseTimestamp(r.ts);
  if (auto job = record.job()) r.job = job->id;
  if (r.is(RecordType::Result)) {
    r.outcome = str(obj, "outcome");
  } else if (r.is(RecordType::Held)) {
    r.outcome = audit::toString(audit::Outcome::Held);
  } else if (r.is(RecordType::Decision) &&
             (r.action == "report" || str(obj, "mode") == "dry-run")) {
    r.outcome = audit::toString(audit::Outcome::Recorded);  // a decision only: nothing is sent
  }
  Poco::JSON::Object::Ptr err;
  try {
    err = obj->getObject("error");
  } catch (const Poco::Exception&) {
  }
  if (err) {
    r.error = str(err, "message");
  } else if (r.is(RecordType::Held)) {
    r.error = str(obj, "reason");
  } else {
    r.error = str(obj, "error");  // run-end: why the listing failed
  }
  return r;
}

struct Query {
  std::string file;
  std::optional<std::string> config;
  std::optional<std::string> job, policy, org, outcome;
  std::optional<model::Timestamp> since;
  std::string format = "text";
};

bool heldNames(const Record& r, const std::string& job) {
  auto ids = r.obj->getArray("ids");
  if (!ids) return false;
  for (size_t i = 0; i < ids->size(); ++i) {
    const auto& v = ids->get(static_cast<unsigned>(i));
    if (v.isString() && sameJob(v.extract<std::string>(), job)) return true;
  }
  return false;
}

bool matches(const Query& q, const Record& r) {
  if (q.since && (!r.when || *r.when < *q.since)) return false;
  if (q.policy && r.policy != *q.policy) return false;
  if (q.org && r.org != *q.org) return false;
  if (q.outcome && r.outcome != *q.outcome) return false;
  if (q.job && !sameJob(r.job, *q.job) &&
      !(r.is(audit::RecordType::Held) && heldNames(r, *q.job))) {
    return false;
  }
  return true;
}

// The files to read: FILE and its rotated predecessors, or the trail the config names. Returns
// an exit code when it cannot.
std::optional<int> resolveFiles(const Query& q, std::vector<std::string>& files,
                                cluster::TempTrail& shared) {
  std::string path = q.file;
  if (q.config) {
    try {
      auto cfg = config::loadConfig(*q.config);
      path = cfg.auditLog;
      // Cluster mode: the trail of every node is in PostgreSQL (docs/scaling.md).
      if (cfg.cluster) {
        if (auto why = shared.fill(*cfg.cluster); !why.empty()) {
          fmt::print(stderr, "bulkwarden: {}\n", log::outside(why, 4096));
          return kExitUnavailable;
        }
        files = {shared.path()};
        return std::nullopt;
      }
    } catch (const config::ConfigError& e) {
      for (const auto& d : e.diagnostics()) fmt::print(stderr, "{}\n", log::outside(d.str(), 4096));
      return kExitConfig;
    }
  }
  std::vector<std::string> unchecked;
  files = audit::trailFiles(path, &unchecked);
  for (const auto& u : unchecked) {
    fmt::print(stderr, "bulkwarden: {}: not read (compressed in a way bulkwarden cannot read)\n",
               log::outside(u));
  }
  return std::nullopt;
}

struct Reader {
  uint64_t records = 0, notRecords = 0, tooLong = 0;
  audit::RecordParser parser;
  // Reads every record of `files` into `fn`; returns the exit code.
  template <class Fn>
  int read(const std::vector<std::string>& files, Fn&& fn) {
    std::string why = audit::readTrailLines(
        files,
        [&](const std::string&, std::string_view line) {
          // Any JSON object is listed: `audit verify` is the judge of what a record must hold.
          audit::ParsedLine parsed = parser.parse(line, /*requireHeader=*/false);
          if (!parsed) {
            ++notRecords;
            return;
          }
          ++records;
          fn(fields(*parsed.record), line);
        },
        &tooLong);
    if (notRecords + tooLong > 0) {
      fmt::print(stderr,
                 "bulkwarden: skipped {} line(s) that are not audit records ({} too long); "
                 "`bulkwarden audit verify` says what is wrong\n",
                 notRecords + tooLong, tooLong);
    }
    if (!why.empty()) {
      fmt::print(stderr, "bulkwarden: {}\n", log::outside(why, 4096));
      return kExitNoInput;
    }
    return kExitOk;
  }
};

int show(const Query& q, const std::vector<std::string>& files) {
  Reader reader;
  return reader.read(files, [&](const Record& r, std::string_view line) {
    if (!matches(q, r)) return;
    if (q.format == "json") {
      // The record as written, escaped as every line from outside is (a valid record holds no
      // raw control character, so a well-formed trail prints unchanged).
      fmt::print("{}\n", log::escapeControl(line));
    } else {
      fmt::print("{} {} org={} policy={} action={} job={} outcome={}{}\n", shown(r.ts),
                 shown(r.type), shown(r.org), shown(r.policy), shown(r.action), shown(r.job),
                 shown(r.outcome), r.error.empty() ? "" : " error=" + shown(r.error));
    }
  });
}

int summary(const Query& q, const std::vector<std::string>& files) {
  using Key = std::tuple<std::string, std::string, std::string, std::string>;
  std::map<Key, int64_t> actions;  // org, policy, action, outcome
  std::map<Key, int64_t> held;     // org, policy, action, reason
  int64_t passes = 0, errors = 0;
  auto bump = [](std::map<Key, int64_t>& m, Key k, int64_t n) {
    if (m.size() >= kMaxGroups && !m.count(k)) k = Key{"(other)", "(other)", "(other)", "(other)"};
    m[k] += n;
  };
  auto cap = [](const std::string& s) { return log::outside(s, 256); };
  Reader reader;
  int code = reader.read(files, [&](const Record& r, std::string_view) {
    if (!matches(q, r)) return;
    using audit::RecordType;
    if (r.is(RecordType::RunStart)) ++passes;
    if (r.is(RecordType::Result) ||
        (r.is(RecordType::Decision) && r.outcome == audit::toString(audit::Outcome::Recorded))) {
      bump(actions, Key{cap(r.org), cap(r.policy), cap(r.action), cap(r.outcome)}, 1);
      if (r.outcome == audit::toString(audit::Outcome::Failed) ||
          r.outcome == audit::toString(audit::Outcome::Unknown)) {
        ++errors;
      }
    }
    if (r.is(RecordType::Held)) {
      int64_t n = 0;
      try {
        n = r.obj->has("count") ? r.obj->getValue<int64_t>("count") : 0;
      } catch (const Poco::Exception&) {
      }
      if (n > 0) bump(held, Key{cap(r.org), cap(r.policy), cap(r.action), cap(r.error)}, n);
    }
  });
  if (code != kExitOk) return code;
  if (q.format == "json") {
    Poco::JSON::Object root;
    if (q.since) root.set("since", model::formatRfc3339(*q.since));
    root.set("records", static_cast<Poco::Int64>(reader.records));
    root.set("passes", static_cast<Poco::Int64>(passes));
    root.set("errors", static_cast<Poco::Int64>(errors));
    Poco::JSON::Array a, h;
    for (const auto& [k, n] : actions) {
      Poco::JSON::Object o;
      o.set("org", std::get<0>(k));
      o.set("policy", std::get<1>(k));
      o.set("action", std::get<2>(k));
      o.set("outcome", std::get<3>(k));
      o.set("count", static_cast<Poco::Int64>(n));
      a.add(o);
    }
    for (const auto& [k, n] : held) {
      Poco::JSON::Object o;
      o.set("org", std::get<0>(k));
      o.set("policy", std::get<1>(k));
      o.set("action", std::get<2>(k));
      o.set("reason", std::get<3>(k));
      o.set("count", static_cast<Poco::Int64>(n));
      h.add(o);
    }
    root.set("actions", a);
    root.set("held", h);
    std::ostringstream out;
    root.stringify(out);
    fmt::print("{}\n", out.str());
    return kExitOk;
  }
  fmt::print("{} record(s){}; {} pass(es); {} error(s)\n", reader.records,
             q.since ? " since " + model::formatRfc3339(*q.since) : "", passes, errors);
  if (!actions.empty()) fmt::print("actions (org policy action outcome: count):\n");
  for (const auto& [k, n] : actions) {
    fmt::print("  {} {} {} {}: {}\n", std::get<0>(k), std::get<1>(k), std::get<2>(k),
               std::get<3>(k), n);
  }
  if (!held.empty()) fmt::print("held back (org policy action: count, why):\n");
  for (const auto& [k, n] : held) {
    fmt::print("  {} {} {}: {} ({})\n", std::get<0>(k), std::get<1>(k), std::get<2>(k), n,
               std::get<3>(k));
  }
  return kExitOk;
}

}  // namespace

int auditQueryCommand(const std::string& sub, const std::vector<std::string>& args) {
  Query q;
  bool isShow = sub == "show";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    std::string name = a, value;
    bool inline_ = false;
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      inline_ = true;
    }
    auto takeValue = [&]() -> bool {
      if (inline_) return true;
      if (i + 1 >= args.size()) return false;
      value = args[++i];
      return true;
    };
    if (name.rfind("-", 0) != 0) {
      if (!q.file.empty()) return usage("audit " + sub + " takes one FILE");
      q.file = a;
      continue;
    }
    bool showOnly = name == "--job" || name == "--policy" || name == "--org" || name == "--outcome";
    bool known =
        showOnly || name == "--config" || name == "-c" || name == "--since" || name == "--format";
    if (!known || (showOnly && !isShow)) {
      return usage(fmt::format("unknown option '{}' for `audit {}`", log::outside(name), sub));
    }
    if (!takeValue()) return usage(name + " needs a value");
    if (name == "--config" || name == "-c") {
      q.config = value;
    } else if (name == "--job") {
      if (!validJobId(value)) {
        return usage(fmt::format("--job '{}': a job id has 15 or 18 letters and digits",
                                 log::outside(value)));
      }
      q.job = value;
    } else if (name == "--policy") {
      q.policy = value;
    } else if (name == "--org") {
      q.org = value;
    } else if (name == "--outcome") {
      if (!audit::parseOutcome(value)) {
        std::string names;
        for (auto o : audit::kOutcomes)
          names += (names.empty() ? "" : ", ") + std::string(audit::toString(o));
        return usage(
            fmt::format("--outcome '{}': not an outcome ({})", log::outside(value), names));
      }
      q.outcome = value;
    } else if (name == "--format") {
      if (value != "text" && value != "json") {
        return usage(fmt::format("--format '{}': text or json", log::outside(value)));
      }
      q.format = value;
    } else if (name == "--since") {
      if (auto t = model::parseTimestamp(value)) {
        q.since = *t;
      } else if (auto d = model::parseDuration(value); d && d->count() >= 0) {
        q.since = std::chrono::time_point_cast<model::Timestamp::duration>(
            std::chrono::system_clock::now() - *d);
      } else {
        return usage(fmt::format(
            "--since '{}': a duration such as 24h or 7d, or a time such as 2026-12-01T00:00:00Z",
            log::outside(value)));
      }
    }
  }
  if (q.config && !q.file.empty()) return usage("give FILE or --config FILE, not both");
  if (!q.config && q.file.empty()) return usage("audit " + sub + " needs FILE or --config FILE");
  std::vector<std::string> files;
  cluster::TempTrail shared;
  if (auto code = resolveFiles(q, files, shared)) return *code;
  return isShow ? show(q, files) : summary(q, files);
}

}  // namespace bulkwarden::app
