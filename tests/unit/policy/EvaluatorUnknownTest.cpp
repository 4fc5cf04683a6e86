// The evaluator is three-valued: a filter that cannot be decided (a regex that cannot run) is
// Unknown, Unknown goes through and/or/not by Kleene's rules, and Unknown is never a match, so
// that `not: { object: { regex: ... } }` cannot turn "could not tell" into "act on it".
#include <gtest/gtest.h>

#include "policy/Evaluator.h"
#include "policy/Regex.h"
#include "policy/Truth.h"

namespace bulkwarden::policy {
namespace {

using namespace std::chrono;
using model::Job;
using model::JobField;
using model::JobState;
using model::Timestamp;

const Timestamp kNow = *model::parseTimestamp("2026-03-01T12:00:00Z");

Job job(std::string object = "Account") {
  Job j;
  j.kind = model::ResourceKind::Query;
  j.id = "750R0000000zhfdIAA";
  j.object = std::move(object);
  j.state = JobState::InProgress;
  j.createdDate = kNow - minutes(45);
  j.systemModstamp = kNow - minutes(5);
  return j;
}

Filter leaf(JobField field, Op op, std::string value) {
  Filter f;
  f.kind = Filter::Kind::Field;
  f.field = field;
  f.op = op;
  f.values = {std::move(value)};
  return f;
}

// The seam: an RE2 whose memory budget is too small to compile anything, so that every search
// is undecidable, as any matcher that gives up would be.
Filter undecidable() {
  Filter f = leaf(JobField::Object, Op::Regex, "^(a|b)*$");
  f.regex = std::make_shared<const Regex>("^(a|b)*$", /*maxMemory=*/64);
  f.where = {"p.yaml", 7, 20};
  return f;
}

Filter yes() { return leaf(JobField::Object, Op::Eq, "Account"); }
Filter no() { return leaf(JobField::Object, Op::Eq, "Contact"); }

Filter group(Filter::Kind kind, std::vector<Filter> children) {
  Filter f;
  f.kind = kind;
  f.children = std::move(children);
  return f;
}
Filter notF(Filter child) { return group(Filter::Kind::Not, {std::move(child)}); }
Filter allF(std::vector<Filter> c) { return group(Filter::Kind::All, std::move(c)); }
Filter anyF(std::vector<Filter> c) { return group(Filter::Kind::Any, std::move(c)); }

Truth truthOfFilter(const Filter& f) { return truth(f, job(), kNow, kNow); }

TEST(Truth, KleeneTables) {
  constexpr Truth F = Truth::False, T = Truth::True, U = Truth::Unknown;
  static_assert(kleeneNot(U) == U && kleeneNot(T) == F && kleeneNot(F) == T);
  static_assert(kleeneAnd(U, F) == F && kleeneAnd(F, U) == F && kleeneAnd(U, T) == U &&
                kleeneAnd(T, U) == U && kleeneAnd(U, U) == U && kleeneAnd(T, T) == T &&
                kleeneAnd(T, F) == F);
  static_assert(kleeneOr(U, T) == T && kleeneOr(T, U) == T && kleeneOr(U, F) == U &&
                kleeneOr(F, U) == U && kleeneOr(U, U) == U && kleeneOr(F, F) == F &&
                kleeneOr(T, F) == T);
  EXPECT_EQ(toString(U), "unknown");
}

TEST(EvaluatorUnknown, ARegexThatCannotRunIsUnknownNotNoMatch) {
  Regex tiny("^(a|b)*$", 64);
  ASSERT_FALSE(tiny.ok());
  EXPECT_EQ(tiny.search("abab"), Truth::Unknown);
  EXPECT_EQ(tiny.search(""), Truth::Unknown);
  EXPECT_EQ(truthOfFilter(undecidable()), Truth::Unknown);
  EXPECT_FALSE(matches(undecidable(), job(), kNow));
}

TEST(EvaluatorUnknown, NotOfUnknownIsUnknownAndNeverAMatch) {
  EXPECT_EQ(truthOfFilter(notF(undecidable())), Truth::Unknown);
  EXPECT_FALSE(matches(notF(undecidable()), job(), kNow));
  EXPECT_EQ(truthOfFilter(notF(notF(undecidable()))), Truth::Unknown);
  EXPECT_FALSE(matches(notF(notF(undecidable())), job(), kNow));
  // The same filter with a regex that runs: decided both ways, so the seam is the only change.
  Filter runs = undecidable();
  runs.regex = std::make_shared<const Regex>("^(a|b)*$");
  EXPECT_TRUE(matches(notF(runs), job("Account"), kNow));
  EXPECT_FALSE(matches(notF(runs), job("abba"), kNow));
}

TEST(EvaluatorUnknown, AndOrFollowKleene) {
  // False decides an and, True decides an or, whatever the Unknown.
  EXPECT_EQ(truthOfFilter(allF({undecidable(), no()})), Truth::False);
  EXPECT_EQ(truthOfFilter(allF({no(), undecidable()})), Truth::False);
  EXPECT_EQ(truthOfFilter(anyF({undecidable(), yes()})), Truth::True);
  EXPECT_EQ(truthOfFilter(anyF({yes(), undecidable()})), Truth::True);
  EXPECT_TRUE(matches(anyF({undecidable(), yes()}), job(), kNow));
  // Otherwise the Unknown stays.
  EXPECT_EQ(truthOfFilter(allF({yes(), undecidable()})), Truth::Unknown);
  EXPECT_EQ(truthOfFilter(anyF({no(), undecidable()})), Truth::Unknown);
  // Through a not: not (Unknown and False) = True, not (Unknown or True) = False,
  // not (Unknown or False) = Unknown.
  EXPECT_EQ(truthOfFilter(notF(allF({undecidable(), no()}))), Truth::True);
  EXPECT_EQ(truthOfFilter(notF(anyF({undecidable(), yes()}))), Truth::False);
  EXPECT_EQ(truthOfFilter(notF(anyF({undecidable(), no()}))), Truth::Unknown);
  // A policy's filters are an and: one Unknown entry and every other holding is not a match.
  EXPECT_FALSE(matches(allF({yes(), notF(undecidable())}), job(), kNow));
}

TEST(EvaluatorUnknown, MissingRegexAndMalformedNotAreUnknown) {
  Filter noRegex = leaf(JobField::Object, Op::Regex, "x");
  EXPECT_EQ(truthOfFilter(noRegex), Truth::Unknown);
  EXPECT_EQ(truthOfFilter(notF(noRegex)), Truth::Unknown);
  Filter emptyNot = group(Filter::Kind::Not, {});
  EXPECT_EQ(truthOfFilter(emptyNot), Truth::Unknown);
  EXPECT_EQ(truthOfFilter(notF(emptyNot)), Truth::Unknown);
}

TEST(EvaluatorUnknown, TheReasonNamesTheFilterAndWhy) {
  Filter f = allF({yes(), notF(undecidable())});
  EXPECT_EQ(undecided(f, job(), kNow, kNow),
            "could not decide object matches ^(a|b)*$ at p.yaml:7:20: the regex cannot run "
            "(pattern too large - compile failed)");
  EXPECT_EQ(undecided(allF({yes()}), job(), kNow, kNow), "");
  // Decided despite the Unknown inside: no reason.
  EXPECT_EQ(undecided(allF({no(), undecidable()}), job(), kNow, kNow), "");
}

TEST(EvaluatorUnknown, EvaluateLeavesUnknownOutOrReportsItWhenAsked) {
  Policy guarded;
  guarded.name = "abort-unless-ab";
  guarded.filter = allF({notF(undecidable())});
  Policy plain;
  plain.name = "every-job";
  plain.filter = allF({});
  std::vector<Job> jobs = {job(), job("abab")};
  std::vector<const Policy*> policies = {&guarded, &plain};

  auto matched = evaluate(jobs, policies, kNow);
  ASSERT_EQ(matched.size(), 2u);
  for (const auto& d : matched) {
    EXPECT_EQ(d.policy, &plain);
    EXPECT_TRUE(d.undecided.empty());
  }

  auto all = evaluate(jobs, policies, kNow, {}, Undecided::Include);
  ASSERT_EQ(all.size(), 4u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].job, i / 2);
    EXPECT_EQ(all[i].policy, i % 2 == 0 ? &guarded : &plain);
    if (all[i].policy == &guarded) {
      EXPECT_NE(all[i].undecided.find("could not decide object matches ^(a|b)*$"),
                std::string::npos)
          << all[i].undecided;
    } else {
      EXPECT_TRUE(all[i].undecided.empty());
    }
  }
}

TEST(EvaluatorUnknown, NoDeadlineCrossingForAnUndecidedFilter) {
  Filter f = allF({group(Filter::Kind::OlderThan, {}), notF(undecidable())});
  f.children[0].timeField = JobField::CreatedDate;
  f.children[0].age = hours(1);
  // The age threshold is crossed in 15 minutes, but the filter is still Unknown then.
  EXPECT_FALSE(nextMatch(f, job(), kNow, kNow, kNow + hours(2)));
  Filter decided = f;
  decided.children[1] = notF(no());
  EXPECT_TRUE(nextMatch(decided, job(), kNow, kNow, kNow + hours(2)));
}

}  // namespace
}  // namespace bulkwarden::policy
