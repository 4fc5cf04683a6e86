// Each enum's name and parse come from one table: every value reads back as itself, and text
// that is no row's name (another case, padding, empty) is refused.
#include "model/Names.h"

#include <gtest/gtest.h>

#include "model/Job.h"
#include "policy/Policy.h"

namespace bulkwarden {
namespace {

TEST(NameTables, EveryJobStateAndFieldReadsBackAsItself) {
  for (auto s : model::kAllJobStates) EXPECT_EQ(model::parseJobState(model::toString(s)), s);
  for (auto f : model::kAllJobFields) EXPECT_EQ(model::parseFieldName(model::fieldName(f)), f);
  for (auto k : {model::ResourceKind::Query, model::ResourceKind::Ingest}) {
    EXPECT_EQ(model::parseResourceName(model::resourceName(k)), k);
  }
  EXPECT_EQ(model::toString(model::JobState::UploadComplete), "UploadComplete");
  EXPECT_EQ(model::fieldName(model::JobField::CreatedById), "createdById");
  EXPECT_EQ(model::resourceName(model::ResourceKind::Ingest), "ingest-jobs");
}

TEST(NameTables, EveryPolicyEnumReadsBackAsItself) {
  using policy::Action;
  using policy::Mode;
  using policy::Op;
  for (auto a : {Action::Abort, Action::Delete, Action::Report}) {
    EXPECT_EQ(policy::parseAction(policy::toString(a)), a);
  }
  for (auto m : {Mode::Enforce, Mode::DryRun}) EXPECT_EQ(policy::parseMode(policy::toString(m)), m);
  for (auto op :
       {Op::Eq, Op::Ne, Op::In, Op::NotIn, Op::Regex, Op::Glob, Op::Gt, Op::Ge, Op::Lt, Op::Le}) {
    EXPECT_EQ(policy::parseOp(policy::toString(op)), op);
  }
  EXPECT_EQ(policy::toString(Mode::DryRun), "dry-run");
  EXPECT_EQ(policy::toString(Op::NotIn), "not-in");
}

TEST(NameTables, TextThatIsNoRowsNameIsRefused) {
  for (std::string_view text : {"", "inprogress", "InProgress ", "?", "In\0Progress"}) {
    EXPECT_FALSE(model::parseJobState(text).has_value()) << text;
  }
  EXPECT_FALSE(model::parseFieldName("CreatedById").has_value());
  EXPECT_FALSE(model::parseResourceName("query").has_value());
  EXPECT_FALSE(policy::parseAction("Abort").has_value());
  EXPECT_FALSE(policy::parseMode("dryrun").has_value());
  EXPECT_FALSE(policy::parseOp("?").has_value());
}

TEST(NameTables, AValueWithoutARowGetsTheUnknownName) {
  enum class Colour { Red, Green, Blue };
  constexpr std::array<model::Named<Colour>, 2> kTable{
      {{Colour::Red, "red"}, {Colour::Green, "green"}}};
  static_assert(model::nameOf(kTable, Colour::Green) == "green");
  static_assert(model::valueNamed(kTable, "red") == Colour::Red);
  EXPECT_EQ(model::nameOf(kTable, Colour::Blue), "?");
  EXPECT_EQ(model::nameOf(kTable, Colour::Blue, "none"), "none");
  EXPECT_FALSE(model::valueNamed(kTable, "blue").has_value());
}

}  // namespace
}  // namespace bulkwarden
