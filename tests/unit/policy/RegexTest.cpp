// Policy regexes run on RE2: texts and patterns that crashed or stalled the PCRE matcher
// (recursion per character, exponential backtracking) are decided, and what RE2 cannot run is
// refused when the policy is loaded. No timing assertions: a linear-time engine is shown by
// deciding inputs that a backtracking one cannot.
#include "policy/Regex.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <variant>

#include "config/Config.h"
#include "config/PolicyLoader.h"
#include "policy/Evaluator.h"

namespace bulkwarden::policy {
namespace {

using ::testing::HasSubstr;

const model::Timestamp kNow = *model::parseTimestamp("2026-03-01T12:00:00Z");

std::vector<Policy> policyWithRegex(const std::string& regex) {
  return config::parsePolicies(
      "policies:\n"
      "  - name: p\n"
      "    resource: query-jobs\n"
      "    action: abort\n"
      "    filters:\n"
      "      - object: { regex: \"" +
          regex + "\" }\n",
      "p.yaml");
}

model::Job jobOn(std::string object) {
  model::Job j;
  j.kind = model::ResourceKind::Query;
  j.id = "750R0000000zhfdIAA";
  j.object = std::move(object);
  return j;
}

std::shared_ptr<const Regex> compiled(const std::string& pattern) {
  auto r = Regex::compile(pattern);
  auto* re = std::get_if<std::shared_ptr<const Regex>>(&r);
  EXPECT_TRUE(re) << pattern << ": " << std::get<Regex::Error>(r).message;
  return re ? *re : nullptr;
}

std::string ab(size_t n) {
  std::string s(n, 'a');
  for (size_t i = 1; i < n; i += 2) s[i] = 'b';
  return s;
}

TEST(PolicyRegex, TenThousandCharacterFieldUnderAlternationStar) {
  // PCRE recursed once per character here and the process died.
  auto policies = policyWithRegex("^(a|b)*$");
  const Filter& f = policies.at(0).filter;
  EXPECT_EQ(truth(f, jobOn(ab(10000)), kNow, kNow), Truth::True);
  EXPECT_EQ(truth(f, jobOn(ab(10000) + "c"), kNow, kNow), Truth::False);
  EXPECT_EQ(truth(f, jobOn(ab(1000000)), kNow, kNow), Truth::True);
}

TEST(PolicyRegex, CatastrophicBacktrackingPatternIsDecidedOnEveryJob) {
  // ~100 ms a job with PCRE on a 30-character name; its answer was "no match" after giving up.
  auto policies = policyWithRegex("^([A-Za-z]+_?)+__c$");
  std::vector<const Policy*> ptrs = {&policies.at(0)};
  std::vector<model::Job> jobs;
  for (int i = 0; i < 1000; ++i) {
    jobs.push_back(jobOn(std::string(30, 'A') + (i % 2 ? "__c" : "__x")));
  }
  auto decisions = evaluate(jobs, ptrs, kNow, {}, Undecided::Include);
  ASSERT_EQ(decisions.size(), 500u);
  for (const auto& d : decisions) {
    EXPECT_EQ(d.job % 2, 1u);
    EXPECT_TRUE(d.undecided.empty());
  }
  // A 100,000-character text, matching and not: a backtracking engine overflows its stack or
  // gives up on these; RE2 decides both.
  const Regex& re = *policies.at(0).filter.children.at(0).regex;
  EXPECT_EQ(re.search(std::string(100000, 'a') + "__c"), Truth::True);
  EXPECT_EQ(re.search(std::string(100000, 'a') + "_"), Truth::False);
  EXPECT_EQ(re.search(ab(100000) + "_b_a__c"), Truth::True);
}

TEST(PolicyRegex, MatchesAnywhereUnlessAnchored) {
  EXPECT_EQ(compiled("cou")->search("Account"), Truth::True);
  EXPECT_EQ(compiled("^cou")->search("Account"), Truth::False);
  EXPECT_EQ(compiled("^Account$")->search("Account"), Truth::True);
  EXPECT_EQ(compiled("^Account$")->search("Accounts"), Truth::False);
  EXPECT_EQ(compiled("(?i)^account$")->search("Account"), Truth::True);
  EXPECT_EQ(compiled("")->search(""), Truth::True);
  // $ is the end of the text, not before a final newline (Perl's $ would match here).
  EXPECT_EQ(compiled("^Account$")->search("Account\n"), Truth::False);
}

TEST(PolicyRegex, TextIsUtf8) {
  // Job fields come from JSON checked to be UTF-8: a dot is one character, not one byte.
  EXPECT_EQ(compiled("^.$")->search("\xc3\xa9"), Truth::True);
  EXPECT_EQ(compiled("^..$")->search("\xc3\xa9"), Truth::False);
  EXPECT_EQ(compiled("^\xc3\xa9t\xc3\xa9$")->search("\xc3\xa9t\xc3\xa9"), Truth::True);
  // A hand-built job with invalid UTF-8 is still decided.
  EXPECT_NE(compiled("^.*$")->search("\xff\xfe"), Truth::Unknown);
  EXPECT_NE(compiled("a")->search(std::string("\0a", 2)), Truth::Unknown);
}

TEST(PolicyRegex, CompileRefusesWhatRe2CannotRunAndSaysWhat) {
  struct Case {
    const char* pattern;
    const char* message;
  };
  for (const Case& c : {
           Case{"(a)\\1", "bad regex '(a)\\1': invalid escape sequence: \\1 (a back-reference)"},
           Case{"(?=x)", "bad regex '(?=x)': invalid perl operator: (?= (a look-ahead)"},
           Case{"(?!x)", "(a look-ahead)"},
           Case{"(?<=x)y", "(a look-behind, or a named group: write (?P<name>...))"},
           Case{"(?<!x)y", "invalid perl operator: (?<"},
           Case{"a++", "bad repetition operator: ++ (a possessive quantifier)"},
           Case{"(?>a)", "(an atomic group)"},
           Case{"x\\Z", "(write \\z or $ instead)"},
           Case{"(Account", "bad regex '(Account': missing ): (Account"},
           Case{"a{1001}", "invalid repetition size: {1001}"},
       }) {
    auto r = Regex::compile(c.pattern);
    ASSERT_TRUE(std::holds_alternative<Regex::Error>(r)) << c.pattern;
    const auto& e = std::get<Regex::Error>(r);
    EXPECT_THAT(e.message, HasSubstr(c.message)) << c.pattern;
    EXPECT_EQ(e.hint, "RE2 syntax: no back-references or look-around; see docs/policies.md");
  }
}

TEST(PolicyRegex, CompileBoundsLengthAndMemory) {
  EXPECT_TRUE(compiled(std::string(Regex::kMaxPatternLength, 'a')));
  auto tooLong = Regex::compile(std::string(Regex::kMaxPatternLength + 1, 'a'));
  ASSERT_TRUE(std::holds_alternative<Regex::Error>(tooLong));
  EXPECT_EQ(std::get<Regex::Error>(tooLong).message, "regex longer than 1000 characters");
  // Within the syntax, but bigger than the memory budget once compiled.
  auto big = Regex::compile("\\pL{100}");
  ASSERT_TRUE(std::holds_alternative<Regex::Error>(big));
  EXPECT_THAT(std::get<Regex::Error>(big).message, HasSubstr("needs more than 1024 KiB compiled"));
  EXPECT_THAT(std::get<Regex::Error>(big).hint, HasSubstr("[A-Za-z]"));
}

TEST(PolicyRegex, RefusedPatternIsPrintedWithoutControlCharacters) {
  auto r = Regex::compile("(\x1b[31m\r\n");
  ASSERT_TRUE(std::holds_alternative<Regex::Error>(r));
  const std::string& m = std::get<Regex::Error>(r).message;
  EXPECT_EQ(m.find('\x1b'), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  EXPECT_THAT(m, HasSubstr("\\x1b[31m\\x0d\\x0a"));
}

}  // namespace
}  // namespace bulkwarden::policy
