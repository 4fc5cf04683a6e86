#include "config/PolicyLoader.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/Evaluator.h"

namespace bulkwarden::config {
namespace {

using model::JobField;
using model::JobState;
using policy::Filter;
using policy::Op;
using ::testing::HasSubstr;

const std::vector<std::string> kOrgs = {"acme-prod", "acme-sandbox"};

std::vector<Diagnostic> errorsOf(const std::string& yaml) {
  try {
    parsePolicies(yaml, "p.yaml", &kOrgs);
  } catch (const ConfigError& e) {
    return e.diagnostics();
  }
  return {};
}

// Exactly one diagnostic, at line:col, whose message contains `text`.
void expectError(const std::string& yaml, int line, int col, const std::string& text,
                 const std::string& hint = "") {
  auto d = errorsOf(yaml);
  ASSERT_EQ(d.size(), 1u) << yaml << "\n" << (d.empty() ? "(none)" : d[0].str() + " ...");
  EXPECT_EQ(d[0].where.file, "p.yaml");
  EXPECT_EQ(d[0].where.line, line) << d[0].str();
  EXPECT_EQ(d[0].where.column, col) << d[0].str();
  EXPECT_THAT(d[0].message, HasSubstr(text)) << d[0].str();
  if (!hint.empty()) {
    EXPECT_THAT(d[0].hint, HasSubstr(hint)) << d[0].str();
  }
}

// A valid policy whose filters are `filters` (each line already indented by 6).
std::string policyWith(const std::string& filters, const std::string& resource = "query-jobs") {
  return "policies:\n"
         "  - name: p\n"
         "    resource: " +
         resource +
         "\n"
         "    action: abort\n"
         "    filters:\n" +
         filters;
}

policy::Policy one(const std::string& yaml) {
  auto ps = parsePolicies(yaml, "p.yaml", &kOrgs);
  EXPECT_EQ(ps.size(), 1u);
  return ps.at(0);
}

TEST(PolicyLoader, ReadsEveryKey) {
  auto p = one(R"(policies:
  - name: abort-stuck-queries
    description: Abort query jobs running for more than 30 minutes
    resource: query-jobs
    orgs: [acme-prod]
    mode: enforce
    schedule: { every: 2m }
    filters:
      - state: [InProgress, UploadComplete]
      - older-than: { field: createdDate, age: 30m }
      - not: { createdById: ["005R0000000GiwjIAC"] }
      - object: { regex: "^(Account|Contact)$" }
      - or: [ { operation: query }, { operation: queryAll } ]
    action: abort
)");
  EXPECT_EQ(p.name, "abort-stuck-queries");
  EXPECT_EQ(p.description, "Abort query jobs running for more than 30 minutes");
  EXPECT_EQ(p.resource, model::ResourceKind::Query);
  EXPECT_EQ(p.orgs, std::vector<std::string>{"acme-prod"});
  EXPECT_EQ(p.mode, policy::Mode::Enforce);
  EXPECT_EQ(p.schedule.every, std::chrono::minutes(2));
  EXPECT_EQ(p.action, policy::Action::Abort);
  EXPECT_EQ(p.where.line, 2);
  EXPECT_EQ(p.where.column, 5);
  const Filter& f = p.filter;
  ASSERT_EQ(f.kind, Filter::Kind::All);
  ASSERT_EQ(f.children.size(), 5u);
  EXPECT_EQ(f.children[0].kind, Filter::Kind::State);
  EXPECT_EQ(f.children[0].stateMask,
            (1u << int(JobState::InProgress)) | (1u << int(JobState::UploadComplete)));
  EXPECT_EQ(f.children[0].where.line, 9);
  EXPECT_EQ(f.children[0].where.column, 9);
  EXPECT_EQ(f.children[1].kind, Filter::Kind::OlderThan);
  EXPECT_EQ(f.children[1].age, std::chrono::minutes(30));
  EXPECT_EQ(f.children[2].kind, Filter::Kind::Not);
  ASSERT_EQ(f.children[2].children.size(), 1u);
  EXPECT_EQ(f.children[2].children[0].op, Op::In);
  EXPECT_EQ(f.children[2].children[0].field, JobField::CreatedById);
  EXPECT_EQ(f.children[3].op, Op::Regex);
  ASSERT_TRUE(f.children[3].regex);
  EXPECT_EQ(f.children[4].kind, Filter::Kind::Any);
  EXPECT_EQ(f.children[4].children.size(), 2u);
}

TEST(PolicyLoader, Defaults) {
  auto p = one(policyWith("      - state: InProgress\n"));
  EXPECT_EQ(p.mode, policy::Mode::DryRun);
  EXPECT_EQ(p.schedule.every, std::chrono::minutes(5));
  EXPECT_TRUE(p.orgs.empty());
  EXPECT_TRUE(p.appliesTo("anything"));
}

TEST(PolicyLoader, FilterForms) {
  auto f = one(policyWith("      - older-than: 2h\n"
                          "      - older-than: { field: systemModstamp, age: 1d }\n"
                          "      - object: Account\n"
                          "      - object: [Account, Contact]\n"
                          "      - apiVersion: { gt: 58.0, le: \"66.0\" }\n"
                          "      - createdDate: { lt: 2026-01-01T00:00:00.000+0000 }\n"
                          "      - jobType: { ne: Classic }\n"
                          "      - object: { glob: \"*__c\" }\n"
                          "      - createdById: { not-in: 005A }\n"
                          "      - and: [ { state: InProgress }, { object: Lead } ]\n"
                          "      - not: [ { state: InProgress }, { object: Lead } ]\n"
                          "      - state: { ne: Failed }\n"
                          "      - state: { in: [InProgress, Failed], not-in: Failed }\n"))
               .filter.children;
  ASSERT_EQ(f.size(), 13u);
  EXPECT_EQ(f[0].timeField, JobField::CreatedDate);
  EXPECT_EQ(f[0].age, std::chrono::hours(2));
  EXPECT_EQ(f[1].timeField, JobField::SystemModstamp);
  EXPECT_EQ(f[1].age, std::chrono::hours(24));
  EXPECT_EQ(f[2].op, Op::Eq);
  EXPECT_EQ(f[2].values, std::vector<std::string>{"Account"});
  EXPECT_EQ(f[3].op, Op::In);
  EXPECT_EQ(f[3].values.size(), 2u);
  EXPECT_EQ(f[4].kind, Filter::Kind::All);  // several operators: all must hold
  ASSERT_EQ(f[4].children.size(), 2u);
  EXPECT_EQ(f[4].children[0].op, Op::Gt);
  EXPECT_EQ(f[4].children[1].op, Op::Le);
  EXPECT_EQ(f[5].op, Op::Lt);
  ASSERT_EQ(f[5].times.size(), 1u);
  EXPECT_EQ(f[5].times[0], *model::parseTimestamp("2026-01-01T00:00:00Z"));
  EXPECT_EQ(f[6].op, Op::Ne);
  EXPECT_EQ(f[7].op, Op::Glob);
  EXPECT_EQ(f[8].op, Op::NotIn);
  EXPECT_EQ(f[9].kind, Filter::Kind::All);
  EXPECT_EQ(f[10].kind, Filter::Kind::Not);
  EXPECT_EQ(f[10].children[0].kind, Filter::Kind::All);
  EXPECT_EQ(f[11].kind, Filter::Kind::State);
  EXPECT_EQ(f[11].stateMask & (1u << int(JobState::Failed)), 0u);
  EXPECT_NE(f[11].stateMask & (1u << int(JobState::InProgress)), 0u);
  EXPECT_EQ(f[12].stateMask, 1u << int(JobState::InProgress));
}

TEST(PolicyLoader, LoadedFiltersEvaluate) {
  auto p =
      one(policyWith("      - state: [InProgress, UploadComplete]\n"
                     "      - older-than: 30m\n"
                     "      - object: { regex: \"^(Account|Contact)$\" }\n"
                     "      - not: { createdById: 005SAFE }\n"));
  auto now = *model::parseTimestamp("2026-03-01T12:00:00Z");
  model::Job j;
  j.object = "Account";
  j.state = JobState::InProgress;
  j.createdById = "005X";
  j.createdDate = now - std::chrono::minutes(31);
  EXPECT_TRUE(policy::matches(p.filter, j, now));
  j.createdById = "005SAFE";
  EXPECT_FALSE(policy::matches(p.filter, j, now));
}

TEST(PolicyLoader, OpenIsAValidIngestState) {
  auto p = one(policyWith("      - state: Open\n", "ingest-jobs"));
  EXPECT_EQ(p.filter.children[0].stateMask, 1u << int(JobState::Open));
}

TEST(PolicyLoader, UnknownKeys) {
  expectError("policies: []\nextra: 1\n", 2, 1, "unknown key 'extra'", "valid keys: policies");
  expectError("polices: []\n", 1, 1, "unknown key 'polices'", "did you mean 'policies'?");
  expectError(policyWith("      - state: InProgress\n") + "    actoin: abort\n", 7, 5,
              "unknown key 'actoin' in a policy", "did you mean 'action'?");
  expectError(policyWith("      - stat: InProgress\n"), 6, 9, "unknown filter 'stat'",
              "did you mean 'state'?");
  expectError(policyWith("      - objectName: Account\n"), 6, 9, "unknown filter 'objectName'",
              "did you mean 'object'?");
  expectError(policyWith("      - object: { regexp: x }\n"), 6, 19, "unknown operator 'regexp'",
              "did you mean 'regex'?");
  expectError(policyWith("      - older-than: { field: createdDate, ag: 1h }\n"), 6, 43,
              "unknown key 'ag' in older-than");
}

TEST(PolicyLoader, WrongTypes) {
  expectError(policyWith("      - state: { a: b }\n"), 6, 18, "operator 'a' is not available");
  expectError(policyWith("      - state: [ [InProgress] ]\n"), 6, 18,
              "expected a state, got a list");
  expectError("policies: { name: x }\n", 1, 11, "expected a list of policies, got a map");
  expectError("policies:\n  - just-a-name\n", 2, 5, "expected a policy, got a value");
  expectError(policyWith("      state: InProgress\n"), 6, 7,
              "expected a list of filters for 'filters', got a map");
  expectError(policyWith("      - InProgress\n"), 6, 9, "expected a filter such as");
  expectError(policyWith("      - or: { state: InProgress }\n"), 6, 13,
              "expected a list of filters for 'or', got a map");
  expectError(policyWith("      - older-than: [1h]\n"), 6, 21, "expected a duration such as 30m");
  expectError(policyWith("      - object:\n"), 6, 9, "got nothing");
  expectError(policyWith("      - object: { eq: [a, b] }\n"), 6, 23,
              "expected a value for 'eq', got a list", "use in:");
  expectError(policyWith("      - state: InProgress\n") + "    orgs: { a: b }\n", 7, 11,
              "expected a list of org names, got a map");
  expectError(policyWith("      - state: InProgress\n") + "    schedule: 5m\n", 7, 15,
              "expected a schedule such as { every: 5m } or { cron:");
  expectError(policyWith("      - state: InProgress\n      - older-than: 1h\n        object: x\n"),
              7, 9, "a filter entry has exactly one key; this one has 2 (older-than, object)");
}

TEST(PolicyLoader, BadValues) {
  expectError(policyWith("      - state: Running\n"), 6, 16, "unknown state 'Running'",
              "states: Open, UploadComplete");
  expectError(policyWith("      - state: inprogress\n"), 6, 16, "unknown state 'inprogress'",
              "did you mean 'InProgress'?");
  expectError(policyWith("      - state: [InProgress, Open]\n"), 6, 29,
              "query jobs are never Open");
  expectError(policyWith("      - older-than: 30\n"), 6, 21, "bad duration '30'", "30s, 45m");
  expectError(policyWith("      - older-than: { field: createdDate, age: 3 weeks }\n"), 6, 48,
              "bad duration '3 weeks'");
  expectError(policyWith("      - older-than: { field: object, age: 1h }\n"), 6, 30,
              "older-than works on createdDate or systemModstamp, not 'object'");
  expectError(policyWith("      - object: { regex: \"(Account\" }\n"), 6, 26,
              "bad regex '(Account': ");
  expectError(policyWith("      - object: { glob: \"Acc[\" }\n"), 6, 25, "bad glob 'Acc['");
  expectError(policyWith("      - createdDate: { gt: yesterday }\n"), 6, 28,
              "bad timestamp 'yesterday' for createdDate", "2026-01-31T00:00:00Z");
  expectError(policyWith("      - createdDate: { gt: 2026-01-01 }\n"), 6, 28,
              "bad timestamp '2026-01-01'");
  expectError(policyWith("      - systemModstamp: { regex: x }\n"), 6, 27,
              "'regex' is not available for systemModstamp (a timestamp)");
  expectError(policyWith("      - object: []\n"), 6, 17, "empty list for 'in'");
  expectError(policyWith("      - state: []\n"), 6, 16, "empty list of states");
  expectError(policyWith("      - in-state-for: 30\n"), 6, 23, "bad duration '30'");
  expectError(policyWith(""), 5, 5, "expected a list of filters for 'filters', got nothing");
  expectError(policyWith("      []\n"), 6, 7, "a policy needs at least one filter");
}

TEST(PolicyLoader, PolicyKeys) {
  const std::string filters = "    filters: [ { state: InProgress } ]\n";
  expectError(
      "policies:\n  - name: Bad_Name\n    resource: query-jobs\n    action: abort\n" + filters, 2,
      11, "bad policy name 'Bad_Name'");
  expectError("policies:\n  - resource: query-jobs\n    action: abort\n" + filters, 2, 5,
              "missing key 'name' in a policy");
  expectError("policies:\n  - name: a\n    resource: query-jobs\n" + filters, 2, 5,
              "missing key 'action'");
  expectError("policies:\n  - name: a\n    resource: query-jobs\n    action: kill\n" + filters, 4,
              13, "unknown action 'kill'");
  expectError("policies:\n  - name: a\n    resource: bulk-jobs\n    action: abort\n" + filters, 3,
              15, "unknown resource 'bulk-jobs'");
  expectError("policies:\n  - name: a\n    action: abort\n" + filters, 2, 5,
              "missing key 'resource'");
  expectError(
      "policies:\n  - name: a\n    resource: query-jobs\n    action: abort\n"
      "    mode: on\n" +
          filters,
      5, 11, "unknown mode 'on'", "enforce or dry-run");
  expectError(
      "policies:\n  - name: a\n    resource: query-jobs\n    action: abort\n"
      "    orgs: [acme-prd]\n" +
          filters,
      5, 12, "unknown org 'acme-prd'", "did you mean 'acme-prod'?");
  expectError(
      "policies:\n  - name: a\n    resource: query-jobs\n    action: abort\n"
      "    schedule: { cron: \"*/5 * * *\" }\n" +
          filters,
      5, 23, "bad cron '*/5 * * *': expected 5 fields");
  expectError(
      "policies:\n  - name: a\n    resource: query-jobs\n    action: abort\n"
      "    schedule: { every: 500ms }\n" +
          filters,
      5, 24, "schedule every 500ms is out of range");
  expectError(
      "policies:\n  - name: a\n    resource: query-jobs\n    action: abort\n"
      "    limits: { max-actions: -3 }\n" +
          filters,
      5, 28, "bad max-actions '-3'");
  expectError(
      "policies:\n  - name: a\n    resource: query-jobs\n    action: abort\n"
      "    exempt: {}\n" +
          filters,
      5, 13, "expected a list of exemptions, got a map");
  expectError("policies:\n  - name: a\n    name: b\n    resource: query-jobs\n    action: abort\n" +
                  filters,
              3, 5, "duplicate key 'name' in a policy");
}

TEST(PolicyLoader, DuplicateNamesInOneFile) {
  std::string p =
      "  - name: a\n    resource: query-jobs\n    action: abort\n"
      "    filters: [ { state: InProgress } ]\n";
  auto d = errorsOf("policies:\n" + p + p);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].where.line, 6);
  EXPECT_THAT(d[0].message, HasSubstr("duplicate policy name 'a'; first defined at p.yaml:2:11"));
}

TEST(PolicyLoader, CollectsEveryProblem) {
  auto d = errorsOf(R"(policies:
  - name: a
    resource: query-jobs
    action: abort
    filters:
      - state: Open
      - older-than: 5
      - object: { regex: "(" }
  - name: B
    resource: nope
    action: abort
    filters: [ { frobnicate: 1 } ]
)");
  ASSERT_EQ(d.size(), 6u);
  EXPECT_EQ(d[0].where.line, 6);
  EXPECT_EQ(d[1].where.line, 7);
  EXPECT_EQ(d[2].where.line, 8);
  EXPECT_EQ(d[3].where.line, 9);
  EXPECT_EQ(d[4].where.line, 10);
  EXPECT_EQ(d[5].where.line, 12);
}

TEST(PolicyLoader, RefusesAnchorsAliasesAndDepth) {
  expectError("policies:\n  - &p\n    name: a\n", 2, 5, "YAML anchors (&name) are not allowed");
  expectError("base: &b x\npolicies: []\n", 1, 7, "anchors");
  expectError("policies:\n  - name: a\n    description: *x\n", 3, 18, "anchor is not defined");
  expectError("a: &x 1\nb: *x\n", 1, 4, "anchors");
  // An alias bomb is refused before it expands.
  std::string bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n";
  for (char c = 'b'; c <= 'k'; ++c) {
    bomb += fmt::format("{}: &{} [*{},*{},*{},*{},*{},*{},*{},*{},*{}]\n", c, c, c - 1, c - 1,
                        c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
  }
  expectError(bomb, 1, 4, "anchors");
  std::string deep = "policies: " + std::string(20, '[') + std::string(20, ']') + "\n";
  expectError(deep, 1, 26, "nesting deeper than 16 levels");
  std::string deeper = "policies: " + std::string(5000, '[') + std::string(5000, ']') + "\n";
  auto d = errorsOf(deeper);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_THAT(d[0].message, HasSubstr("nesting deeper than"));
}

TEST(PolicyLoader, SyntaxErrorsAndOddDocuments) {
  auto d = errorsOf("policies:\n  - name: [a\n");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_THAT(d[0].message, HasSubstr("YAML syntax error"));
  EXPECT_GT(d[0].where.line, 0);
  expectError("policies: []\n---\npolicies: []\n", 2, 1, "found a second one");
  d = errorsOf("");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_THAT(d[0].message, HasSubstr("the policy file is empty"));
  expectError("- a\n", 1, 1, "expected a policy file (a map with 'policies:'), got a list");
  EXPECT_TRUE(parsePolicies("policies: []\n", "p.yaml").empty());
}

TEST(PolicyLoader, WhatIsPrintsEveryDiagnosticOnItsOwnLine) {
  try {
    parsePolicies("policies: []\nx: 1\ny: 2\n", "p.yaml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "p.yaml:2:1: unknown key 'x' in a policy file (a map with 'policies:') (valid "
              "keys: policies)\n"
              "p.yaml:3:1: unknown key 'y' in a policy file (a map with 'policies:') (valid "
              "keys: policies)");
  }
}

}  // namespace
}  // namespace bulkwarden::config

namespace bulkwarden::config {
namespace {

// Every prefix and every one-byte corruption of a valid file either loads or gives ConfigError;
// nothing else escapes (no YAML exception, no crash).
TEST(PolicyLoader, HostileEditsGiveOnlyConfigErrors) {
  const std::string good = R"(policies:
  - name: p
    resource: query-jobs
    orgs: [acme-prod]
    schedule: { every: 5m }
    filters:
      - state: [InProgress, UploadComplete]
      - older-than: { field: createdDate, age: 30m }
      - not: { createdById: ["005R0000000GiwjIAC"] }
      - object: { regex: "^(Account|Contact)$" }
      - or: [ { operation: query }, { apiVersion: { gt: 58.0 } } ]
    action: abort
)";
  auto load = [](const std::string& text) {
    try {
      parsePolicies(text, "p.yaml", &kOrgs);
    } catch (const ConfigError& e) {
      EXPECT_FALSE(e.diagnostics().empty());
    }
  };
  for (size_t n = 0; n <= good.size(); ++n) load(good.substr(0, n));
  for (size_t i = 0; i < good.size(); ++i) {
    for (char c : {'&', '*', '[', '{', ':', '-', '\0', '\t', '"', '!', '\xff'}) {
      std::string bad = good;
      bad[i] = c;
      load(bad);
    }
  }
}

}  // namespace
}  // namespace bulkwarden::config

namespace bulkwarden::config {
namespace {

const char kHead[] = "policies:\n  - name: a\n    resource: query-jobs\n    action: abort\n";
const char kFilters[] = "    filters:\n      - state: InProgress\n";

TEST(PolicyLoaderHints, ATabInAListItemSaysTabsAreForbidden) {
  auto d = errorsOf(std::string(kHead) + "    filters:\n      -\tstate: InProgress\n");
  ASSERT_FALSE(d.empty());
  EXPECT_EQ(d[0].where.file, "p.yaml");
  EXPECT_GE(d[0].where.line, 5) << d[0].str();
  EXPECT_THAT(d[0].message, HasSubstr("YAML syntax error")) << d[0].str();
  EXPECT_THAT(d[0].hint, HasSubstr("YAML forbids tabs for indentation; use spaces")) << d[0].str();
  // Indentation by a tab before the dash too.
  auto d2 = errorsOf(std::string(kHead) + "    filters:\n\t- state: InProgress\n");
  ASSERT_FALSE(d2.empty());
  EXPECT_THAT(d2[0].hint, HasSubstr("YAML forbids tabs")) << d2[0].str();
  // A syntax error with no tab gets no tab hint.
  auto d3 = errorsOf(std::string(kHead) + "    filters:\n      - state: [InProgress\n");
  ASSERT_FALSE(d3.empty());
  EXPECT_EQ(d3[0].hint.find("tabs"), std::string::npos) << d3[0].str();
}

TEST(PolicyLoaderHints, AMisspeltDayNameGetsADidYouMean) {
  expectError(
      std::string(kHead) +
          "    windows: { allow: [ { days: mon-fry, from: \"08:00\", to: \"18:00\" } ] }\n" +
          kFilters,
      5, 33, "bad days 'mon-fry'", "did you mean fri?");
  expectError(std::string(kHead) + "    schedule: { cron: \"0 2 * * mon-fry\" }\n" + kFilters, 5,
              23, "bad cron '0 2 * * mon-fry'", "did you mean fri?");
  // Nothing like a day: the usage, not a guess.
  auto d =
      errorsOf(std::string(kHead) +
               "    windows: { allow: [ { days: weekdays, from: \"08:00\", to: \"18:00\" } ] }\n" +
               kFilters);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].hint.find("did you mean"), std::string::npos) << d[0].str();
}

TEST(PolicyLoaderHints, AMisspeltTimeZoneGetsADidYouMean) {
  expectError(std::string(kHead) +
                  "    schedule: { cron: \"0 2 * * 1-5\", timezone: Europe/Pariss }\n" + kFilters,
              5, 48, "bad time zone 'Europe/Pariss'", "did you mean Europe/Paris?");
  expectError(std::string(kHead) +
                  "    schedule: { cron: \"0 2 * * *\", timezone: america/new_yrok }\n" + kFilters,
              5, 46, "bad time zone 'america/new_yrok'", "did you mean America/New_York?");
}

TEST(PolicyLoaderHints, OnLimitIsHoldOrCap) {
  auto ps = parsePolicies(std::string(kHead) +
                              "    limits: { max-actions: 50, max-percent: 25, on-limit: cap }\n" +
                              kFilters,
                          "p.yaml", &kOrgs);
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].limits.onLimit, policy::Limits::OnLimit::Cap);
  EXPECT_EQ(ps[0].limits.maxActions, 50);
  auto held = parsePolicies(std::string(kHead) + "    limits: { max-actions: 50 }\n" + kFilters,
                            "p.yaml", &kOrgs);
  EXPECT_EQ(held[0].limits.onLimit, policy::Limits::OnLimit::Hold);
  expectError(std::string(kHead) + "    limits: { max-actions: 5, on-limit: trim }\n" + kFilters, 5,
              41, "bad on-limit 'trim'", "hold");
  expectError(std::string(kHead) + "    limits: { on-limit: cap }\n" + kFilters, 5, 15,
              "on-limit without a limit", "max-actions");
}

}  // namespace
}  // namespace bulkwarden::config
