// in-state-for in the evaluator, alone and nested under and/or/not, and the deadline helper.
#include <gtest/gtest.h>

#include "policy/Evaluator.h"

namespace bulkwarden::policy {
namespace {

using std::chrono::minutes;

model::Timestamp t(const char* text) { return *model::parseTimestamp(text); }

Filter inState(minutes age) {
  Filter f;
  f.kind = Filter::Kind::InStateFor;
  f.age = age;
  return f;
}
Filter older(minutes age, model::JobField field = model::JobField::CreatedDate) {
  Filter f;
  f.kind = Filter::Kind::OlderThan;
  f.age = age;
  f.timeField = field;
  return f;
}
Filter node(Filter::Kind kind, std::vector<Filter> children) {
  Filter f;
  f.kind = kind;
  f.children = std::move(children);
  return f;
}

struct Row {
  const char* name;
  Filter filter;
  const char* since;
  bool expected;
};

TEST(EvaluatorInState, Table) {
  model::Job job;
  job.id = "750R00000000001AAA";
  job.state = model::JobState::InProgress;
  job.createdDate = t("2026-11-29T10:00:00Z");  // 2h old at noon
  job.systemModstamp = t("2026-11-29T11:50:00Z");
  auto now = t("2026-11-29T12:00:00Z");
  const Row rows[] = {
      {"seen 31m ago > 30m", inState(minutes(30)), "2026-11-29T11:29:00Z", true},
      {"seen 30m ago is not > 30m", inState(minutes(30)), "2026-11-29T11:30:00Z", false},
      {"just seen", inState(minutes(1)), "2026-11-29T12:00:00Z", false},
      {"not in-state-for", node(Filter::Kind::Not, {inState(minutes(30))}), "2026-11-29T11:45:00Z",
       true},
      {"or: in-state-for or old",
       node(Filter::Kind::Any, {inState(minutes(30)), older(minutes(60))}), "2026-11-29T11:59:00Z",
       true},
      {"and: in-state-for and modstamp",
       node(Filter::Kind::All,
            {inState(minutes(5)), older(minutes(20), model::JobField::SystemModstamp)}),
       "2026-11-29T11:00:00Z", false},
      {"and, nested",
       node(Filter::Kind::All,
            {node(Filter::Kind::Any,
                  {node(Filter::Kind::Not, {older(minutes(600))}), inState(minutes(5))}),
             inState(minutes(50))}),
       "2026-11-29T11:00:00Z", true},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(matches(r.filter, job, now, t(r.since)), r.expected) << r.name;
    if (r.expected) {
      EXPECT_FALSE(explain(r.filter, job, now, t(r.since)).empty()) << r.name;
    }
  }
}

TEST(EvaluatorInState, NextMatchFindsTheEarliestCrossing) {
  model::Job job;
  job.state = model::JobState::InProgress;
  job.createdDate = t("2026-11-29T11:50:00Z");
  job.systemModstamp = job.createdDate;
  auto now = t("2026-11-29T12:00:00Z");
  auto since = t("2026-11-29T11:55:00Z");
  auto both = node(Filter::Kind::All, {older(minutes(20)), inState(minutes(30))});
  // older-than holds from 12:10, in-state-for from 12:25: both from 12:25.
  EXPECT_EQ(nextMatch(both, job, now, since, t("2026-11-29T13:00:00Z")),
            t("2026-11-29T12:25:00.001Z"));
  EXPECT_FALSE(nextMatch(both, job, now, since, t("2026-11-29T12:20:00Z")));
  auto either = node(Filter::Kind::Any, {older(minutes(20)), inState(minutes(30))});
  EXPECT_EQ(nextMatch(either, job, now, since, t("2026-11-29T13:00:00Z")),
            t("2026-11-29T12:10:00.001Z"));
  EXPECT_TRUE(hasAgeFilter(either));
  Filter state;
  state.kind = Filter::Kind::State;
  EXPECT_FALSE(hasAgeFilter(state));
}

}  // namespace
}  // namespace bulkwarden::policy
