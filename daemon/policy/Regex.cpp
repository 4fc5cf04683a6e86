#include "policy/Regex.h"

#include <fmt/format.h>
#include <re2/re2.h>

namespace bulkwarden::policy {
namespace {

constexpr std::string_view kSyntaxHint =
    "RE2 syntax: no back-references or look-around; see docs/policies.md";

RE2::Options options(int64_t maxMemory) {
  RE2::Options o;
  // Job fields come from JSON that was checked to be valid UTF-8, and policy files are UTF-8: a
  // `.` or a class matches a whole character, not a byte of one.
  o.set_encoding(RE2::Options::EncodingUTF8);
  // A refused pattern is reported by validate with file:line:col; RE2 must not print it (or
  // anything about a search) to stderr, which is the journal.
  o.set_log_errors(false);
  o.set_max_mem(maxMemory);
  // Only "is there a match" is asked: no submatches to keep, a smaller program.
  o.set_never_capture(true);
  return o;
}

// The pattern as it may be printed: control characters escaped, cut to a readable length.
std::string printable(std::string_view pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size() && i < 120; ++i) {
    auto c = static_cast<unsigned char>(pattern[i]);
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (pattern.size() > 120) out += "...";
  return out;
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// What Perl syntax RE2 refused, when it is one of the features people reach for.
std::string_view explainRefusal(const RE2& re) {
  std::string_view arg = re.error_arg();
  switch (re.error_code()) {
    case RE2::ErrorBadEscape:
      if (arg.size() >= 2 && arg[1] >= '1' && arg[1] <= '9') return "a back-reference";
      if (startsWith(arg, "\\k")) return "a named back-reference";
      if (startsWith(arg, "\\Z")) return "write \\z or $ instead";
      return {};
    case RE2::ErrorBadPerlOp:
      if (startsWith(arg, "(?=") || startsWith(arg, "(?!")) return "a look-ahead";
      if (startsWith(arg, "(?<")) return "a look-behind, or a named group: write (?P<name>...)";
      if (startsWith(arg, "(?>")) return "an atomic group";
      return {};
    case RE2::ErrorRepeatOp:
      if (arg.size() == 2 && arg[1] == '+') return "a possessive quantifier";
      return {};
    default:
      return {};
  }
}

}  // namespace

Regex::Regex(std::string_view pattern, int64_t maxMemory)
    : pattern_(pattern),
      re_(std::make_unique<re2::RE2>(re2::StringPiece(pattern_.data(), pattern_.size()),
                                     options(maxMemory))) {}

Regex::~Regex() = default;

bool Regex::ok() const { return re_->ok(); }

std::string Regex::error() const { return ok() ? std::string() : re_->error(); }

Truth Regex::search(std::string_view text) const {
  // An RE2 that did not compile "matches" nothing: say that nothing is known instead.
  if (!re_->ok()) return Truth::Unknown;
  return truthOf(RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re_));
}

std::variant<std::shared_ptr<const Regex>, Regex::Error> Regex::compile(std::string_view pattern) {
  if (pattern.size() > kMaxPatternLength) {
    return Error{fmt::format("regex longer than {} characters", kMaxPatternLength),
                 "split it into several filters under or:"};
  }
  auto re = std::make_shared<const Regex>(pattern);
  if (re->ok()) return re;
  if (re->re_->error_code() == RE2::ErrorPatternTooLarge) {
    return Error{fmt::format("bad regex '{}': it needs more than {} KiB compiled",
                             printable(pattern), kMaxMemory / 1024),
                 "counted repetitions ({n}) and Unicode classes (\\pL) are compiled out in full; "
                 "use smaller counts or ASCII classes such as [A-Za-z]"};
  }
  std::string message =
      fmt::format("bad regex '{}': {}", printable(pattern), printable(re->error()));
  if (auto what = explainRefusal(*re->re_); !what.empty()) message += fmt::format(" ({})", what);
  return Error{std::move(message), std::string(kSyntaxHint)};
}

}  // namespace bulkwarden::policy
