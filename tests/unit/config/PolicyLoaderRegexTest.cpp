// validate refuses, with file:line:col and a hint, every regex RE2 cannot run: back-references,
// look-around, possessive quantifiers, patterns over the length or memory budget.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "PolicyDiagnostics.h"
#include "config/Config.h"
#include "config/PolicyLoader.h"

namespace bulkwarden::config {
namespace {

using ::testing::HasSubstr;

std::string policyWith(const std::string& filterLine) {
  return "policies:\n"
         "  - name: p\n"
         "    resource: query-jobs\n"
         "    action: abort\n"
         "    filters:\n" +
         filterLine;
}

using testing::policyErrors;

std::string oneError(const std::string& yaml) {
  auto d = policyErrors(yaml);
  EXPECT_EQ(d.size(), 1u) << yaml;
  return d.empty() ? std::string("(accepted)") : d[0].str();
}

TEST(PolicyLoaderRegex, RefusesBackReferenceWithPlaceAndHint) {
  EXPECT_EQ(oneError(policyWith("      - object: { regex: '(a)\\1' }\n")),
            "p.yaml:6:26: bad regex '(a)\\1': invalid escape sequence: \\1 (a back-reference) "
            "(RE2 syntax: no back-references or look-around; see docs/policies.md)");
}

TEST(PolicyLoaderRegex, RefusesLookAroundWithPlaceAndHint) {
  EXPECT_EQ(oneError(policyWith("      - object: { regex: \"(?=x)\" }\n")),
            "p.yaml:6:26: bad regex '(?=x)': invalid perl operator: (?= (a look-ahead) "
            "(RE2 syntax: no back-references or look-around; see docs/policies.md)");
  EXPECT_THAT(oneError(policyWith("      - not: { createdById: { regex: \"(?<!005)R\" } }\n")),
              HasSubstr("p.yaml:6:38: bad regex '(?<!005)R': invalid perl operator: (?<"));
}

TEST(PolicyLoaderRegex, RefusesPossessiveAndOversizedPatterns) {
  EXPECT_THAT(oneError(policyWith("      - object: { regex: \"a++\" }\n")),
              HasSubstr("p.yaml:6:26: bad regex 'a++': bad repetition operator: ++"));
  EXPECT_THAT(oneError(policyWith("      - object: { regex: \"\\\\pL{100}\" }\n")),
              HasSubstr("p.yaml:6:26: bad regex '\\pL{100}': it needs more than 1024 KiB"));
  EXPECT_THAT(
      oneError(policyWith("      - object: { regex: \"" + std::string(1001, 'a') + "\" }\n")),
      HasSubstr("p.yaml:6:26: regex longer than 1000 characters"));
}

TEST(PolicyLoaderRegex, AcceptsThePatternsThatStalledPcre) {
  // These load: they are fine regexes, and RE2 runs them in linear time.
  for (const char* re : {"^(a|b)*$", "^([A-Za-z]+_?)+__c$", "^(Account|Contact)$", "(?i)acc",
                         "^(?P<name>[a-z]+)$", "\\bfoo\\b", "[[:alpha:]]+"}) {
    EXPECT_TRUE(
        policyErrors(policyWith("      - object: { regex: '" + std::string(re) + "' }\n")).empty())
        << re;
  }
}

}  // namespace
}  // namespace bulkwarden::config
