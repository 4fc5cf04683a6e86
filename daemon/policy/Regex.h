// A policy's `regex:` operand, compiled once with RE2. RE2 never backtracks: a search takes time
// linear in the text and memory bounded by the compile budget, whatever the pattern, so a policy
// author cannot write a regex that stalls or crashes a pass. Immutable once built; search() is
// const and safe to call from many threads at once (RE2 is).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "policy/Truth.h"

namespace re2 {
class RE2;
}

namespace bulkwarden::policy {

class Regex {
 public:
  // Longest pattern a policy may hold, in bytes.
  static constexpr size_t kMaxPatternLength = 1000;
  // RE2's memory budget per regex (the compiled program and its DFA caches): ample for patterns
  // over Salesforce names; a pattern that needs more is refused when it is loaded.
  static constexpr int64_t kMaxMemory = int64_t{1} << 20;

  // Why a pattern was refused: what is wrong, naming the offending piece, and what to do.
  struct Error {
    std::string message;  // "bad regex '(a)\1': invalid escape sequence: \1 (a back-reference)"
    std::string hint;     // "RE2 syntax: no back-references or look-around; see docs/policies.md"
  };

  // The loader's way in (and the fuzz target's): a compiled regex, or why `pattern` is refused
  // (longer than kMaxPatternLength, not RE2 syntax, or over the memory budget).
  static std::variant<std::shared_ptr<const Regex>, Error> compile(std::string_view pattern);

  // Compiles without refusing: check ok(). `maxMemory` is a test seam (a tiny budget makes a
  // regex that cannot run); it must be > 0 (RE2 reads 0 as "no limit").
  explicit Regex(std::string_view pattern, int64_t maxMemory = kMaxMemory);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  bool ok() const;
  // Why it did not compile ("invalid escape sequence: \1"); empty when ok().
  std::string error() const;
  const std::string& pattern() const { return pattern_; }

  // Whether `text` contains a match: anywhere, unless the pattern is anchored with ^ and $.
  // Unknown when the regex cannot run (it did not compile), never False for "could not tell".
  Truth search(std::string_view text) const;

 private:
  std::string pattern_;
  std::unique_ptr<re2::RE2> re_;
};

}  // namespace bulkwarden::policy
