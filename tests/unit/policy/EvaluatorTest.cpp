#include "policy/Evaluator.h"

#include <gtest/gtest.h>

#include <initializer_list>

#include "policy/Glob.h"

namespace bulkwarden::policy {
namespace {

using namespace std::chrono;
using model::Job;
using model::JobField;
using model::JobState;
using model::Timestamp;

Timestamp ts(const char* text) { return *model::parseTimestamp(text); }

const Timestamp kNow = ts("2026-03-01T12:00:00Z");

Job job(JobState state = JobState::InProgress, minutes age = minutes(45)) {
  Job j;
  j.kind = model::ResourceKind::Query;
  j.id = "750R0000000zhfdIAA";
  j.operation = "query";
  j.object = "Account";
  j.createdById = "005R0000000GiwjIAC";
  j.createdDate = kNow - age;
  j.systemModstamp = kNow - minutes(5);
  j.state = state;
  j.concurrencyMode = "Parallel";
  j.contentType = "CSV";
  j.apiVersion = "62.0";
  j.jobType = "V2Query";
  j.lineEnding = "LF";
  j.columnDelimiter = "COMMA";
  return j;
}

Filter stateF(std::initializer_list<JobState> states) {
  Filter f;
  f.kind = Filter::Kind::State;
  for (JobState s : states) f.stateMask |= 1u << static_cast<unsigned>(s);
  return f;
}

Filter olderF(model::Duration age, JobField field = JobField::CreatedDate) {
  Filter f;
  f.kind = Filter::Kind::OlderThan;
  f.timeField = field;
  f.age = age;
  return f;
}

Filter fieldF(JobField field, Op op, std::vector<std::string> values) {
  Filter f;
  f.kind = Filter::Kind::Field;
  f.field = field;
  f.op = op;
  f.values = values;
  if (model::isTimeField(field)) {
    for (const auto& v : values) f.times.push_back(ts(v.c_str()));
  }
  if (op == Op::Regex) f.regex = std::make_shared<const Regex>(values.at(0));
  return f;
}

Filter group(Filter::Kind kind, std::vector<Filter> children) {
  Filter f;
  f.kind = kind;
  f.children = std::move(children);
  return f;
}

Filter notF(Filter child) { return group(Filter::Kind::Not, {std::move(child)}); }

struct Row {
  const char* name;
  Filter filter;
  Job job;
  bool expected;
};

void check(const std::vector<Row>& rows) {
  for (const Row& r : rows) {
    EXPECT_EQ(matches(r.filter, r.job, kNow), r.expected) << r.name;
  }
}

TEST(Evaluator, State) {
  check({
      {"single hit", stateF({JobState::InProgress}), job(JobState::InProgress), true},
      {"single miss", stateF({JobState::InProgress}), job(JobState::JobComplete), false},
      {"list hit", stateF({JobState::InProgress, JobState::UploadComplete}),
       job(JobState::UploadComplete), true},
      {"list miss", stateF({JobState::InProgress, JobState::UploadComplete}),
       job(JobState::Aborted), false},
      {"open", stateF({JobState::Open}), job(JobState::Open), true},
      {"empty mask", stateF({}), job(JobState::Open), false},
  });
}

TEST(Evaluator, OlderThanIsStrict) {
  check({
      {"older", olderF(minutes(30)), job(JobState::InProgress, minutes(31)), true},
      {"exactly equal is not older", olderF(minutes(30)), job(JobState::InProgress, minutes(30)),
       false},
      {"one ms past", olderF(minutes(30) - milliseconds(1)), job(JobState::InProgress, minutes(30)),
       true},
      {"younger", olderF(minutes(30)), job(JobState::InProgress, minutes(29)), false},
      {"in the future is never older", olderF(minutes(1)), job(JobState::InProgress, minutes(-600)),
       false},
      {"systemModstamp", olderF(minutes(4), JobField::SystemModstamp), job(), true},
      {"systemModstamp younger", olderF(minutes(6), JobField::SystemModstamp), job(), false},
  });
}

TEST(Evaluator, TextEqualityAndSets) {
  check({
      {"eq", fieldF(JobField::Object, Op::Eq, {"Account"}), job(), true},
      {"eq is case-sensitive", fieldF(JobField::Object, Op::Eq, {"account"}), job(), false},
      {"eq is exact", fieldF(JobField::Object, Op::Eq, {"Acc"}), job(), false},
      {"ne", fieldF(JobField::Object, Op::Ne, {"Contact"}), job(), true},
      {"ne same", fieldF(JobField::Object, Op::Ne, {"Account"}), job(), false},
      {"in", fieldF(JobField::Operation, Op::In, {"query", "queryAll"}), job(), true},
      {"in miss", fieldF(JobField::Operation, Op::In, {"insert", "queryAll"}), job(), false},
      {"not-in", fieldF(JobField::CreatedById, Op::NotIn, {"005X"}), job(), true},
      {"not-in hit", fieldF(JobField::CreatedById, Op::NotIn, {"005X", "005R0000000GiwjIAC"}),
       job(), false},
      {"state as a text field", fieldF(JobField::State, Op::Eq, {"InProgress"}), job(), true},
      {"id", fieldF(JobField::Id, Op::Eq, {"750R0000000zhfdIAA"}), job(), true},
      {"jobType", fieldF(JobField::JobType, Op::Eq, {"V2Query"}), job(), true},
      {"lineEnding", fieldF(JobField::LineEnding, Op::Ne, {"CRLF"}), job(), true},
      {"columnDelimiter", fieldF(JobField::ColumnDelimiter, Op::In, {"COMMA", "TAB"}), job(), true},
      {"contentType", fieldF(JobField::ContentType, Op::Eq, {"CSV"}), job(), true},
      {"concurrencyMode", fieldF(JobField::ConcurrencyMode, Op::Eq, {"Serial"}), job(), false},
  });
}

TEST(Evaluator, RegexSearchesUnlessAnchored) {
  check({
      {"search", fieldF(JobField::Object, Op::Regex, {"cou"}), job(), true},
      {"anchored start", fieldF(JobField::Object, Op::Regex, {"^cou"}), job(), false},
      {"anchored both", fieldF(JobField::Object, Op::Regex, {"^(Account|Contact)$"}), job(), true},
      {"anchored both miss", fieldF(JobField::Object, Op::Regex, {"^(Acc|Contact)$"}), job(),
       false},
      {"case-sensitive", fieldF(JobField::Object, Op::Regex, {"account"}), job(), false},
      {"inline caseless", fieldF(JobField::Object, Op::Regex, {"(?i)^account$"}), job(), true},
      {"state regex", fieldF(JobField::State, Op::Regex, {"Progress$"}), job(), true},
      {"empty matches anything", fieldF(JobField::Object, Op::Regex, {""}), job(), true},
  });
}

TEST(Evaluator, Glob) {
  check({
      {"star", fieldF(JobField::Object, Op::Glob, {"Acc*"}), job(), true},
      {"whole text", fieldF(JobField::Object, Op::Glob, {"cc*"}), job(), false},
      {"question", fieldF(JobField::Object, Op::Glob, {"Accoun?"}), job(), true},
      {"bracket", fieldF(JobField::Object, Op::Glob, {"[AB]ccount"}), job(), true},
      {"negated bracket", fieldF(JobField::Object, Op::Glob, {"[!A]ccount"}), job(), false},
      {"custom objects", fieldF(JobField::Object, Op::Glob, {"*__c"}), job(), false},
  });
  EXPECT_TRUE(globMatch("*__c", "Invoice__c"));
  EXPECT_TRUE(globMatch("*", ""));
  EXPECT_FALSE(globMatch("?", ""));
  EXPECT_TRUE(globMatch("a*b*c", "aXXbYYbc"));
  EXPECT_FALSE(globMatch("a*b*c", "aXXbYYbcd"));
  EXPECT_TRUE(globMatch("[a-c]x", "bx"));
  EXPECT_FALSE(globMatch("[a-c]x", "dx"));
  EXPECT_TRUE(globMatch("[^a-c]x", "dx"));
  EXPECT_TRUE(globMatch("a\\*", "a*"));
  EXPECT_FALSE(globMatch("a\\*", "ab"));
  EXPECT_TRUE(globMatch("[]]", "]"));
  EXPECT_TRUE(globMatch("a[", "a["));  // an unclosed bracket is literal
  EXPECT_TRUE(globMatch("**a", "bba"));
  // A pathological pattern stays fast (no exponential backtracking).
  EXPECT_FALSE(globMatch("a*a*a*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
  EXPECT_FALSE(globError("Acc*").has_value());
  EXPECT_TRUE(globError("Acc[").has_value());
  EXPECT_TRUE(globError("Acc\\").has_value());
}

TEST(Evaluator, OrderingIsNumericWhenBothSidesAreNumbers) {
  check({
      {"62.0 > 58.0", fieldF(JobField::ApiVersion, Op::Gt, {"58.0"}), job(), true},
      {"62.0 > 100.0 numerically false", fieldF(JobField::ApiVersion, Op::Gt, {"100.0"}), job(),
       false},
      {"62.0 >= 62", fieldF(JobField::ApiVersion, Op::Ge, {"62"}), job(), true},
      {"62.0 < 62 false", fieldF(JobField::ApiVersion, Op::Lt, {"62"}), job(), false},
      {"62.0 <= 62.0", fieldF(JobField::ApiVersion, Op::Le, {"62.0"}), job(), true},
      {"62.0 < 9 false (numeric, not lexicographic)", fieldF(JobField::ApiVersion, Op::Lt, {"9"}),
       job(), false},
      {"lexicographic Account > Aardvark", fieldF(JobField::Object, Op::Gt, {"Aardvark"}), job(),
       true},
      {"lexicographic Account < B", fieldF(JobField::Object, Op::Lt, {"B"}), job(), true},
      {"mixed falls back to text", fieldF(JobField::Object, Op::Gt, {"100"}), job(), true},
  });
  Job j = job();
  j.apiVersion = "";
  EXPECT_FALSE(matches(fieldF(JobField::ApiVersion, Op::Gt, {"1"}), j, kNow));
  j.apiVersion = "inf";
  EXPECT_TRUE(matches(fieldF(JobField::ApiVersion, Op::Gt, {"1"}), j, kNow));  // text: 'i' > '1'
}

TEST(Evaluator, TimeFieldsCompareTimestamps) {
  Job j = job();
  j.createdDate = ts("2026-01-15T10:00:00.000+0000");
  auto f = [](Op op, std::vector<std::string> v) {
    return fieldF(JobField::CreatedDate, op, std::move(v));
  };
  check({
      {"gt", f(Op::Gt, {"2026-01-01T00:00:00Z"}), j, true},
      {"gt other offset", f(Op::Gt, {"2026-01-15T11:00:00+02:00"}), j, true},
      {"gt equal false", f(Op::Gt, {"2026-01-15T10:00:00Z"}), j, false},
      {"ge equal", f(Op::Ge, {"2026-01-15T10:00:00Z"}), j, true},
      {"lt", f(Op::Lt, {"2026-02-01T00:00:00Z"}), j, true},
      {"le", f(Op::Le, {"2026-01-15T09:59:59Z"}), j, false},
      {"eq", f(Op::Eq, {"2026-01-15T10:00:00.000+0000"}), j, true},
      {"ne", f(Op::Ne, {"2026-01-15T10:00:00Z"}), j, false},
      {"in", f(Op::In, {"2020-01-01T00:00:00Z", "2026-01-15T10:00:00Z"}), j, true},
      {"not-in", f(Op::NotIn, {"2020-01-01T00:00:00Z"}), j, true},
  });
  EXPECT_TRUE(matches(fieldF(JobField::SystemModstamp, Op::Gt, {"2026-03-01T11:50:00Z"}), j, kNow));
}

TEST(Evaluator, AllAnyNot) {
  Filter inProgress = stateF({JobState::InProgress});
  Filter old = olderF(minutes(30));
  Filter account = fieldF(JobField::Object, Op::Eq, {"Account"});
  Filter contact = fieldF(JobField::Object, Op::Eq, {"Contact"});
  check({
      {"empty all holds", group(Filter::Kind::All, {}), job(), true},
      {"empty any fails", group(Filter::Kind::Any, {}), job(), false},
      {"all hit", group(Filter::Kind::All, {inProgress, old, account}), job(), true},
      {"all one miss", group(Filter::Kind::All, {inProgress, old, contact}), job(), false},
      {"any one hit", group(Filter::Kind::Any, {contact, account}), job(), true},
      {"any none", group(Filter::Kind::Any, {contact, contact}), job(), false},
      {"not", notF(contact), job(), true},
      {"not hit", notF(account), job(), false},
      {"not of empty all", notF(group(Filter::Kind::All, {})), job(), false},
      {"malformed not never matches", group(Filter::Kind::Not, {}), job(), false},
      {"nested",
       group(Filter::Kind::All, {inProgress, group(Filter::Kind::Any, {contact, notF(contact)}),
                                 notF(group(Filter::Kind::Any, {contact, olderF(hours(2))}))}),
       job(), true},
      {"nested miss",
       group(Filter::Kind::All, {inProgress, notF(group(Filter::Kind::Any, {contact, old}))}),
       job(), false},
  });
}

TEST(Evaluator, ExplainNamesTheFacts) {
  Job j = job(JobState::InProgress, minutes(133));
  Filter f =
      group(Filter::Kind::All, {stateF({JobState::InProgress}), olderF(minutes(30)),
                                fieldF(JobField::Object, Op::Regex, {"^(Account|Contact)$"})});
  ASSERT_TRUE(matches(f, j, kNow));
  EXPECT_EQ(explain(f, j, kNow),
            "state InProgress; createdDate 2h13m ago > 30m; object Account matches "
            "^(Account|Contact)$");

  Filter multi = stateF({JobState::InProgress, JobState::UploadComplete});
  EXPECT_EQ(explain(multi, j, kNow), "state InProgress in [UploadComplete, InProgress]");

  EXPECT_EQ(explain(fieldF(JobField::ApiVersion, Op::Gt, {"58.0"}), j, kNow),
            "apiVersion 62.0 > 58.0");
  EXPECT_EQ(explain(fieldF(JobField::Operation, Op::In, {"query", "queryAll"}), j, kNow),
            "operation query in [query, queryAll]");
  EXPECT_EQ(explain(fieldF(JobField::Object, Op::Glob, {"Acc*"}), j, kNow),
            "object Account matches glob Acc*");
  EXPECT_EQ(explain(fieldF(JobField::Object, Op::Eq, {"Account"}), j, kNow), "object Account");
  std::string n = explain(notF(fieldF(JobField::CreatedById, Op::In, {"005X"})), j, kNow);
  EXPECT_EQ(n, "not createdById in [005X] (createdById is 005R0000000GiwjIAC)");
  std::string any =
      explain(group(Filter::Kind::Any, {fieldF(JobField::Object, Op::Eq, {"Lead"}),
                                        fieldF(JobField::Operation, Op::Eq, {"query"})}),
              j, kNow);
  EXPECT_EQ(any, "operation query");
  EXPECT_EQ(explain(fieldF(JobField::CreatedDate, Op::Lt, {"2027-01-01T00:00:00Z"}), j, kNow),
            "createdDate 2026-03-01T09:47:00.000Z < 2027-01-01T00:00:00.000Z");
  EXPECT_EQ(explain(olderF(hours(24), JobField::SystemModstamp), j, kNow),
            "systemModstamp 5m ago > 1d");
}

TEST(Evaluator, EvaluatePairsInJobThenPolicyOrder) {
  Policy running;
  running.name = "running";
  running.filter = group(Filter::Kind::All, {stateF({JobState::InProgress})});
  Policy old;
  old.name = "old";
  old.filter = group(Filter::Kind::All, {olderF(minutes(30))});
  Policy ingestOnly;
  ingestOnly.name = "ingest";
  ingestOnly.resource = model::ResourceKind::Ingest;
  ingestOnly.filter = group(Filter::Kind::All, {});

  std::vector<Job> jobs = {job(JobState::InProgress, minutes(10)),
                           job(JobState::JobComplete, minutes(40)),
                           job(JobState::InProgress, minutes(40))};
  std::vector<const Policy*> policies = {&running, &old, &ingestOnly};
  auto d = evaluate(jobs, policies, kNow);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0].job, 0u);
  EXPECT_EQ(d[0].policy, &running);
  EXPECT_EQ(d[1].job, 1u);
  EXPECT_EQ(d[1].policy, &old);
  EXPECT_EQ(d[2].job, 2u);
  EXPECT_EQ(d[2].policy, &running);
  EXPECT_EQ(d[3].job, 2u);
  EXPECT_EQ(d[3].policy, &old);

  // A policy never matches a job of the other resource, even when handed one by mistake.
  Job ingest = job();
  ingest.kind = model::ResourceKind::Ingest;
  std::vector<Job> ingestJobs = {ingest};
  auto e = evaluate(ingestJobs, policies, kNow);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].policy, &ingestOnly);

  EXPECT_TRUE(evaluate({}, policies, kNow).empty());
}

}  // namespace
}  // namespace bulkwarden::policy
