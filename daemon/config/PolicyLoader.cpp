#include "config/PolicyLoader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <variant>

#include "policy/Glob.h"
#include "policy/Regex.h"

namespace bulkwarden::config {
namespace {

using model::JobField;
using model::JobState;
using policy::Filter;
using policy::Op;

const std::vector<std::string_view> kPolicyKeys = {
    "name",   "description", "resource", "orgs",   "mode",   "schedule", "filters",
    "action", "windows",     "limits",   "exempt", "notify", "job-types"};
const std::vector<std::string_view> kScheduleKeys = {"every", "cron", "timezone",
                                                     "starting-deadline"};
const std::vector<std::string_view> kWindowsKeys = {"allow", "deny", "timezone"};
const std::vector<std::string_view> kWindowKeys = {"days", "from", "to"};
const std::vector<std::string_view> kLimitsKeys = {"max-actions", "max-percent", "on-limit"};
const std::vector<std::string_view> kExemptKeys = {"job", "createdById", "object", "until",
                                                   "reason"};
const std::vector<std::string_view> kOlderThanKeys = {"field", "age"};

constexpr auto kMinEvery = std::chrono::seconds(1);
constexpr auto kMinStartingDeadline = std::chrono::minutes(1);
constexpr auto kMaxEvery = std::chrono::days(7);

const std::vector<std::string_view>& filterKeys() {
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> k = {"state", "older-than", "in-state-for", "not", "or", "and"};
    for (JobField f : model::kAllJobFields) {
      if (f != JobField::State) k.push_back(model::fieldName(f));
    }
    return k;
  }();
  return keys;
}

const std::vector<std::string_view>& stateNames() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> n;
    for (JobState s : model::kAllJobStates) n.push_back(model::toString(s));
    return n;
  }();
  return names;
}

const std::vector<std::string_view>& opNames() {
  static const std::vector<std::string_view> names = {"eq",   "ne", "in", "not-in", "regex",
                                                      "glob", "gt", "ge", "lt",     "le"};
  return names;
}

const char kDurationHint[] = "a number and a unit: 30s, 45m, 2h, 7d, 1w, or combined as 1h30m";
const char kTimestampHint[] = "write RFC 3339 with a zone, e.g. 2026-01-31T00:00:00Z";

uint32_t bit(JobState s) { return 1u << static_cast<unsigned>(s); }

bool validName(std::string_view name) {
  if (name.empty() || name.size() > 100) return false;
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; };
  return name[0] != '-' && std::all_of(name.begin(), name.end(), ok);
}

std::string nameList(const std::vector<std::string_view>& names) {
  return fmt::format("{}", fmt::join(names, ", "));
}

// One policy's filters; knows the resource so it can refuse states the resource never has.
class FilterParser {
 public:
  FilterParser(DiagnosticSink& sink, std::optional<model::ResourceKind> resource)
      : sink_(sink), resource_(resource) {}

  // A list of entries -> Kind::All (or Any); nullopt after reporting.
  std::optional<Filter> entryList(const YAML::Node& node, Filter::Kind kind, std::string_view key) {
    if (!node.IsSequence()) {
      sink_.error(node,
                  fmt::format("expected a list of filters for '{}', got {}", key, kindName(node)));
      return std::nullopt;
    }
    if (node.size() == 0) {
      sink_.error(node, fmt::format("'{}' needs at least one filter", key));
      return std::nullopt;
    }
    Filter f;
    f.kind = kind;
    f.where = sink_.at(node);
    bool ok = true;
    for (const YAML::Node& item : node) {
      if (auto child = entry(item)) {
        f.children.push_back(std::move(*child));
      } else {
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return f;
  }

  // One single-key map: `state: ...`, `older-than: ...`, `not: ...`, `<field>: ...`.
  std::optional<Filter> entry(const YAML::Node& node) {
    if (!node.IsMap()) {
      sink_.error(node, fmt::format("expected a filter such as {{ state: InProgress }}, got {}",
                                    kindName(node)));
      return std::nullopt;
    }
    if (node.size() != 1) {
      if (node.size() == 0) {
        sink_.error(node, "empty filter", "write a filter such as { state: InProgress }");
      } else {
        std::vector<std::string> keys;
        for (auto it = node.begin(); it != node.end(); ++it) {
          keys.push_back(it->first.IsScalar() ? it->first.Scalar() : "?");
        }
        sink_.error(node,
                    fmt::format("a filter entry has exactly one key; this one has {} ({})",
                                keys.size(), fmt::join(keys, ", ")),
                    "start each filter on its own '- ' line, or group them under 'and:'");
      }
      return std::nullopt;
    }
    // Copies: `it->first` is a proxy that dies at the end of the statement.
    auto it = node.begin();
    const YAML::Node keyNode = it->first;
    const YAML::Node value = it->second;
    if (!keyNode.IsScalar()) {
      sink_.error(keyNode, fmt::format("a filter key must be a name, got {}", kindName(keyNode)));
      return std::nullopt;
    }
    const std::string key = keyNode.Scalar();
    sink_.noteEmptyValue(value, keyNode.Mark());
    std::optional<Filter> f;
    if (key == "state") {
      f = state(value);
    } else if (key == "older-than") {
      f = olderThan(value);
    } else if (key == "not") {
      f = negation(value);
    } else if (key == "or") {
      f = entryList(value, Filter::Kind::Any, key);
    } else if (key == "and") {
      f = entryList(value, Filter::Kind::All, key);
    } else if (key == "in-state-for") {
      if (auto d = duration(value)) {
        f.emplace();
        f->kind = Filter::Kind::InStateFor;
        f->age = *d;
      }
    } else if (auto field = model::parseFieldName(key)) {
      f = fieldFilter(*field, keyNode, value);
    } else {
      sink_.error(keyNode, fmt::format("unknown filter '{}'", key), keyHint(key, filterKeys()));
    }
    if (f) f->where = sink_.at(keyNode);
    return f;
  }

 private:
  std::optional<Filter> negation(const YAML::Node& value) {
    std::optional<Filter> child;
    if (value.IsMap()) {
      child = entry(value);
    } else if (value.IsSequence()) {
      child = entryList(value, Filter::Kind::All, "not");
    } else {
      sink_.error(value, fmt::format("expected a filter or a list of filters for 'not', got {}",
                                     kindName(value)));
    }
    if (!child) return std::nullopt;
    Filter f;
    f.kind = Filter::Kind::Not;
    f.children.push_back(std::move(*child));
    return f;
  }

  // One state name -> its bit, refusing states the policy's resource never has.
  std::optional<uint32_t> stateBit(const YAML::Node& node) {
    auto text = scalarText(node, sink_, "a state");
    if (!text) return std::nullopt;
    auto s = model::parseJobState(*text);
    if (!s) {
      std::string hint;
      if (auto c = closest(*text, stateNames())) {
        hint = fmt::format("did you mean '{}'?", *c);
      } else {
        hint = "states: " + nameList(stateNames());
      }
      sink_.error(node, fmt::format("unknown state '{}'", *text), hint);
      return std::nullopt;
    }
    if (*s == JobState::Open && resource_ == model::ResourceKind::Query) {
      sink_.error(node, "query jobs are never Open",
                  "Open exists only for ingest jobs; a query job starts UploadComplete");
      return std::nullopt;
    }
    return bit(*s);
  }

  // A state or a list of states -> a mask.
  std::optional<uint32_t> stateSet(const YAML::Node& node) {
    if (node.IsSequence()) {
      if (node.size() == 0) {
        sink_.error(node, "empty list of states");
        return std::nullopt;
      }
      uint32_t mask = 0;
      bool ok = true;
      for (const YAML::Node& item : node) {
        if (auto b = stateBit(item)) {
          mask |= *b;
        } else {
          ok = false;
        }
      }
      if (!ok) return std::nullopt;
      return mask;
    }
    if (!node.IsScalar()) {
      sink_.error(node,
                  fmt::format("expected a state or a list of states, got {}", kindName(node)));
      return std::nullopt;
    }
    return stateBit(node);
  }

  std::optional<Filter> state(const YAML::Node& value) {
    Filter f;
    f.kind = Filter::Kind::State;
    if (!value.IsMap()) {
      auto mask = stateSet(value);
      if (!mask) return std::nullopt;
      f.stateMask = *mask;
      return f;
    }
    // Operator map: eq/in keep the listed states, ne/not-in the others; several must all hold.
    uint32_t all = 0;
    for (JobState s : model::kAllJobStates) all |= bit(s);
    uint32_t mask = all;
    bool ok = value.size() > 0;
    if (!ok) sink_.error(value, "expected a state or a list of states, got an empty map");
    for (auto it = value.begin(); it != value.end(); ++it) {
      std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
      auto op = policy::parseOp(key);
      if (!op || (*op != Op::Eq && *op != Op::Ne && *op != Op::In && *op != Op::NotIn)) {
        sink_.error(it->first, fmt::format("operator '{}' is not available for state", key),
                    "use eq, ne, in or not-in, or just a state or a list of states");
        ok = false;
        continue;
      }
      if ((*op == Op::Eq || *op == Op::Ne) && !it->second.IsScalar()) {
        sink_.error(it->second,
                    fmt::format("expected a state for '{}', got {}", key, kindName(it->second)),
                    it->second.IsSequence() ? "use in: or not-in: for a list" : "");
        ok = false;
        continue;
      }
      auto m = stateSet(it->second);
      if (!m) {
        ok = false;
        continue;
      }
      mask &= (*op == Op::Eq || *op == Op::In) ? *m : (all & ~*m);
    }
    if (!ok) return std::nullopt;
    f.stateMask = mask;
    return f;
  }

  std::optional<model::Duration> duration(const YAML::Node& node) {
    if (!node.IsScalar()) {
      sink_.error(node, fmt::format("expected a duration such as 30m, got {}", kindName(node)));
      return std::nullopt;
    }
    auto text = scalarText(node, sink_, "a duration such as 30m");
    if (!text) return std::nullopt;
    auto d = model::parseDuration(*text);
    if (!d) sink_.error(node, fmt::format("bad duration '{}'", *text), kDurationHint);
    return d;
  }

  std::optional<Filter> olderThan(const YAML::Node& value) {
    Filter f;
    f.kind = Filter::Kind::OlderThan;
    f.timeField = JobField::CreatedDate;
    if (value.IsScalar()) {
      auto d = duration(value);
      if (!d) return std::nullopt;
      f.age = *d;
      return f;
    }
    if (!value.IsMap()) {
      sink_.error(value,
                  fmt::format("expected a duration such as 30m, or {{ field: createdDate, age: "
                              "30m }}, got {}",
                              kindName(value)));
      return std::nullopt;
    }
    size_t before = sink_.count();
    MapView m(value, sink_, "older-than", kOlderThanKeys);
    if (const auto* e = m.find("field")) {
      if (auto text = scalarText(e->value, sink_, "createdDate or systemModstamp")) {
        auto field = model::parseFieldName(*text);
        if (!field || !model::isTimeField(*field)) {
          sink_.error(
              e->value,
              fmt::format("older-than works on createdDate or systemModstamp, not '{}'", *text));
        } else {
          f.timeField = *field;
        }
      }
    }
    if (const auto* e = m.require("age")) {
      if (auto d = duration(e->value)) f.age = *d;
    }
    if (sink_.count() != before) return std::nullopt;
    return f;
  }

  // One operand: text, or for a time field a timestamp too.
  bool operand(JobField field, const YAML::Node& node, Filter& f, std::string_view what) {
    auto text = scalarText(node, sink_, what);
    if (!text) return false;
    if (model::isTimeField(field)) {
      auto t = model::parseTimestamp(*text);
      if (!t) {
        sink_.error(node, fmt::format("bad timestamp '{}' for {}", *text, model::fieldName(field)),
                    kTimestampHint);
        return false;
      }
      f.times.push_back(*t);
    }
    f.values.push_back(*text);
    return true;
  }

  bool operandList(JobField field, const YAML::Node& node, Filter& f, std::string_view key) {
    if (node.IsScalar()) return operand(field, node, f, "a value");
    if (!node.IsSequence()) {
      sink_.error(node, fmt::format("expected a value or a list of values for '{}', got {}", key,
                                    kindName(node)));
      return false;
    }
    if (node.size() == 0) {
      sink_.error(node, fmt::format("empty list for '{}'", key));
      return false;
    }
    bool ok = true;
    for (const YAML::Node& item : node) ok = operand(field, item, f, "a value") && ok;
    return ok;
  }

  std::optional<Filter> fieldOp(JobField field, Op op, const YAML::Node& opNode,
                                const YAML::Node& value) {
    Filter f;
    f.kind = Filter::Kind::Field;
    f.field = field;
    f.op = op;
    f.where = sink_.at(opNode);
    std::string_view name = model::fieldName(field);
    std::string_view opName = policy::toString(op);
    if (op == Op::In || op == Op::NotIn) {
      if (!operandList(field, value, f, opName)) return std::nullopt;
      return f;
    }
    if ((op == Op::Regex || op == Op::Glob) && model::isTimeField(field)) {
      sink_.error(opNode, fmt::format("'{}' is not available for {} (a timestamp)", opName, name),
                  "compare timestamps with gt, ge, lt, le, or use older-than");
      return std::nullopt;
    }
    if (!value.IsScalar()) {
      sink_.error(value, fmt::format("expected a value for '{}', got {}", opName, kindName(value)),
                  value.IsSequence() && (op == Op::Eq || op == Op::Ne)
                      ? "use in: or not-in: for a list"
                      : "");
      return std::nullopt;
    }
    if (!operand(field, value, f, "a value")) return std::nullopt;
    if (op == Op::Regex) {
      // RE2, not PCRE: linear time whatever the pattern; what RE2 cannot run is refused here.
      auto compiled = policy::Regex::compile(f.values[0]);
      if (auto* err = std::get_if<policy::Regex::Error>(&compiled)) {
        sink_.error(value, std::move(err->message), std::move(err->hint));
        return std::nullopt;
      }
      f.regex = std::get<std::shared_ptr<const policy::Regex>>(std::move(compiled));
    } else if (op == Op::Glob) {
      if (auto err = policy::globError(f.values[0])) {
        sink_.error(value, fmt::format("bad glob '{}': {}", f.values[0], *err));
        return std::nullopt;
      }
    }
    return f;
  }

  std::optional<Filter> fieldFilter(JobField field, const YAML::Node& keyNode,
                                    const YAML::Node& value) {
    if (value.IsScalar()) return fieldOp(field, Op::Eq, keyNode, value);
    if (value.IsSequence()) return fieldOp(field, Op::In, keyNode, value);
    if (!value.IsMap()) {
      sink_.error(value,
                  fmt::format("expected a value, a list or an operator map such as {{ regex: "
                              "\"^Acc\" }} for {}, got {}",
                              model::fieldName(field), kindName(value)));
      return std::nullopt;
    }
    if (value.size() == 0) {
      sink_.error(value, fmt::format("empty operator map for {}", model::fieldName(field)),
                  "operators: " + nameList(opNames()));
      return std::nullopt;
    }
    std::vector<Filter> parts;
    bool ok = true;
    for (auto it = value.begin(); it != value.end(); ++it) {
      std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
      auto op = policy::parseOp(key);
      if (!op) {
        std::string hint = "operators: " + nameList(opNames());
        if (auto c = closest(key, opNames())) hint = fmt::format("did you mean '{}'?", *c);
        sink_.error(it->first, fmt::format("unknown operator '{}'", key), hint);
        ok = false;
        continue;
      }
      if (auto f = fieldOp(field, *op, it->first, it->second)) {
        parts.push_back(std::move(*f));
      } else {
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    if (parts.size() == 1) return std::move(parts[0]);
    Filter all;
    all.kind = Filter::Kind::All;
    all.children = std::move(parts);
    return all;
  }

  DiagnosticSink& sink_;
  std::optional<model::ResourceKind> resource_;
};

// The zone names of the system tz database, for did-you-mean: the files under $TZDIR (default
// /usr/share/zoneinfo), without the posix/ and right/ copies. Bounded: a tz database has about
// 600 names; a directory that holds more than kMaxZoneNames entries is not one.
std::vector<std::string> zoneNames() {
  constexpr size_t kMaxZoneNames = 4000;
  const char* env = std::getenv("TZDIR");
  std::filesystem::path dir(env && *env ? env : "/usr/share/zoneinfo");
  std::vector<std::string> names;
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(dir, ec), end;
  size_t seen = 0;
  for (; !ec && it != end && ++seen <= kMaxZoneNames; it.increment(ec)) {
    std::string rel = it->path().lexically_relative(dir).string();
    if (it.depth() == 0 && (rel == "posix" || rel == "right")) {
      it.disable_recursion_pending();
      continue;
    }
    if (rel.empty() || !std::isupper(static_cast<unsigned char>(rel[0]))) continue;
    std::error_code typeError;
    if (it->is_regular_file(typeError)) names.push_back(std::move(rel));
  }
  names.push_back("UTC");
  return names;
}

// "did you mean Europe/Paris?" for a zone name one or two typos away from a real one.
std::string zoneHint(const std::string& name) {
  auto names = zoneNames();
  std::vector<std::string_view> candidates(names.begin(), names.end());
  std::optional<std::string_view> best;
  size_t bestDistance = 0;
  for (std::string_view c : candidates) {
    size_t d = editDistance(name, c);
    if (!best || d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  if (best && bestDistance <= std::max<size_t>(2, name.size() / 5)) {
    return fmt::format("did you mean {}?", *best);
  }
  return "an IANA name such as Europe/Paris, America/New_York or UTC (see /usr/share/zoneinfo)";
}

// "did you mean fri?" for the first word of a days list that is not a day name or number.
std::string daysHint(std::string_view text, std::string_view usage) {
  static const std::vector<std::string_view> kDayNames = {"sun", "mon", "tue", "wed",
                                                          "thu", "fri", "sat"};
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find_first_of(",-/", i);
    if (j == std::string_view::npos) j = text.size();
    std::string_view word = text.substr(i, j - i);
    bool known = word.empty() || word == "*" ||
                 std::all_of(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; });
    for (auto d : kDayNames) known = known || editDistance(word, d) == 0;
    if (!known && word.size() <= 16) {
      size_t bestDistance = 99;
      std::string_view best;
      for (auto d : kDayNames) {
        size_t dist = editDistance(word, d);
        if (dist < bestDistance) {
          bestDistance = dist;
          best = d;
        }
      }
      if (bestDistance <= 1 || (bestDistance <= 2 && word.size() > 3)) {
        return fmt::format("did you mean {}?", best);
      }
    }
    i = j + 1;
  }
  return std::string(usage);
}

std::shared_ptr<const policy::TimeZone> zoneAt(const YAML::Node& node, DiagnosticSink& sink) {
  auto name = scalarText(node, sink, "an IANA time zone such as Europe/Paris");
  if (!name) return nullptr;
  std::string why;
  auto zone = policy::TimeZone::load(*name, &why);
  if (!zone) {
    sink.error(node, fmt::format("bad time zone '{}': {}", *name, why), zoneHint(*name));
  }
  return zone;
}

void loadSchedule(const YAML::Node& node, DiagnosticSink& sink, policy::Schedule& schedule) {
  MapView s(node, sink, "a schedule such as { every: 5m } or { cron: \"*/5 * * * *\" }",
            kScheduleKeys);
  if (!s.ok()) return;
  const auto* every = s.find("every");
  const auto* cron = s.find("cron");
  const auto* tz = s.find("timezone");
  const auto* deadline = s.find("starting-deadline");
  if (every && cron) {
    sink.error(cron->keyNode, "a schedule has either 'every' or 'cron', not both",
               "{ every: 5m } or { cron: \"*/5 * * * *\", timezone: Europe/Paris }");
    return;
  }
  if (!every && !cron) {
    sink.error(node, "a schedule needs 'every' or 'cron'",
               "e.g. { every: 5m } or { cron: \"*/5 * * * *\", timezone: Europe/Paris }");
    return;
  }
  if (every) {
    if (tz) {
      sink.error(tz->keyNode, "'timezone' goes with 'cron', not 'every'",
                 "an 'every' schedule is a fixed interval, the same in every zone");
    }
    if (deadline) {
      sink.error(deadline->keyNode, "'starting-deadline' goes with 'cron', not 'every'",
                 "an 'every' schedule never skips: a missed tick runs at once");
    }
    if (auto text = scalarText(every->value, sink, "a duration such as 5m")) {
      auto d = model::parseDuration(*text);
      if (!d) {
        sink.error(every->value, fmt::format("bad duration '{}'", *text), kDurationHint);
      } else if (*d < kMinEvery || *d > kMaxEvery) {
        sink.error(every->value, fmt::format("schedule every {} is out of range", *text),
                   "from 1s to 7d");
      } else {
        schedule.every = *d;
      }
    }
    return;
  }
  if (auto text = scalarText(cron->value, sink, "a cron expression such as \"*/5 * * * *\"")) {
    std::string why;
    auto c = policy::Cron::parse(*text, &why);
    if (!c) {
      // A misspelt day name is the usual mistake in the last field: "0 2 * * mon-fry".
      std::string hint =
          "five fields: minute hour day-of-month month day-of-week, e.g. \"*/5 * * * *\"";
      if (auto lastSpace = text->find_last_of(' '); lastSpace != std::string::npos) {
        hint = daysHint(std::string_view(*text).substr(lastSpace + 1), hint);
      }
      sink.error(cron->value, fmt::format("bad cron '{}': {}", *text, why), hint);
    } else if (!c->next(model::Timestamp{}, *policy::TimeZone::utc())) {
      sink.error(cron->value, fmt::format("cron '{}' never fires", *text),
                 "check the day-of-month against the month (e.g. there is no 30 February)");
    } else {
      schedule.cron = std::move(*c);
    }
  }
  schedule.zone = tz ? zoneAt(tz->value, sink) : policy::TimeZone::utc();
  if (deadline) {
    if (auto text = scalarText(deadline->value, sink, "a duration such as 1h")) {
      auto d = model::parseDuration(*text);
      if (!d) {
        sink.error(deadline->value, fmt::format("bad duration '{}'", *text), kDurationHint);
      } else if (*d < kMinStartingDeadline || *d > kMaxEvery) {
        sink.error(deadline->value, fmt::format("starting-deadline {} is out of range", *text),
                   "from 1m (a pass at a fire time may start a few seconds late) to 7d");
      } else {
        schedule.startingDeadline = *d;
      }
    }
  }
}

std::optional<int> clockTime(const YAML::Node& node, DiagnosticSink& sink) {
  auto text = scalarText(node, sink, "a time of day such as \"08:00\"");
  if (!text) return std::nullopt;
  const std::string& t = *text;
  bool shape = t.size() == 5 && t[2] == ':' && std::isdigit(static_cast<unsigned char>(t[0])) &&
               std::isdigit(static_cast<unsigned char>(t[1])) &&
               std::isdigit(static_cast<unsigned char>(t[3])) &&
               std::isdigit(static_cast<unsigned char>(t[4]));
  int h = shape ? (t[0] - '0') * 10 + (t[1] - '0') : -1;
  int m = shape ? (t[3] - '0') * 10 + (t[4] - '0') : -1;
  if (t == "24:00") return 24 * 60;
  if (!shape || h > 23 || m > 59) {
    sink.error(node, fmt::format("bad time of day '{}'", t), "HH:MM from 00:00 to 24:00, quoted");
    return std::nullopt;
  }
  return h * 60 + m;
}

void loadWindowList(const YAML::Node& node, DiagnosticSink& sink,
                    std::vector<policy::Window>& out) {
  if (!node.IsSequence() || node.size() == 0) {
    sink.error(node, fmt::format("expected a list of windows, got {}", kindName(node)),
               "e.g. [ { days: mon-fri, from: \"08:00\", to: \"18:00\" } ]");
    return;
  }
  for (const YAML::Node& item : node) {
    MapView w(item, sink, "a window such as { days: mon-fri, from: \"08:00\", to: \"18:00\" }",
              kWindowKeys);
    if (!w.ok()) continue;
    policy::Window win;
    win.where = sink.at(item);
    win.days.set();
    bool ok = true;
    if (const auto* d = w.find("days")) {
      if (auto text = scalarText(d->value, sink, "days such as mon-fri")) {
        std::string why;
        auto days = policy::parseDays(*text, &why);
        if (!days) {
          sink.error(d->value, fmt::format("bad days '{}': {}", *text, why),
                     daysHint(*text,
                              "names or numbers 0-7 (sun = 0 or 7), lists and ranges: "
                              "mon-fri, sat,sun"));
          ok = false;
        } else {
          win.days = *days;
        }
      } else {
        ok = false;
      }
    }
    const auto* from = w.require("from");
    const auto* to = w.require("to");
    // Plain ints rather than optionals: GCC 12 at -O2 misreads the optionals here as maybe
    // uninitialised.
    int fromMinute = -1;
    int toMinute = -1;
    if (from) {
      if (auto v = clockTime(from->value, sink)) fromMinute = *v;
    }
    if (to) {
      if (auto v = clockTime(to->value, sink)) toMinute = *v;
    }
    if (fromMinute < 0 || toMinute < 0) continue;
    if (fromMinute == toMinute) {
      sink.error(to->value, "a window from and to the same time is empty",
                 "use 00:00 to 24:00 for a whole day");
      continue;
    }
    win.from = fromMinute;
    win.to = toMinute == 24 * 60 && fromMinute > 0 ? 24 * 60 : toMinute;
    if (ok) out.push_back(win);
  }
}

void loadWindows(const YAML::Node& node, DiagnosticSink& sink, policy::Windows& windows) {
  MapView m(node, sink, "windows such as { allow: [...], timezone: Europe/Paris }", kWindowsKeys);
  if (!m.ok()) return;
  if (const auto* e = m.find("allow")) loadWindowList(e->value, sink, windows.allow);
  if (const auto* e = m.find("deny")) loadWindowList(e->value, sink, windows.deny);
  if (!m.find("allow") && !m.find("deny")) {
    sink.error(node, "windows need 'allow' or 'deny'",
               "e.g. { allow: [ { days: mon-fri, from: \"08:00\", to: \"18:00\" } ] }");
  }
  windows.zone = policy::TimeZone::utc();
  if (const auto* e = m.find("timezone")) windows.zone = zoneAt(e->value, sink);
}

void loadLimits(const YAML::Node& node, DiagnosticSink& sink, policy::Limits& limits) {
  MapView m(node, sink, "limits such as { max-actions: 100, max-percent: 25 }", kLimitsKeys);
  if (!m.ok()) return;
  if (node.size() == 0) sink.error(node, "empty limits", "max-actions and/or max-percent");
  if (const auto* e = m.find("max-actions")) {
    if (auto text = scalarText(e->value, sink, "a whole number")) {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
      if (ec != std::errc() || ptr != text->data() + text->size() || v < 0) {
        sink.error(e->value, fmt::format("bad max-actions '{}'", *text),
                   "a whole number >= 0 (0: never act)");
      } else {
        limits.maxActions = v;
      }
    }
  }
  if (const auto* e = m.find("max-percent")) {
    if (auto text = scalarText(e->value, sink, "a percentage")) {
      std::string t = *text;
      if (!t.empty() && t.back() == '%') t.pop_back();
      char* end = nullptr;
      double v = std::strtod(t.c_str(), &end);
      if (t.empty() || end != t.c_str() + t.size() || !(v >= 0 && v <= 100)) {
        sink.error(e->value, fmt::format("bad max-percent '{}'", *text), "a number from 0 to 100");
      } else {
        limits.maxPercent = v;
      }
    }
  }
  if (const auto* e = m.find("on-limit")) {
    if (auto text = scalarText(e->value, sink, "hold or cap")) {
      if (*text == "hold") {
        limits.onLimit = policy::Limits::OnLimit::Hold;
      } else if (*text == "cap") {
        limits.onLimit = policy::Limits::OnLimit::Cap;
      } else {
        sink.error(e->value, fmt::format("bad on-limit '{}'", *text),
                   "hold (act on nothing over a limit) or cap (act on the oldest up to it)");
      }
    }
    if (!m.find("max-actions") && !m.find("max-percent")) {
      sink.error(e->keyNode, "on-limit without a limit", "add max-actions and/or max-percent");
    }
  }
}

// Policies that can never match, or whose action can never succeed, are errors: an admin who
// wrote them meant something else.
void checkCanMatch(const policy::Policy& p, DiagnosticSink& sink) {
  constexpr uint32_t kAll = (1u << 6) - 1;
  auto bit = [](JobState s) { return 1u << static_cast<unsigned>(s); };
  // States a job can be in, as far as the top-level state filters say.
  uint32_t possible = kAll;
  if (p.resource == model::ResourceKind::Query) possible &= ~bit(JobState::Open);
  const Filter* lastState = nullptr;
  for (const Filter& f : p.filter.children) {
    if (f.kind == Filter::Kind::State) {
      possible &= f.stateMask;
      lastState = &f;
    }
  }
  if (lastState && possible == 0) {
    sink.error(lastState->where, "these state filters contradict each other: no job can match",
               "a job has one state; list the states in one 'state:' filter");
    return;
  }
  uint32_t terminal = bit(JobState::JobComplete) | bit(JobState::Failed) | bit(JobState::Aborted);
  if (lastState && p.action == policy::Action::Delete && (possible & terminal) == 0) {
    sink.error(lastState->where, "delete only works on finished jobs; these states never are",
               "delete jobs in JobComplete, Failed or Aborted; abort running ones");
  }
  if (lastState && p.action == policy::Action::Abort && (possible & ~terminal) == 0) {
    sink.error(lastState->where, "abort only works on unfinished jobs; these states are final",
               "abort jobs in Open, UploadComplete or InProgress; delete finished ones");
  }
}

// `job-types: [V2Query, Classic]` (query-jobs) or `[V2Ingest, Classic]` (ingest-jobs): a name or
// a list. Needs the resource (nullopt: it had an error, reported already).
void loadJobTypes(const YAML::Node& v, DiagnosticSink& sink,
                  std::optional<model::ResourceKind> resource, policy::Policy& p) {
  p.jobTypesWhere = sink.at(v);
  std::vector<YAML::Node> items;
  if (v.IsScalar()) {
    items.push_back(v);
  } else if (v.IsSequence() && v.size() > 0) {
    for (const YAML::Node& item : v) items.push_back(item);
  } else {
    sink.error(v, fmt::format("expected a list of job types, got {}", kindName(v)),
               "e.g. [V2Query, Classic]; omit job-types for the 2.0 jobs only");
    return;
  }
  if (!resource) return;
  const std::string_view v2 = *resource == model::ResourceKind::Query ? "V2Query" : "V2Ingest";
  p.v2Jobs = false;
  p.classicJobs = false;
  for (const YAML::Node& item : items) {
    auto name = scalarText(item, sink, "a job type");
    if (!name) continue;
    if (*name == v2) {
      p.v2Jobs = true;
    } else if (*name == "Classic") {
      p.classicJobs = true;
    } else {
      std::string hint = fmt::format("{} takes {} and Classic (Bulk API 1.0 jobs)",
                                     model::resourceName(*resource), v2);
      if (auto c = closest(*name, {v2, "Classic"})) hint = fmt::format("did you mean '{}'?", *c);
      sink.error(item,
                 fmt::format("unknown job type '{}' for {}", *name, model::resourceName(*resource)),
                 hint);
    }
  }
}

void loadPolicy(const YAML::Node& node, DiagnosticSink& sink,
                const std::vector<std::string>* knownOrgs, PolicySet& set) {
  size_t before = sink.count();
  MapView m(node, sink, "a policy", kPolicyKeys);
  if (!m.ok()) return;
  policy::Policy p;
  p.where = sink.at(node);

  if (const auto* e = m.require("name")) {
    if (auto name = scalarText(e->value, sink, "a policy name")) {
      if (!validName(*name)) {
        sink.error(e->value, fmt::format("bad policy name '{}'", *name),
                   "lowercase letters, digits and '-', starting with a letter or digit, e.g. "
                   "abort-stuck-queries");
      } else if (auto prior = set.names.find(*name); prior != set.names.end()) {
        sink.error(e->value,
                   fmt::format("duplicate policy name '{}'; first defined at {}", *name,
                               prior->second.str()),
                   "policy names are unique across every policy file");
      } else {
        p.name = *name;
        set.names.emplace(*name, sink.at(e->value));
      }
    }
  }
  if (const auto* e = m.find("description")) {
    if (auto d = scalarText(e->value, sink, "a description")) p.description = *d;
  }
  std::optional<model::ResourceKind> resource;
  if (const auto* e = m.require("resource")) {
    if (auto text = scalarText(e->value, sink, "query-jobs or ingest-jobs")) {
      resource = model::parseResourceName(*text);
      if (!resource) {
        std::string hint = "query-jobs or ingest-jobs";
        if (auto c = closest(*text, {"query-jobs", "ingest-jobs"})) {
          hint = fmt::format("did you mean '{}'?", *c);
        }
        sink.error(e->value, fmt::format("unknown resource '{}'", *text), hint);
      } else {
        p.resource = *resource;
      }
    }
  }
  if (const auto* e = m.find("notify")) {
    // Names are checked against the config's notifications once both are loaded (loadConfig).
    const YAML::Node& v = e->value;
    std::vector<YAML::Node> items;
    if (v.IsScalar()) {
      items.push_back(v);
    } else if (v.IsSequence()) {
      for (const YAML::Node& item : v) items.push_back(item);
    } else {
      sink.error(v, fmt::format("expected a list of notification names, got {}", kindName(v)));
    }
    for (const YAML::Node& item : items) {
      auto name = scalarText(item, sink, "a notification name");
      if (!name || std::find(p.notify.begin(), p.notify.end(), *name) != p.notify.end()) continue;
      p.notify.push_back(*name);
      p.notifyWhere.push_back(sink.at(item));
    }
  }
  if (const auto* e = m.find("orgs")) {
    const YAML::Node& v = e->value;
    std::vector<YAML::Node> items;
    if (v.IsScalar()) {
      items.push_back(v);
    } else if (v.IsSequence()) {
      if (v.size() == 0) {
        sink.error(v, "empty list of orgs", "omit 'orgs' to apply the policy to every org");
      }
      for (const YAML::Node& item : v) items.push_back(item);
    } else {
      sink.error(v, fmt::format("expected a list of org names, got {}", kindName(v)));
    }
    for (const YAML::Node& item : items) {
      auto org = scalarText(item, sink, "an org name");
      if (!org) continue;
      if (knownOrgs && std::find(knownOrgs->begin(), knownOrgs->end(), *org) == knownOrgs->end()) {
        std::vector<std::string_view> known(knownOrgs->begin(), knownOrgs->end());
        std::string hint = knownOrgs->empty()
                               ? "the config defines no orgs"
                               : fmt::format("orgs in the config: {}", nameList(known));
        if (auto c = closest(*org, known)) hint = fmt::format("did you mean '{}'?", *c);
        sink.error(item, fmt::format("unknown org '{}'", *org), hint);
        continue;
      }
      if (std::find(p.orgs.begin(), p.orgs.end(), *org) == p.orgs.end()) p.orgs.push_back(*org);
    }
  }
  if (const auto* e = m.find("mode")) {
    if (auto text = scalarText(e->value, sink, "enforce or dry-run")) {
      if (auto mode = policy::parseMode(*text)) {
        p.mode = *mode;
      } else {
        sink.error(e->value, fmt::format("unknown mode '{}'", *text), "enforce or dry-run");
      }
    }
  }
  if (const auto* e = m.find("schedule")) loadSchedule(e->value, sink, p.schedule);
  if (const auto* e = m.find("windows")) loadWindows(e->value, sink, p.windows);
  if (const auto* e = m.find("limits")) loadLimits(e->value, sink, p.limits);
  if (const auto* e = m.find("exempt")) loadExempt(e->value, sink, p.exempt);
  if (const auto* e = m.require("filters")) {
    FilterParser fp(sink, resource);
    if (e->value.IsSequence() && e->value.size() == 0) {
      sink.error(e->value, "a policy needs at least one filter",
                 "a policy without filters would act on every job");
    } else if (auto f = fp.entryList(e->value, policy::Filter::Kind::All, "filters")) {
      p.filter = std::move(*f);
    }
  }
  if (const auto* e = m.require("action")) {
    if (auto text = scalarText(e->value, sink, "abort, delete or report")) {
      if (auto action = policy::parseAction(*text)) {
        p.action = *action;
      } else {
        std::string hint = "abort, delete or report";
        if (auto c = closest(*text, {"abort", "delete", "report"})) {
          hint = fmt::format("did you mean '{}'?", *c);
        }
        sink.error(e->value, fmt::format("unknown action '{}'", *text), hint);
      }
    }
  }
  if (const auto* e = m.find("job-types")) loadJobTypes(e->value, sink, resource, p);
  if (p.classicJobs && p.action == policy::Action::Delete) {
    sink.error(p.jobTypesWhere,
               "a delete policy cannot govern Classic jobs: Bulk API 1.0 jobs cannot be deleted "
               "through the API",
               "abort Classic jobs with their own policy, and leave Classic out of this one's "
               "job-types (Salesforce removes finished jobs after seven days)");
  }
  if (sink.count() == before) checkCanMatch(p, sink);
  if (sink.count() != before) return;
  if (set.policies.size() >= kMaxPolicies) {
    if (!set.tooMany) {
      sink.error(node, fmt::format("more than {} policies", kMaxPolicies),
                 "merge policies that differ only in their filters");
      set.tooMany = true;
    }
    return;
  }
  set.policies.push_back(std::move(p));
}

}  // namespace

void loadExempt(const YAML::Node& node, DiagnosticSink& sink, std::vector<policy::Exemption>& out) {
  if (!node.IsSequence()) {
    sink.error(node, fmt::format("expected a list of exemptions, got {}", kindName(node)),
               "e.g. [ { job: 750R0000000zlh9IAA, until: 2026-12-31T00:00:00Z, reason: export } ]");
    return;
  }
  for (const YAML::Node& item : node) {
    MapView m(item, sink, "an exemption such as { job: ID, reason: why }", kExemptKeys);
    if (!m.ok()) continue;
    policy::Exemption ex;
    ex.where = sink.at(item);
    int keys = 0;
    for (auto [key, by] : {std::pair{"job", policy::Exemption::By::Job},
                           std::pair{"createdById", policy::Exemption::By::CreatedById},
                           std::pair{"object", policy::Exemption::By::Object}}) {
      if (const auto* e = m.find(key)) {
        ++keys;
        if (auto v = scalarText(e->value, sink, "a value")) {
          ex.by = by;
          ex.value = *v;
        }
      }
    }
    if (keys != 1) {
      sink.error(item, "an exemption names exactly one of job, createdById or object",
                 "one exemption per job, creator or object, e.g. { job: 750..., reason: why }");
      continue;
    }
    if (const auto* e = m.find("until")) {
      if (auto v = scalarText(e->value, sink, "an RFC 3339 time")) {
        ex.until = model::parseTimestamp(*v);
        if (!ex.until) {
          sink.error(e->value, fmt::format("bad time '{}'", *v),
                     "RFC 3339 with a zone, e.g. 2026-12-31T00:00:00Z");
        }
      }
    }
    if (const auto* e = m.find("reason")) {
      if (auto v = scalarText(e->value, sink, "a reason")) ex.reason = *v;
    }
    out.push_back(std::move(ex));
  }
}

void warnDeleteQueued(const policy::Policy& p, std::vector<Diagnostic>& warnings) {
  if (p.action != policy::Action::Delete || p.resource != model::ResourceKind::Ingest ||
      !p.v2Jobs) {
    return;
  }
  // As checkCanMatch: the states the top-level state filters leave possible.
  uint32_t possible = ~0u;
  const Filter* lastState = nullptr;
  for (const Filter& f : p.filter.children) {
    if (f.kind == Filter::Kind::State) {
      possible &= f.stateMask;
      lastState = &f;
    }
  }
  if ((possible & bit(JobState::UploadComplete)) == 0) return;
  warnings.push_back(Diagnostic{
      lastState ? lastState->where : p.where,
      fmt::format("warning: delete policy '{}' can match ingest jobs in UploadComplete: Salesforce "
                  "deletes those too, which cancels a load that was queued and not yet run",
                  p.name),
      "if that is not meant, add `state: [JobComplete, Failed, Aborted]` (abort stuck jobs with "
      "an abort policy)"});
}

void warnExpired(const std::vector<policy::Exemption>& exempt, model::Timestamp now,
                 std::vector<Diagnostic>& warnings) {
  for (const auto& ex : exempt) {
    if (ex.until && *ex.until <= now) {
      warnings.push_back(
          Diagnostic{ex.where,
                     fmt::format("warning: this exemption expired at {}: it exempts nothing",
                                 model::formatRfc3339(*ex.until)),
                     "remove it, or move 'until' later"});
    }
  }
}

void loadPolicyText(const std::string& text, DiagnosticSink& sink,
                    const std::vector<std::string>* knownOrgs, PolicySet& set) {
  auto root = parseYaml(text, sink);
  if (!root) return;
  if (root->IsNull()) {
    sink.fileError("the policy file is empty", "expected 'policies:' with a list of policies");
    return;
  }
  MapView top(*root, sink, "a policy file (a map with 'policies:')", {"policies"});
  if (!top.ok()) return;
  const auto* list = top.require("policies");
  if (!list) return;
  if (!list->value.IsSequence()) {
    sink.error(list->value,
               fmt::format("expected a list of policies, got {}", kindName(list->value)));
    return;
  }
  for (const YAML::Node& node : list->value) loadPolicy(node, sink, knownOrgs, set);
}

std::vector<policy::Policy> parsePolicies(const std::string& yaml, const std::string& file,
                                          const std::vector<std::string>* knownOrgs) {
  std::vector<Diagnostic> diagnostics;
  DiagnosticSink sink(file, diagnostics);
  PolicySet set;
  loadPolicyText(yaml, sink, knownOrgs, set);
  if (!diagnostics.empty()) throw ConfigError(sortedByPlace(std::move(diagnostics)));
  return std::move(set.policies);
}

}  // namespace bulkwarden::config
