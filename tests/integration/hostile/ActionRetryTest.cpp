// Actions refused under load, against the real binary (`run --once`) over loopback: every 7th
// request is answered 503 with Retry-After; the pass still aborts every stuck job, each attempt
// with its own intent and result, and the trail verifies (issue 13 item 3). Once against a
// scripted server with one worker, once against the simulated org with the default concurrency.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/Fixture.h"
#include "support/HostileServer.h"

namespace bulkwarden::testing {
namespace {

constexpr const char* kList = "/services/data/v62.0/jobs/query?jobType=V2Query";
constexpr const char* kJobs = "/services/data/v62.0/jobs/query/";
constexpr int kStuck = 40;

std::string jobId(int i) { return fmt::format("750R000000{:04d}AAAA", i); }

std::string listing() {
  std::string body = R"({"done":true,"records":[)";
  for (int i = 0; i < kStuck; ++i) {
    body += fmt::format(
        R"({}{{"id":"{}","operation":"query","object":"Account","createdById":"005R0000000GiwjIAC",)"
        R"("createdDate":"2026-01-02T03:04:05.000+0000","systemModstamp":"2026-01-02T03:05:05.000+0000",)"
        R"("state":"InProgress","concurrencyMode":"Parallel","contentType":"CSV","apiVersion":62.0,)"
        R"("jobType":"V2Query","lineEnding":"LF","columnDelimiter":"COMMA"}})",
        i ? "," : "", jobId(i));
  }
  return body + R"(],"nextRecordsUrl":null})";
}

class ActionRetries : public EndToEnd {
 protected:
  void SetUp() override {
    EndToEnd::SetUp();
    hostile_ = std::make_unique<HostileServer>([this](const HostileRequest& r) {
      HostileReply reply;
      if (++requests_ % 7 == 0) {
        reply.status = 503;
        reply.headers = {{"Retry-After", "1"}};
        reply.body = R"([{"errorCode":"SERVER_UNAVAILABLE","message":"Server too busy"}])";
        return reply;
      }
      if (r.method == "GET" && r.target == kList) {
        reply.body = listing();
        return reply;
      }
      if (r.method == "PATCH" && r.target.rfind(kJobs, 0) == 0) {
        const std::string id = r.target.substr(std::string(kJobs).size());
        std::lock_guard lock(mutex_);
        if (aborted_[id]++ > 0) {
          reply.status = 400;
          reply.body =
              R"([{"errorCode":"INVALIDJOBSTATE","message":"Aborting already Aborted Job not allowed"}])";
          return reply;
        }
        reply.body = R"({"id":")" + id + R"(","state":"Aborted"})";
        return reply;
      }
      reply.status = 404;
      reply.body =
          R"([{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}])";
      return reply;
    });
    writeFile(dir_ / "token", "00Dx0000000hostile!token\n");
    writeFile(dir_ / "policies.yaml", R"(policies:
  - name: abort-running
    resource: query-jobs
    mode: enforce
    filters: [ { state: InProgress } ]
    action: abort
)");
    writeFile(dir_ / "bulkwarden.yaml",
              "orgs:\n"
              "  - name: hostile-org\n"
              "    api-version: \"62.0\"\n"
              "    instance-url: " +
                  hostile_->url() +
                  "\n"
                  "    auth:\n"
                  "      flow: access-token\n"
                  "      access-token: { file: token }\n"
                  "policies: [policies.yaml]\n"
                  "audit-log: audit.jsonl\n"
                  "state-dir: state\n"
                  // One worker: a retry is the request right after
                  // its refusal, so no job meets the 7th twice.
                  "concurrency: 1\n");
  }

  std::atomic<int> requests_{0};
  std::mutex mutex_;
  std::map<std::string, int> aborted_;  // PATCHes answered 200 or 400, by job
  std::unique_ptr<HostileServer> hostile_;
};

TEST_F(ActionRetries, EverySeventhRequestAnswered503StillAbortsEveryJob) {
  ASSERT_EQ(run({"run", "--once", "--config", (dir_ / "bulkwarden.yaml").string()}), 0) << err();
  {
    std::lock_guard lock(mutex_);
    EXPECT_EQ(aborted_.size(), static_cast<size_t>(kStuck));
    for (auto& [id, n] : aborted_) EXPECT_EQ(n, 1) << id << " aborted more than once";
  }
  // Every job's last result is `applied`; the refused attempts are on the trail as `refused`.
  std::map<std::string, std::string> last;
  int refused = 0;
  for (auto& r : audit("result")) {
    const auto outcome = r->getValue<std::string>("outcome");
    last[r->getObject("job")->getValue<std::string>("id")] = outcome;
    if (outcome == "refused") {
      ++refused;
      EXPECT_GE(r->getValue<int64_t>("retry_in_ms"), 1000);  // Retry-After: 1
    }
  }
  EXPECT_EQ(last.size(), static_cast<size_t>(kStuck));
  for (auto& [id, outcome] : last) EXPECT_EQ(outcome, "applied") << id;
  EXPECT_GT(refused, 0);
  EXPECT_EQ(audit("intent").size(), audit("result").size());
  EXPECT_EQ(static_cast<size_t>(kStuck + refused), hostile_->count("PATCH", kJobs));
  EXPECT_EQ(run({"audit", "verify", (dir_ / "audit.jsonl").string()}), 0) << err();
}

// The simulated org refuses every 7th request (`sim --fail-every 7 --fail-retry-after 1`), and the
// daemon runs with the default concurrency (8): refusals land on whichever request is 7th, so a
// job may be refused more than once; one pass still aborts every stuck job, each once.
class ActionRetriesSim : public EndToEnd {};

TEST_F(ActionRetriesSim, EverySeventhRequestRefusedAtDefaultConcurrencyStillAbortsEveryStuckJob) {
  sim::SimOptions o;
  o.failEvery = 7;
  o.failRetryAfterSeconds = 1;
  startSim(o);
  const auto stuck = addJobs(60, "query", "InProgress", std::chrono::hours(3));
  const auto young = addJobs(10, "query", "InProgress", std::chrono::minutes(5));
  const auto done = addJobs(20, "query", "JobComplete", std::chrono::hours(5));
  writeFile(dir_ / "token", server_->token() + "\n");
  writeFile(dir_ / "policies.yaml", R"(policies:
  - name: abort-stuck
    resource: query-jobs
    mode: enforce
    filters:
      - state: InProgress
      - older-than: { field: createdDate, age: 2h }
    action: abort
)");
  // No `concurrency`: the default, 8 requests at once.
  writeFile(dir_ / "bulkwarden.yaml",
            "orgs:\n"
            "  - name: test-org\n"
            "    api-version: \"62.0\"\n"
            "    instance-url: " +
                server_->baseUrl() +
                "\n"
                "    auth:\n"
                "      flow: access-token\n"
                "      access-token: { file: token }\n"
                "policies: [policies.yaml]\n"
                "audit-log: audit.jsonl\n"
                "state-dir: state\n");
  ASSERT_EQ(run({"run", "--once", "--config", (dir_ / "bulkwarden.yaml").string()}), 0) << err();
  for (const auto& id : stuck) {
    EXPECT_EQ(org().state(id), "Aborted") << id;
    EXPECT_EQ(org().appliedActions(id), 1) << id << " acted on more than once";
  }
  for (const auto& id : young) EXPECT_EQ(org().state(id), "InProgress") << id;
  for (const auto& id : done) EXPECT_EQ(org().state(id), "JobComplete") << id;
  // One pass; each job's last result `applied`; the 503s are on the trail as `refused`.
  EXPECT_EQ(audit("run-end").size(), 1u);
  std::map<std::string, std::string> last;
  int refused = 0;
  for (auto& r : audit("result")) {
    const auto outcome = r->getValue<std::string>("outcome");
    last[r->getObject("job")->getValue<std::string>("id")] = outcome;
    if (outcome == "refused") {
      ++refused;
      EXPECT_GE(r->getValue<int64_t>("retry_in_ms"), 1000);  // Retry-After: 1
    }
  }
  EXPECT_EQ(last.size(), stuck.size());
  for (auto& [id, outcome] : last) EXPECT_EQ(outcome, "applied") << id;
  EXPECT_GT(refused, 0) << "no 503 met an action: the test proved nothing";
  EXPECT_EQ(audit("intent").size(), audit("result").size());
  EXPECT_EQ(run({"audit", "verify", auditPath()}), 0) << err();
}

}  // namespace
}  // namespace bulkwarden::testing
