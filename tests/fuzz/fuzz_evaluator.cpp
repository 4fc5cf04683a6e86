// The evaluator with random regexes and random job fields. Regexes are compiled the way the
// policy loader compiles them (Regex::compile); a filter tree of and/or/not is built over them,
// with leaves that cannot be decided (an RE2 without the memory to compile) mixed in.
// Invariants: no crash and no stall (libFuzzer's -timeout), a refused regex says why, a compiled
// one always decides, and Unknown never becomes a match: a decided tree gives the same answer
// whatever its undecided leaves turn out to be, and evaluate() acts only on True.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "model/Job.h"
#include "policy/Evaluator.h"
#include "policy/Policy.h"
#include "policy/Regex.h"

namespace {

using namespace bulkwarden;
using policy::Filter;
using policy::Truth;

const model::Timestamp kNow = *model::parseTimestamp("2026-03-01T12:00:00Z");

constexpr model::JobField kTextFields[] = {
    model::JobField::Id,          model::JobField::Operation,  model::JobField::Object,
    model::JobField::CreatedById, model::JobField::State,      model::JobField::ApiVersion,
    model::JobField::JobType,     model::JobField::LineEnding, model::JobField::ColumnDelimiter};

struct Builder {
  FuzzedDataProvider& in;
  std::vector<std::shared_ptr<const policy::Regex>> regexes;  // compiled (ok) only
  std::shared_ptr<const policy::Regex> undecidable;

  // How undecided leaves are built: as they are (Unknown), or replaced by a constant.
  enum class Leaves { Undecided, True, False };

  Filter constant(bool value) {
    Filter f;
    f.kind = value ? Filter::Kind::All : Filter::Kind::Any;  // empty all holds, empty any not
    return f;
  }

  Filter regexLeaf(std::shared_ptr<const policy::Regex> re, model::JobField field) {
    Filter f;
    f.kind = Filter::Kind::Field;
    f.op = policy::Op::Regex;
    f.field = field;
    f.values = {re->pattern()};
    f.regex = std::move(re);
    return f;
  }

  // One random tree, recorded as the choices made, so that the same tree can be rebuilt with its
  // undecided leaves replaced.
  struct Node {
    int kind;  // 0 all, 1 any, 2 not, 3 regex leaf, 4 undecided leaf, 5 state leaf
    size_t regex = 0;
    model::JobField field = model::JobField::Object;
    uint32_t mask = 0;
    std::vector<Node> children;
  };

  Node draw(int depth) {
    Node n;
    n.kind = in.ConsumeIntegralInRange<int>(depth >= 4 ? 3 : 0, 5);
    switch (n.kind) {
      case 0:
      case 1: {
        int count = in.ConsumeIntegralInRange<int>(0, 3);
        for (int i = 0; i < count; ++i) n.children.push_back(draw(depth + 1));
        break;
      }
      case 2:
        n.children.push_back(draw(depth + 1));
        break;
      case 3:
        if (regexes.empty()) {
          n.kind = 4;
          break;
        }
        n.regex = in.ConsumeIntegralInRange<size_t>(0, regexes.size() - 1);
        n.field = in.PickValueInArray(kTextFields);
        break;
      case 4:
        n.field = in.PickValueInArray(kTextFields);
        break;
      default:
        n.mask = in.ConsumeIntegral<uint32_t>() & 0x3f;
        break;
    }
    return n;
  }

  Filter build(const Node& n, Leaves leaves) {
    Filter f;
    switch (n.kind) {
      case 0:
      case 1:
      case 2:
        f.kind =
            n.kind == 0 ? Filter::Kind::All : (n.kind == 1 ? Filter::Kind::Any : Filter::Kind::Not);
        for (const Node& c : n.children) f.children.push_back(build(c, leaves));
        return f;
      case 3:
        return regexLeaf(regexes[n.regex], n.field);
      case 4:
        if (leaves == Leaves::Undecided) return regexLeaf(undecidable, n.field);
        return constant(leaves == Leaves::True);
      default:
        f.kind = Filter::Kind::State;
        f.stateMask = n.mask;
        return f;
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Builder b{in, {}, std::make_shared<const policy::Regex>("^(a|b)*$", 64)};
  if (b.undecidable->ok()) __builtin_trap();  // the seam must hold

  int patterns = in.ConsumeIntegralInRange<int>(0, 3);
  for (int i = 0; i < patterns; ++i) {
    std::string pattern = in.ConsumeRandomLengthString(1100);
    auto compiled = policy::Regex::compile(pattern);
    if (auto* err = std::get_if<policy::Regex::Error>(&compiled)) {
      if (err->message.empty()) __builtin_trap();  // a refusal says what is wrong
      continue;
    }
    auto re = std::get<std::shared_ptr<const policy::Regex>>(std::move(compiled));
    if (!re->ok()) __builtin_trap();
    b.regexes.push_back(std::move(re));
  }

  model::Job job;
  job.kind = model::ResourceKind::Query;
  job.state = static_cast<model::JobState>(in.ConsumeIntegralInRange<int>(0, 5));
  job.createdDate = kNow;
  job.systemModstamp = kNow;
  job.id = in.ConsumeRandomLengthString(64);
  job.operation = in.ConsumeRandomLengthString(64);
  job.createdById = in.ConsumeRandomLengthString(64);
  job.apiVersion = in.ConsumeRandomLengthString(16);
  job.jobType = in.ConsumeRandomLengthString(16);
  job.lineEnding = in.ConsumeRandomLengthString(8);
  job.columnDelimiter = in.ConsumeRandomLengthString(16);

  Builder::Node shape = b.draw(0);
  job.object = in.ConsumeRemainingBytesAsString();  // the longest field: whatever is left

  // A compiled regex always decides, whatever the text.
  for (const auto& re : b.regexes) {
    if (re->search(job.object) == Truth::Unknown) __builtin_trap();
  }

  Filter tree = b.build(shape, Builder::Leaves::Undecided);
  Truth t = policy::truth(tree, job, kNow, kNow);
  if (policy::matches(tree, job, kNow) != (t == Truth::True)) __builtin_trap();
  if (policy::undecided(tree, job, kNow, kNow).empty() != (t != Truth::Unknown)) __builtin_trap();
  if (t == Truth::True) (void)policy::explain(tree, job, kNow);

  // Soundness of the three values: an answer given despite undecided leaves holds however they
  // would have been decided.
  if (t != Truth::Unknown) {
    for (auto leaves : {Builder::Leaves::True, Builder::Leaves::False}) {
      Filter decided = b.build(shape, leaves);
      if (policy::truth(decided, job, kNow, kNow) != t) __builtin_trap();
    }
  }

  // evaluate() acts only on True; with Undecided::Include an Unknown pair carries its reason.
  // The fuzzed jobType may read "Classic" (a Bulk API 1.0 job): this policy's job-types name
  // both kinds, so it governs the job whatever the type says.
  policy::Policy p;
  p.name = "fuzz";
  p.filter = std::move(tree);
  p.classicJobs = true;
  std::vector<const policy::Policy*> policies = {&p};
  std::vector<model::Job> jobs = {job};
  auto acted = policy::evaluate(jobs, policies, kNow);
  if (acted.size() != (t == Truth::True ? 1u : 0u)) __builtin_trap();
  auto all = policy::evaluate(jobs, policies, kNow, {}, policy::Undecided::Include);
  if (all.size() != (t == Truth::False ? 0u : 1u)) __builtin_trap();
  if (!all.empty() && all[0].undecided.empty() != (t == Truth::True)) __builtin_trap();

  // A policy of the default job-types (2.0 only) leaves a 1.0 job alone, whatever its filter.
  policy::Policy v2only;
  v2only.name = "fuzz-v2";
  v2only.filter = b.build(shape, Builder::Leaves::Undecided);
  std::vector<const policy::Policy*> v2 = {&v2only};
  auto v2all = policy::evaluate(jobs, v2, kNow, {}, policy::Undecided::Include);
  if (job.isClassic() && !v2all.empty()) __builtin_trap();
  if (!job.isClassic() && v2all.size() != all.size()) __builtin_trap();
  return 0;
}
