// Job-policy evaluations per second: policy::evaluate over a page of 1,000 realistic jobs, with
// the policies of policies/ and heavier ones (regex, not, or, operator maps), parsed from YAML by
// the real loader. items_per_second = jobs x policies evaluated per second, on one core.
#include <benchmark/benchmark.h>

#include <array>
#include <random>
#include <string>
#include <vector>

#include "config/PolicyLoader.h"
#include "model/Job.h"
#include "policy/Evaluator.h"

namespace bulkwarden {
namespace {

using namespace std::chrono_literals;

const model::Timestamp kNow = *model::parseTimestamp("2026-11-29T12:00:00Z");

// A page like the sim's default scenario: every state, ages from minutes to days, a mix of
// objects, operations and users.
std::vector<model::Job> makePage(model::ResourceKind kind, std::size_t n) {
  static constexpr std::array<const char*, 12> kObjects = {
      "Account", "Contact", "Lead",  "Opportunity", "Case",     "Task",
      "Event",   "Order",   "Asset", "Product2",    "Campaign", "Invoice__c"};
  static constexpr std::array<const char*, 4> kUsers = {"005R0000000GiwjIAC", "005R0000000Hk3tIAC",
                                                        "0058Z000007lKMAQA2", "0053h000002xQ5sAAE"};
  std::mt19937_64 rng(42);
  std::vector<model::Job> jobs;
  jobs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    model::Job j;
    j.kind = kind;
    j.id = "750R0000000" + std::to_string(1000000 + i) + "A";
    j.state = model::kAllJobStates[rng() % model::kAllJobStates.size()];
    if (kind == model::ResourceKind::Query && j.state == model::JobState::Open) {
      j.state = model::JobState::InProgress;
    }
    j.object = kObjects[rng() % kObjects.size()];
    j.operation =
        kind == model::ResourceKind::Query ? (rng() % 4 ? "query" : "queryAll") : "insert";
    j.createdById = kUsers[rng() % kUsers.size()];
    j.createdDate = kNow - std::chrono::minutes(rng() % (3 * 24 * 60));
    j.systemModstamp = j.createdDate + 30s;
    j.concurrencyMode = "Parallel";
    j.contentType = "CSV";
    j.apiVersion = "62.0";
    j.jobType = kind == model::ResourceKind::Query ? "V2Query" : "V2Ingest";
    j.lineEnding = "LF";
    j.columnDelimiter = "COMMA";
    jobs.push_back(std::move(j));
  }
  return jobs;
}

// The shipped example (abort-stuck-query-jobs) and the README example policy, plus
// two more that use every kind of node.
constexpr const char* kSimple = R"(
policies:
  - name: abort-stuck-query-jobs
    resource: query-jobs
    mode: enforce
    filters:
      - state: [InProgress, UploadComplete]
      - older-than: { field: createdDate, age: 30m }
    action: abort
)";

constexpr const char* kRealistic = R"(
policies:
  - name: abort-stuck-queries
    resource: query-jobs
    mode: enforce
    filters:
      - state: [InProgress, UploadComplete]
      - older-than: { field: createdDate, age: 30m }
      - not: { createdById: ["005R0000000GiwjIAC"] }
      - object: { regex: "^(Account|Contact)$" }
      - or: [ { operation: query }, { operation: queryAll } ]
    action: abort
  - name: delete-finished
    resource: query-jobs
    mode: enforce
    filters:
      - state: [JobComplete, Failed, Aborted]
      - older-than: { field: systemModstamp, age: 1d }
      - object: { not-in: [Invoice__c] }
    action: delete
  - name: report-custom-objects
    resource: query-jobs
    filters:
      - object: { glob: "*__c" }
      - apiVersion: { ge: "60.0" }
    action: report
  - name: abort-old-exports-not-integration
    resource: query-jobs
    mode: enforce
    filters:
      - state: InProgress
      - older-than: { field: createdDate, age: 2h }
      - not: { or: [ { createdById: { regex: "^0058Z" } }, { object: { in: [Task, Event] } } ] }
    action: abort
)";

constexpr const char* kRegexOnly = R"(
policies:
  - name: regex-object
    resource: query-jobs
    mode: enforce
    filters:
      - object: { regex: "^(Account|Contact|Opportunity)$" }
    action: abort
)";

// The pattern that cost ~100 ms a job with PCRE (nested quantifiers, exponential backtracking on
// a near miss), over 40-character custom object names that all miss at the end.
constexpr const char* kCatastrophic = R"(
policies:
  - name: regex-catastrophic
    resource: query-jobs
    mode: enforce
    filters:
      - object: { regex: "^([A-Za-z]+_?)+__c$" }
    action: abort
)";

void runEvaluate(benchmark::State& state, const char* yaml,
                 const std::string& objectOverride = "") {
  auto policies = config::parsePolicies(yaml, "bench.yaml");
  std::vector<const policy::Policy*> ptrs;
  for (const auto& p : policies) ptrs.push_back(&p);
  auto jobs = makePage(model::ResourceKind::Query, 1000);
  if (!objectOverride.empty()) {
    for (auto& j : jobs) j.object = objectOverride;
  }
  std::size_t matched = 0;
  for (auto _ : state) {
    auto decisions = policy::evaluate(jobs, ptrs, kNow);
    matched = decisions.size();
    benchmark::DoNotOptimize(decisions.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(jobs.size() * ptrs.size()));
  state.counters["policies"] = static_cast<double>(ptrs.size());
  state.counters["matches_per_page"] = static_cast<double>(matched);
}

void BM_EvaluateSimple(benchmark::State& state) { runEvaluate(state, kSimple); }
void BM_EvaluateRealistic4(benchmark::State& state) { runEvaluate(state, kRealistic); }
void BM_EvaluateRegexOnly(benchmark::State& state) { runEvaluate(state, kRegexOnly); }
void BM_EvaluateRegexCatastrophic(benchmark::State& state) {
  runEvaluate(state, kCatastrophic, "Abcdefghij_Klmnopqrst_Uvwxyzabcd_Efghij_x");
}

BENCHMARK(BM_EvaluateSimple);
BENCHMARK(BM_EvaluateRealistic4);
BENCHMARK(BM_EvaluateRegexOnly);
BENCHMARK(BM_EvaluateRegexCatastrophic);

}  // namespace
}  // namespace bulkwarden
