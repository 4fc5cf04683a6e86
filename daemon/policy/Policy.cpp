#include "policy/Policy.h"

#include <fmt/format.h>

#include <algorithm>

namespace bulkwarden::policy {

std::string SourceLocation::str() const {
  if (line <= 0) return file;
  return fmt::format("{}:{}:{}", file, line, column);
}

std::string_view toString(Action action) {
  switch (action) {
    case Action::Abort:
      return "abort";
    case Action::Delete:
      return "delete";
    case Action::Report:
      return "report";
  }
  return "?";
}

std::optional<Action> parseAction(std::string_view text) {
  for (Action a : {Action::Abort, Action::Delete, Action::Report}) {
    if (toString(a) == text) return a;
  }
  return std::nullopt;
}

std::string_view toString(Mode mode) { return mode == Mode::Enforce ? "enforce" : "dry-run"; }

std::optional<Mode> parseMode(std::string_view text) {
  if (text == "enforce") return Mode::Enforce;
  if (text == "dry-run") return Mode::DryRun;
  return std::nullopt;
}

std::string_view toString(Op op) {
  switch (op) {
    case Op::Eq:
      return "eq";
    case Op::Ne:
      return "ne";
    case Op::In:
      return "in";
    case Op::NotIn:
      return "not-in";
    case Op::Regex:
      return "regex";
    case Op::Glob:
      return "glob";
    case Op::Gt:
      return "gt";
    case Op::Ge:
      return "ge";
    case Op::Lt:
      return "lt";
    case Op::Le:
      return "le";
  }
  return "?";
}

std::optional<Op> parseOp(std::string_view text) {
  for (Op op :
       {Op::Eq, Op::Ne, Op::In, Op::NotIn, Op::Regex, Op::Glob, Op::Gt, Op::Ge, Op::Lt, Op::Le}) {
    if (toString(op) == text) return op;
  }
  return std::nullopt;
}

bool Policy::appliesTo(std::string_view org) const {
  return orgs.empty() || std::find(orgs.begin(), orgs.end(), org) != orgs.end();
}

}  // namespace bulkwarden::policy
