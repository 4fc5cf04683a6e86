// Policy loader: schedules (every, cron + timezone), windows, limits, exemptions, in-state-for,
// and policies that can never match or never succeed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "PolicyDiagnostics.h"
#include "config/PolicyLoader.h"

namespace bulkwarden::config {
namespace {

using ::testing::HasSubstr;

const std::string& kHead = testing::kPolicyHead;

using testing::policyErrors;

void expectError(const std::string& yaml, int line, int col, const std::string& text) {
  auto d = policyErrors(yaml);
  ASSERT_EQ(d.size(), 1u) << yaml << "\n" << (d.empty() ? "(none)" : d[0].str());
  EXPECT_EQ(d[0].where.line, line) << d[0].str();
  EXPECT_EQ(d[0].where.column, col) << d[0].str();
  EXPECT_THAT(d[0].message, HasSubstr(text)) << d[0].str();
  EXPECT_FALSE(d[0].hint.empty()) << d[0].str();
}

TEST(PolicyLoaderFeatures, EverythingTogether) {
  auto ps = parsePolicies(kHead +
                              "    schedule: { cron: \"*/5 8-18 * * mon-fri\", timezone: "
                              "Europe/Paris }\n"
                              "    windows:\n"
                              "      allow: [ { days: mon-fri, from: \"08:00\", to: \"18:00\" } ]\n"
                              "      deny: [ { from: \"12:00\", to: \"13:00\" } ]\n"
                              "      timezone: America/New_York\n"
                              "    limits: { max-actions: 100, max-percent: 25 }\n"
                              "    exempt:\n"
                              "      - { job: 750R0000000zlh9IAA, until: 2026-12-31T00:00:00Z, "
                              "reason: nightly export }\n"
                              "      - { createdById: 005R0000000GiwjIAC }\n"
                              "      - { object: Account, reason: finance }\n",
                          "p.yaml");
  ASSERT_EQ(ps.size(), 1u);
  const auto& p = ps[0];
  ASSERT_TRUE(p.schedule.cron);
  EXPECT_EQ(p.schedule.zone->name(), "Europe/Paris");
  EXPECT_EQ(p.windows.allow.size(), 1u);
  EXPECT_EQ(p.windows.deny.size(), 1u);
  EXPECT_EQ(p.windows.zone->name(), "America/New_York");
  EXPECT_EQ(*p.limits.maxActions, 100);
  EXPECT_EQ(*p.limits.maxPercent, 25.0);
  ASSERT_EQ(p.exempt.size(), 3u);
  EXPECT_EQ(p.exempt[0].reason, "nightly export");
  EXPECT_TRUE(p.exempt[0].until);
  EXPECT_EQ(p.exempt[1].by, policy::Exemption::By::CreatedById);
  EXPECT_EQ(p.exempt[2].by, policy::Exemption::By::Object);
}

TEST(PolicyLoaderFeatures, InStateForNestedInOrAndNot) {
  auto ps = parsePolicies(
      "policies:\n  - name: p\n    resource: ingest-jobs\n    action: abort\n    filters:\n"
      "      - or: [ { in-state-for: 30m }, { not: { and: [ { in-state-for: 2h } ] } } ]\n",
      "p.yaml");
  ASSERT_EQ(ps.size(), 1u);
  const auto& any = ps[0].filter.children.at(0);
  EXPECT_EQ(any.children.at(0).kind, policy::Filter::Kind::InStateFor);
  EXPECT_EQ(any.children.at(0).age, std::chrono::minutes(30));
}

TEST(PolicyLoaderFeatures, EveryMessage) {
  expectError(kHead + "    schedule: { cron: \"61 * * * *\" }\n", 6, 23,
              "bad cron '61 * * * *': minute field");
  expectError(kHead + "    schedule: { cron: \"0 0 30 2 *\" }\n", 6, 23, "never fires");
  expectError(kHead + "    schedule: { cron: \"* * * * *\", timezone: Europe/Pariss }\n", 6, 46,
              "bad time zone 'Europe/Pariss'");
  expectError(kHead + "    schedule: { every: 5m, cron: \"* * * * *\" }\n", 6, 28,
              "either 'every' or 'cron'");
  expectError(kHead + "    schedule: { every: 5m, timezone: UTC }\n", 6, 28,
              "'timezone' goes with 'cron'");
  expectError(kHead + "    schedule: { every: 5m, tz: UTC }\n", 6, 28, "unknown key 'tz'");
  expectError(
      kHead + "    windows: { allow: [ { days: mon-fry, from: \"08:00\", to: \"18:00\" } ] }\n", 6,
      33, "bad days 'mon-fry'");
  expectError(kHead + "    windows: { allow: [ { from: \"8am\", to: \"18:00\" } ] }\n", 6, 33,
              "bad time of day '8am'");
  expectError(kHead + "    windows: { allow: [ { from: \"08:00\", to: \"08:00\" } ] }\n", 6, 46,
              "empty");
  expectError(kHead + "    windows: { timezone: UTC }\n", 6, 14, "windows need 'allow' or 'deny'");
  expectError(kHead + "    limits: { max-percent: 150 }\n", 6, 28, "bad max-percent '150'");
  expectError(kHead + "    limits: { max-action: 1 }\n", 6, 15, "unknown key 'max-action'");
  expectError(kHead + "    exempt: [ { job: a, object: b } ]\n", 6, 15,
              "exactly one of job, createdById or object");
  expectError(kHead + "    exempt: [ { job: a, until: tomorrow } ]\n", 6, 32,
              "bad time 'tomorrow'");
}

TEST(PolicyLoaderFeatures, PoliciesThatCanNeverMatchOrSucceed) {
  const std::string head = "policies:\n  - name: p\n    resource: ingest-jobs\n";
  expectError(head +
                  "    action: abort\n    filters:\n      - state: InProgress\n"
                  "      - state: JobComplete\n",
              7, 9, "contradict");
  expectError(head + "    action: delete\n    filters:\n      - state: [InProgress, Open]\n", 6, 9,
              "delete only works on finished jobs");
  expectError(head + "    action: abort\n    filters:\n      - state: [JobComplete, Aborted]\n", 6,
              9, "abort only works on unfinished jobs");
}

}  // namespace
}  // namespace bulkwarden::config
