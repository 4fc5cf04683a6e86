#include "policy/Evaluator.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "policy/Glob.h"

namespace bulkwarden::policy {
namespace {

using model::Job;
using model::JobField;
using model::Timestamp;

// A number only when the whole text is one finite decimal number: "62.0", "-3", "1e3".
bool parseNumber(std::string_view text, double& out) {
  if (text.empty()) return false;
  const char* first = text.data();
  const char* last = first + text.size();
  if (*first == '+') ++first;
  if (first == last || !((*first >= '0' && *first <= '9') || *first == '-' || *first == '.')) {
    return false;
  }
  auto [ptr, ec] = std::from_chars(first, last, out);
  return ec == std::errc() && ptr == last && std::isfinite(out);
}

// -1, 0, 1: numerically when both sides are numbers, else bytewise.
int compareText(std::string_view a, std::string_view b) {
  double x, y;
  if (parseNumber(a, x) && parseNumber(b, y)) return x < y ? -1 : (x > y ? 1 : 0);
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

bool ordered(Op op, int cmp) {
  switch (op) {
    case Op::Gt:
      return cmp > 0;
    case Op::Ge:
      return cmp >= 0;
    case Op::Lt:
      return cmp < 0;
    case Op::Le:
      return cmp <= 0;
    default:
      return false;
  }
}

// A regex that is missing or cannot run decides nothing: Unknown, never "no match" (which a `not`
// would turn into a match).
Truth regexSearch(const Filter& f, std::string_view text) {
  return f.regex ? f.regex->search(text) : Truth::Unknown;
}

bool matchTimeField(const Filter& f, Timestamp t) {
  switch (f.op) {
    case Op::Eq:
      return !f.times.empty() && t == f.times[0];
    case Op::Ne:
      return f.times.empty() || t != f.times[0];
    case Op::In:
      for (Timestamp v : f.times) {
        if (t == v) return true;
      }
      return false;
    case Op::NotIn:
      for (Timestamp v : f.times) {
        if (t == v) return false;
      }
      return true;
    case Op::Gt:
    case Op::Ge:
    case Op::Lt:
    case Op::Le: {
      if (f.times.empty()) return false;
      Timestamp v = f.times[0];
      return ordered(f.op, t < v ? -1 : (t > v ? 1 : 0));
    }
    case Op::Regex:
    case Op::Glob:
      break;
  }
  return false;
}

// A text field against every operator but regex.
bool matchText(const Filter& f, std::string_view v) {
  switch (f.op) {
    case Op::Eq:
      return !f.values.empty() && v == f.values[0];
    case Op::Ne:
      return f.values.empty() || v != f.values[0];
    case Op::In:
      for (const std::string& x : f.values) {
        if (v == x) return true;
      }
      return false;
    case Op::NotIn:
      for (const std::string& x : f.values) {
        if (v == x) return false;
      }
      return true;
    case Op::Regex:
      return false;  // three-valued: see matchField
    case Op::Glob:
      return !f.values.empty() && globMatch(f.values[0], v);
    case Op::Gt:
    case Op::Ge:
    case Op::Lt:
    case Op::Le:
      return !f.values.empty() && ordered(f.op, compareText(v, f.values[0]));
  }
  return false;
}

// Only a regex can be undecided; every other comparison is plain true or false.
Truth matchField(const Filter& f, const Job& job) {
  if (model::isTimeField(f.field)) {
    if (f.op != Op::Regex && f.op != Op::Glob) return truthOf(matchTimeField(f, job.time(f.field)));
    // The loader refuses regex/glob on timestamps; a hand-built filter gets the Salesforce text.
    std::string text = job.text(f.field);
    if (f.op == Op::Regex) return regexSearch(f, text);
    return truthOf(!f.values.empty() && globMatch(f.values[0], text));
  }
  std::string_view v = job.view(f.field);
  if (f.op == Op::Regex) return regexSearch(f, v);
  return truthOf(matchText(f, v));
}

std::string_view opSymbol(Op op) {
  switch (op) {
    case Op::Eq:
      return "=";
    case Op::Ne:
      return "!=";
    case Op::In:
      return "in";
    case Op::NotIn:
      return "not in";
    case Op::Regex:
      return "matches";
    case Op::Glob:
      return "matches glob";
    case Op::Gt:
      return ">";
    case Op::Ge:
      return ">=";
    case Op::Lt:
      return "<";
    case Op::Le:
      return "<=";
  }
  return "?";
}

std::string stateList(uint32_t mask) {
  std::string out = "[";
  for (model::JobState s : model::kAllJobStates) {
    if (mask & (1u << static_cast<unsigned>(s))) {
      if (out.size() > 1) out += ", ";
      out += toString(s);
    }
  }
  return out + "]";
}

std::string operandText(const Filter& f) {
  if (model::isTimeField(f.field) && !f.times.empty() && f.op != Op::Regex && f.op != Op::Glob) {
    if (f.op == Op::In || f.op == Op::NotIn) {
      std::string out = "[";
      for (size_t i = 0; i < f.times.size(); ++i) {
        if (i) out += ", ";
        out += model::formatRfc3339(f.times[i]);
      }
      return out + "]";
    }
    return model::formatRfc3339(f.times[0]);
  }
  if (f.op == Op::In || f.op == Op::NotIn) return fmt::format("[{}]", fmt::join(f.values, ", "));
  if (f.op == Op::Regex && f.regex && f.values.empty()) return "(regex)";
  return f.values.empty() ? std::string() : f.values[0];
}

std::string jobValue(const Filter& f, const Job& job) {
  if (model::isTimeField(f.field)) return model::formatRfc3339(job.time(f.field));
  std::string_view v = job.view(f.field);
  return v.empty() ? std::string("(empty)") : std::string(v);
}

std::string agoText(const Filter& f, const Job& job, Timestamp now) {
  auto ago = std::chrono::floor<std::chrono::seconds>(now - job.time(f.timeField));
  if (ago.count() < 0) return fmt::format("{} in the future", model::formatDuration(-ago));
  return fmt::format("{} ago", model::formatDuration(ago));
}

// What a filter asks for, without looking at a job: used under `not`.
std::string describe(const Filter& f) {
  switch (f.kind) {
    case Filter::Kind::All:
    case Filter::Kind::Any: {
      if (f.children.empty()) return f.kind == Filter::Kind::All ? "always" : "never";
      std::string out = "(";
      for (size_t i = 0; i < f.children.size(); ++i) {
        if (i) out += f.kind == Filter::Kind::All ? " and " : " or ";
        out += describe(f.children[i]);
      }
      return out + ")";
    }
    case Filter::Kind::Not:
      return f.children.empty() ? "not ?" : "not " + describe(f.children[0]);
    case Filter::Kind::State:
      return "state in " + stateList(f.stateMask);
    case Filter::Kind::OlderThan:
      return fmt::format("{} older than {}", model::fieldName(f.timeField),
                         model::formatDuration(f.age));
    case Filter::Kind::InStateFor:
      return fmt::format("in its state for more than {}", model::formatDuration(f.age));
    case Filter::Kind::Field:
      return fmt::format("{} {} {}", model::fieldName(f.field), opSymbol(f.op), operandText(f));
  }
  return "?";
}

void explainInto(const Filter& f, const Job& job, Timestamp now, Timestamp since, std::string& out);

void explainChildren(const Filter& f, const Job& job, Timestamp now, Timestamp since,
                     std::string& out) {
  bool first = true;
  for (const Filter& c : f.children) {
    if (!first) out += "; ";
    first = false;
    explainInto(c, job, now, since, out);
  }
}

void explainInto(const Filter& f, const Job& job, Timestamp now, Timestamp since,
                 std::string& out) {
  switch (f.kind) {
    case Filter::Kind::All:
      if (f.children.empty()) {
        out += "every job";
      } else {
        explainChildren(f, job, now, since, out);
      }
      return;
    case Filter::Kind::Any:
      for (const Filter& c : f.children) {
        if (matches(c, job, now, since)) {
          bool group = c.kind == Filter::Kind::All && c.children.size() > 1;
          if (group) out += "(";
          explainInto(c, job, now, since, out);
          if (group) out += ")";
          return;
        }
      }
      out += "none of " + describe(f);
      return;
    case Filter::Kind::Not:
      if (f.children.empty()) {
        out += "not ?";
        return;
      }
      out += "not " + describe(f.children[0]);
      if (const Filter& c = f.children[0]; c.kind == Filter::Kind::Field) {
        out += fmt::format(" ({} is {})", model::fieldName(c.field), jobValue(c, job));
      } else if (c.kind == Filter::Kind::State) {
        out += fmt::format(" (state is {})", model::toString(job.state));
      }
      return;
    case Filter::Kind::State: {
      out += fmt::format("state {}", model::toString(job.state));
      uint32_t mask = f.stateMask;
      if (mask & (mask - 1)) out += " in " + stateList(mask);
      return;
    }
    case Filter::Kind::OlderThan:
      out += fmt::format("{} {} > {}", model::fieldName(f.timeField), agoText(f, job, now),
                         model::formatDuration(f.age));
      return;
    case Filter::Kind::InStateFor: {
      auto in = std::chrono::floor<std::chrono::seconds>(now - since);
      out += fmt::format("in state {} for {} > {}", model::toString(job.state),
                         model::formatDuration(in), model::formatDuration(f.age));
      return;
    }
    case Filter::Kind::Field:
      if (f.op == Op::Eq) {
        out += fmt::format("{} {}", model::fieldName(f.field), jobValue(f, job));
      } else {
        out += fmt::format("{} {} {} {}", model::fieldName(f.field), jobValue(f, job),
                           opSymbol(f.op), operandText(f));
      }
      return;
  }
}

}  // namespace

Truth truth(const Filter& filter, const model::Job& job, model::Timestamp now,
            model::Timestamp since) {
  switch (filter.kind) {
    case Filter::Kind::All: {
      // Kleene: one False decides; an Unknown child leaves the rest to look for a False.
      Truth out = Truth::True;
      for (const Filter& c : filter.children) {
        out = kleeneAnd(out, truth(c, job, now, since));
        if (out == Truth::False) return out;
      }
      return out;
    }
    case Filter::Kind::Any: {
      Truth out = Truth::False;
      for (const Filter& c : filter.children) {
        out = kleeneOr(out, truth(c, job, now, since));
        if (out == Truth::True) return out;
      }
      return out;
    }
    case Filter::Kind::Not:
      // A malformed Not (no child) says nothing, so neither does its negation.
      if (filter.children.empty()) return Truth::Unknown;
      return kleeneNot(truth(filter.children[0], job, now, since));
    case Filter::Kind::State:
      return truthOf((filter.stateMask & (1u << static_cast<unsigned>(job.state))) != 0);
    case Filter::Kind::OlderThan:
      // Strictly older; a job stamped in the future (clock skew) is never older.
      return truthOf(now - job.time(filter.timeField) > filter.age);
    case Filter::Kind::InStateFor:
      return truthOf(now - since > filter.age);
    case Filter::Kind::Field:
      return matchField(filter, job);
  }
  return Truth::Unknown;
}

bool matches(const Filter& filter, const model::Job& job, model::Timestamp now,
             model::Timestamp since) {
  return truth(filter, job, now, since) == Truth::True;
}

namespace {
// The first leaf under `f` that is Unknown for `job`, if any.
const Filter* firstUndecided(const Filter& f, const model::Job& job, model::Timestamp now,
                             model::Timestamp since) {
  if (truth(f, job, now, since) != Truth::Unknown) return nullptr;
  if (f.kind == Filter::Kind::All || f.kind == Filter::Kind::Any || f.kind == Filter::Kind::Not) {
    for (const Filter& c : f.children) {
      if (const Filter* leaf = firstUndecided(c, job, now, since)) return leaf;
    }
  }
  return &f;
}
}  // namespace

std::string undecided(const Filter& filter, const model::Job& job, model::Timestamp now,
                      model::Timestamp since) {
  const Filter* leaf = firstUndecided(filter, job, now, since);
  if (leaf == nullptr) return {};
  std::string where = leaf->where.str().empty() ? std::string() : " at " + leaf->where.str();
  if (leaf->kind == Filter::Kind::Field && leaf->op == Op::Regex) {
    std::string why = !leaf->regex ? std::string("no compiled regex") : leaf->regex->error();
    return fmt::format("could not decide {} matches {}{}: the regex cannot run ({})",
                       model::fieldName(leaf->field),
                       leaf->regex ? leaf->regex->pattern() : operandText(*leaf), where, why);
  }
  if (leaf->kind == Filter::Kind::Not)
    return fmt::format("could not decide a `not` without a filter{}", where);
  return fmt::format("could not decide {}{}", describe(*leaf), where);
}

bool matches(const Filter& filter, const model::Job& job, model::Timestamp now) {
  return matches(filter, job, now, now);
}

std::string explain(const Filter& filter, const model::Job& job, model::Timestamp now,
                    model::Timestamp since) {
  std::string out;
  explainInto(filter, job, now, since, out);
  return out;
}

std::string explain(const Filter& filter, const model::Job& job, model::Timestamp now) {
  return explain(filter, job, now, now);
}

std::vector<Decision> evaluate(std::span<const model::Job> jobs,
                               std::span<const Policy* const> policies, model::Timestamp now,
                               std::span<const model::Timestamp> since, Undecided undecidedPairs) {
  std::vector<Decision> out;
  for (size_t j = 0; j < jobs.size(); ++j) {
    for (const Policy* p : policies) {
      // The caller passes policies of the listed resource; checking again costs nothing and
      // keeps a query policy from ever acting on an ingest job. A listing may also hold Bulk
      // API 1.0 jobs, which only a policy whose job-types name Classic governs.
      if (p == nullptr || !p->governs(jobs[j])) continue;
      model::Timestamp s = j < since.size() ? since[j] : now;
      Truth t = truth(p->filter, jobs[j], now, s);
      if (t == Truth::True) {
        out.push_back(Decision{p, j, {}});
      } else if (t == Truth::Unknown && undecidedPairs == Undecided::Include) {
        out.push_back(Decision{p, j, undecided(p->filter, jobs[j], now, s)});
      }
    }
  }
  return out;
}

namespace {
void thresholds(const Filter& f, const model::Job& job, model::Timestamp since,
                std::vector<model::Timestamp>& out) {
  switch (f.kind) {
    case Filter::Kind::All:
    case Filter::Kind::Any:
    case Filter::Kind::Not:
      for (const Filter& c : f.children) thresholds(c, job, since, out);
      return;
    case Filter::Kind::OlderThan:
      out.push_back(job.time(f.timeField) + f.age + model::Duration(1));
      return;
    case Filter::Kind::InStateFor:
      out.push_back(since + f.age + model::Duration(1));
      return;
    default:
      return;
  }
}
}  // namespace

bool hasAgeFilter(const Filter& filter) {
  if (filter.kind == Filter::Kind::OlderThan || filter.kind == Filter::Kind::InStateFor)
    return true;
  return std::any_of(filter.children.begin(), filter.children.end(),
                     [](const Filter& c) { return hasAgeFilter(c); });
}

bool usesInStateFor(const Filter& filter) {
  if (filter.kind == Filter::Kind::InStateFor) return true;
  return std::any_of(filter.children.begin(), filter.children.end(),
                     [](const Filter& c) { return usesInStateFor(c); });
}

std::optional<model::Timestamp> nextMatch(const Filter& filter, const model::Job& job,
                                          model::Timestamp now, model::Timestamp since,
                                          model::Timestamp before) {
  std::vector<model::Timestamp> candidates;
  thresholds(filter, job, since, candidates);
  std::sort(candidates.begin(), candidates.end());
  for (model::Timestamp t : candidates) {
    if (t <= now || t >= before) continue;
    if (matches(filter, job, t, since)) return t;
  }
  return std::nullopt;
}

}  // namespace bulkwarden::policy
