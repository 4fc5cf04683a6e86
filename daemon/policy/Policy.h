// The policy model: what a policy matches (a filter tree), what it does, when, and where it was
// written. Built by config/ from YAML, read by the evaluator and the engine. Immutable once
// loaded, so one Policy may be read from many threads.
#pragma once

#include <Poco/RegularExpression.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/Job.h"
#include "model/Time.h"

namespace bulkwarden::policy {

// Where something was written: a file and a 1-based line and column. line 0 = unknown.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  std::string str() const;  // "policies/a.yaml:12:7" (or just the file when line is 0)
};

enum class Action { Abort, Delete, Report };
enum class Mode { Enforce, DryRun };

std::string_view toString(Action action);
std::optional<Action> parseAction(std::string_view text);
std::string_view toString(Mode mode);
std::optional<Mode> parseMode(std::string_view text);

// Comparison operators of an operator map: `{ regex: "^Acc" }`, `{ gt: 2026-01-01T00:00:00Z }`.
enum class Op { Eq, Ne, In, NotIn, Regex, Glob, Gt, Ge, Lt, Le };
std::string_view toString(Op op);
std::optional<Op> parseOp(std::string_view text);

// One node of a filter tree. A policy's `filters:` list is an All node.
struct Filter {
  enum class Kind {
    All,        // every child holds (an empty All always holds)
    Any,        // at least one child holds (`or:`)
    Not,        // the single child does not hold (`not:`)
    State,      // `state:` value or list -> stateMask
    OlderThan,  // `older-than: {field, age}` -> timeField, age: now - job.<field> > age
    Field,      // `<jobField>: value | list | {op: value}` -> field, op, values / times / regex
  };
  Kind kind = Kind::All;
  SourceLocation where;

  std::vector<Filter> children;  // All, Any, Not (exactly one)

  uint32_t stateMask = 0;  // State: bit (1 << int(JobState)) set for each accepted state

  model::JobField timeField = model::JobField::CreatedDate;  // OlderThan
  model::Duration age{0};                                    // OlderThan

  model::JobField field = model::JobField::Id;  // Field
  Op op = Op::Eq;                               // Field
  // Field: the operands as text (Eq/Ne/Gt.. one value; In/NotIn several; Glob one pattern).
  std::vector<std::string> values;
  // Field on createdDate/systemModstamp: operands parsed as timestamps, same order as values.
  std::vector<model::Timestamp> times;
  // Field with Op::Regex: compiled once at load time; matching is const and thread-safe.
  std::shared_ptr<const Poco::RegularExpression> regex;
};

// How often a policy runs. `every` only for now; cron + timezone extends this struct.
struct Schedule {
  model::Duration every{std::chrono::minutes(5)};
};

struct Policy {
  std::string name;
  std::string description;
  model::ResourceKind resource = model::ResourceKind::Query;
  std::vector<std::string> orgs;  // empty: every org
  Mode mode = Mode::DryRun;       // nothing acts unless asked
  Schedule schedule;
  Filter filter;  // Kind::All over the `filters:` list
  Action action = Action::Report;
  SourceLocation where;  // the `- name:` entry

  bool appliesTo(std::string_view org) const;
};

}  // namespace bulkwarden::policy
