// The write-ahead action runner against a scripted BulkJobs (the engine's own seam) and a real
// audit file: intent before each request, result after it, refusals retried within the pass.
#include "Eventually.h"
#include "JobFixtures.h"
#include "ManualClock.h"
#include "engine/ActionRunner.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "ScriptedJobs.h"
#include "audit/AuditLog.h"

namespace bulkwarden::engine {
namespace {

namespace fs = std::filesystem;
using model::JobState;
using model::ResourceKind;
using salesforce::ApiError;
using std::chrono::milliseconds;
using testing::ScriptedJobs;

model::Job job(std::string id, JobState state = JobState::InProgress) {
  return testing::queryJob(std::move(id), state);
}

std::string jobId(int i) { return fmt::format("750R0000000{:04d}AAA", i); }

ApiError error(int http, std::string code, std::string message, std::string retryAfter = "") {
  ApiError::Kind kind = http >= 500 || http == 429 ? ApiError::Kind::Transient
                        : http == 403 && code == "REQUEST_LIMIT_EXCEEDED"
                            ? ApiError::Kind::LimitExceeded
                        : code == "INVALIDJOBSTATE" ? ApiError::Kind::InvalidState
                                                    : ApiError::Kind::Permanent;
  ApiError e{kind, http, std::move(code), std::move(message), true};
  e.retryAfter = std::move(retryAfter);
  return e;
}

class ActionRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-runner-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auditPath_ = (dir_ / "audit.jsonl").string();
    audit_ = std::make_unique<audit::AuditLog>(auditPath_);
    org_.auditPath = auditPath_;
    abort_.name = "abort-stuck";
    abort_.action = policy::Action::Abort;
    remove_.name = "delete-old";
    remove_.action = policy::Action::Delete;
  }
  void TearDown() override { fs::remove_all(dir_); }

  void add(int n, const policy::Policy& p) {
    for (int i = 0; i < n; ++i) {
      Decision d;
      d.policy = &p;
      d.mode = policy::Mode::Enforce;
      d.job = job(jobId(static_cast<int>(decisions_.size())));
      decisions_.push_back(std::move(d));
    }
  }
  ActionReport run(int concurrency = 4) {
    ActionRunnerOptions o;
    o.org = "acme";
    o.runId = "run-1";
    o.concurrency = concurrency;
    o.retry = retry_;
    // Backoffs are sleeps on the clock: recorded, never waited in real time.
    clock_.onSleep([this](model::Duration delay) {
      std::lock_guard lock(mutex_);
      waits_.push_back(delay);
      if (onWait_) onWait_();
    });
    if (blockingWait_) clock_.sleepMode(testing::ManualClock::SleepMode::Block);
    std::vector<Decision*> todo;
    for (auto& d : decisions_) todo.push_back(&d);
    ActionRunner runner(o, org_, *audit_, clock_, stop_, [this](const Decision& d, int64_t acted) {
      acted_ += acted;
      ++outcomes_[d.outcome];
    });
    return runner.run(todo);
  }
  std::vector<Poco::JSON::Object::Ptr> records(const std::string& type = "") {
    audit_->sync();
    return testing::auditObjects(auditPath_, testing::recordType(type));
  }
  // The audit contract: each result names an intent written before it, for the same job, and
  // each intent has exactly one result. Returns the number of pairs.
  size_t checkPairing() {
    std::map<int64_t, std::string> intents;  // seq -> job id
    std::map<int64_t, int> results;
    for (auto& r : records()) {
      const auto type = r->getValue<std::string>("type");
      if (type == "intent") {
        intents[r->getValue<int64_t>("seq")] = r->getObject("job")->getValue<std::string>("id");
      } else if (type == "result") {
        const auto intent = r->getValue<int64_t>("intent");
        EXPECT_EQ(intents.count(intent), 1u) << "result before or without its intent";
        EXPECT_EQ(intents[intent], r->getObject("job")->getValue<std::string>("id"));
        ++results[intent];
      }
    }
    for (auto& [seq, id] : intents) EXPECT_EQ(results[seq], 1) << "intent " << seq << " " << id;
    auto verified = audit::verifyFile(auditPath_);
    EXPECT_TRUE(verified.ok) << verified.problem;
    EXPECT_TRUE(verified.openIntents.empty());
    return intents.size();
  }
  std::map<std::string, std::vector<Poco::JSON::Object::Ptr>> resultsByJob() {
    std::map<std::string, std::vector<Poco::JSON::Object::Ptr>> out;
    for (auto& r : records("result"))
      out[r->getObject("job")->getValue<std::string>("id")].push_back(r);
    return out;
  }

  fs::path dir_;
  std::string auditPath_;
  std::unique_ptr<audit::AuditLog> audit_;
  ScriptedJobs org_;
  testing::ManualClock clock_{"2026-11-29T12:00:00Z"};
  model::StopSignal stop_;
  policy::Policy abort_;
  policy::Policy remove_;
  std::vector<Decision> decisions_;
  RetryOptions retry_;
  bool blockingWait_ = false;  // backoffs wait until the clock moves or the stop is requested
  std::mutex mutex_;
  std::vector<milliseconds> waits_;
  std::function<void()> onWait_;
  int64_t acted_ = 0;
  std::map<Outcome, int64_t> outcomes_;
};

TEST_F(ActionRunnerTest, EveryRequestHasItsDurableIntentBeforeAndOneResultAfter) {
  add(10, abort_);
  auto report = run();
  EXPECT_EQ(org_.actions.size(), 10u);
  EXPECT_TRUE(org_.intentMissing.empty());
  EXPECT_EQ(checkPairing(), 10u);
  EXPECT_EQ(outcomes_[Outcome::Applied], 10);
  EXPECT_EQ(acted_, 10);
  EXPECT_FALSE(report.stopped);
  EXPECT_TRUE(waits_.empty());
}

// 503 then success: sent again after at least Retry-After, with an intent and a result of its own.
TEST_F(ActionRunnerTest, A503IsSentAgainAfterRetryAfterEachAttemptWithItsOwnIntentAndResult) {
  add(1, abort_);
  org_.actionScript[jobId(0)] = {error(503, "SERVER_UNAVAILABLE", "Server too busy", "7"),
                                 std::nullopt};
  run();
  EXPECT_EQ(org_.actions.size(), 2u);
  EXPECT_TRUE(org_.intentMissing.empty());
  ASSERT_EQ(waits_.size(), 1u);
  EXPECT_GE(waits_[0], milliseconds(7000));
  EXPECT_EQ(checkPairing(), 2u);
  auto results = resultsByJob()[jobId(0)];
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0]->getValue<std::string>("outcome"), "refused");
  EXPECT_EQ(results[0]->getValue<int>("attempt"), 1);
  EXPECT_GE(results[0]->getValue<int64_t>("retry_in_ms"), 7000);
  EXPECT_EQ(results[1]->getValue<std::string>("outcome"), "applied");
  EXPECT_EQ(results[1]->getValue<int>("attempt"), 2);
  auto intents = records("intent");
  ASSERT_EQ(intents.size(), 2u);
  EXPECT_EQ(intents[1]->getValue<int>("attempt"), 2);
  EXPECT_EQ(outcomes_[Outcome::Applied], 1);
  EXPECT_EQ(acted_, 2);
}

TEST_F(ActionRunnerTest, A429AndTheConcurrentLimitAreRetriedTheDailyLimitHaltsThePass) {
  add(3, remove_);
  org_.actionScript[jobId(0)] = {error(429, "", "Too many requests"), std::nullopt};
  org_.actionScript[jobId(1)] = {
      error(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
      error(403, "REQUEST_LIMIT_EXCEEDED",
            "ConcurrentRequests (Concurrent API Requests) Limit exceeded."),
      std::nullopt};
  auto report = run(1);
  EXPECT_FALSE(report.limitExceeded);
  EXPECT_EQ(outcomes_[Outcome::Applied], 3);
  EXPECT_EQ(org_.actions.size(), 6u);
  EXPECT_EQ(checkPairing(), 6u);

  decisions_.clear();
  outcomes_.clear();
  add(3, remove_);
  org_.actions.clear();
  org_.actionScript[jobId(0)] = {
      error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")};
  auto daily = run(1);
  EXPECT_TRUE(daily.limitExceeded);
  EXPECT_EQ(org_.actions.size(), 1u);  // not retried, and nothing else sent
  EXPECT_EQ(outcomes_[Outcome::Failed], 1);
  EXPECT_EQ(daily.notStarted, 2);
}

TEST_F(ActionRunnerTest, RetriesAreBoundedAndTheJobEndsRefused) {
  add(1, abort_);
  org_.actionErrors[jobId(0)] = error(503, "SERVER_UNAVAILABLE", "Server too busy");
  run();
  EXPECT_EQ(org_.actions.size(), 6u);  // RetryOptions::maxAttempts
  EXPECT_EQ(waits_.size(), 5u);
  EXPECT_EQ(outcomes_[Outcome::Refused], 1);
  EXPECT_EQ(checkPairing(), 6u);
}

TEST_F(ActionRunnerTest, ARetryAfterLongerThanTheCapLeavesTheJobForTheNextPass) {
  add(1, abort_);
  org_.actionErrors[jobId(0)] = error(503, "SERVER_UNAVAILABLE", "Server too busy", "3600");
  run();
  EXPECT_EQ(org_.actions.size(), 1u);
  EXPECT_TRUE(waits_.empty());
  EXPECT_EQ(outcomes_[Outcome::Refused], 1);
}

// SIGTERM during the backoff: the wait ends at once, nothing more is sent, every intent has its
// result. Retry-After asks for 50 s, and the clock's wait blocks until the clock moves, which it
// never does: only the stop request can end it.
TEST_F(ActionRunnerTest, AStopRequestInterruptsTheBackoffWait) {
  blockingWait_ = true;
  add(1, abort_);
  org_.actionErrors[jobId(0)] = error(503, "SERVER_UNAVAILABLE", "Server too busy", "50");
  auto started = std::chrono::steady_clock::now();
  std::thread stopper([this] {
    // Waits for the event (a worker asleep in its backoff), then asks to stop.
    EXPECT_TRUE(testing::eventually([this] { return clock_.sleepers() == 1; }));
    stop_.request();
  });
  auto report = run();
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_TRUE(report.stopped);
  EXPECT_EQ(org_.actions.size(), 1u);
  EXPECT_EQ(outcomes_[Outcome::Refused], 1);
  EXPECT_EQ(checkPairing(), 1u);
}

// Every 7th request refused with 503: every job still ends aborted in the same pass.
TEST_F(ActionRunnerTest, WithEverySeventhRequestRefusedEveryJobIsStillAborted) {
  add(50, abort_);
  org_.failEvery = 7;
  run(1);  // one worker: each retry is the request right after its refusal, never a 7th again
  EXPECT_EQ(outcomes_[Outcome::Applied], 50);
  EXPECT_GT(org_.actions.size(), 50u);
  EXPECT_EQ(checkPairing(), org_.actions.size());
  EXPECT_TRUE(org_.intentMissing.empty());
}

// A 500 proves nothing: the job is read first, and sent again only if it still runs.
TEST_F(ActionRunnerTest, ANonDefinitiveRefusalIsReadBeforeItIsSentAgain) {
  add(2, abort_);
  org_.actionScript[jobId(0)] = {error(500, "UNKNOWN_EXCEPTION", "boom"), std::nullopt};
  org_.actionScript[jobId(1)] = {error(500, "UNKNOWN_EXCEPTION", "boom")};
  org_.gets.emplace(jobId(0), job(jobId(0), JobState::InProgress));
  org_.gets.emplace(jobId(1), job(jobId(1), JobState::Aborted));
  run(1);
  EXPECT_EQ(org_.getCalls, 2);
  EXPECT_EQ(std::count(org_.actions.begin(), org_.actions.end(), "abort:" + jobId(0)), 2);
  EXPECT_EQ(std::count(org_.actions.begin(), org_.actions.end(), "abort:" + jobId(1)), 1);
  EXPECT_EQ(outcomes_[Outcome::Applied], 2);
  auto byJob = resultsByJob();
  EXPECT_EQ(byJob[jobId(0)][0]->getValue<std::string>("observed_state"), "InProgress");
  EXPECT_EQ(byJob[jobId(1)][0]->getValue<std::string>("observed_state"), "Aborted");
  EXPECT_EQ(checkPairing(), 3u);
}

TEST_F(ActionRunnerTest, InvalidJobStateIsCheckedWithOneGetAndAStillRunningJobIsSaidSo) {
  add(2, abort_);
  for (int i = 0; i < 2; ++i) {
    org_.actionErrors[jobId(i)] =
        error(400, "INVALIDJOBSTATE", "Aborting already Completed Job not allowed");
  }
  org_.gets.emplace(jobId(0), job(jobId(0), JobState::InProgress));
  org_.gets.emplace(jobId(1), job(jobId(1), JobState::JobComplete));
  run();
  EXPECT_EQ(org_.getCalls, 2);
  EXPECT_EQ(org_.actions.size(), 2u);  // not retried: the job's state, not the org, refused it
  auto byJob = resultsByJob();
  ASSERT_EQ(byJob[jobId(0)].size(), 1u);
  EXPECT_EQ(byJob[jobId(0)][0]->getValue<std::string>("outcome"), "still-active");
  EXPECT_EQ(byJob[jobId(0)][0]->getValue<std::string>("observed_state"), "InProgress");
  EXPECT_EQ(byJob[jobId(1)][0]->getValue<std::string>("outcome"), "already-terminal");
  EXPECT_EQ(byJob[jobId(1)][0]->getValue<std::string>("observed_state"), "JobComplete");
  EXPECT_EQ(outcomes_[Outcome::StillActive], 1);
}

// INVALIDJOBSTATE, then the read-back fails: not evidence that the job finished. The outcome says
// that its state is unknown, and the pass is not ok.
TEST_F(ActionRunnerTest, InvalidJobStateWithAFailedReadIsUnknownNotAlreadyTerminal) {
  add(1, abort_);
  org_.actionErrors[jobId(0)] =
      error(400, "INVALIDJOBSTATE", "Aborting already Completed Job not allowed");
  org_.gets.emplace(jobId(0), error(503, "SERVER_UNAVAILABLE", "Server too busy"));
  run();
  EXPECT_EQ(org_.getCalls, 1);
  EXPECT_EQ(org_.actions.size(), 1u);
  auto byJob = resultsByJob();
  ASSERT_EQ(byJob[jobId(0)].size(), 1u);
  EXPECT_EQ(byJob[jobId(0)][0]->getValue<std::string>("outcome"), "unknown");
  EXPECT_FALSE(byJob[jobId(0)][0]->has("observed_state"));
  EXPECT_EQ(outcomes_[Outcome::Unknown], 1);
  EXPECT_EQ(outcomes_[Outcome::AlreadyTerminal], 0);
  EXPECT_EQ(checkPairing(), 1u);
}

// Every reading of "not yours, and no Manage Data Integrations": a clear outcome with a hint,
// logged once per pass, and the other jobs acted on (no halt, no limit).
TEST_F(ActionRunnerTest, APermissionRefusalIsRecordedWithAHintLoggedOnceAndHaltsNothing) {
  add(4, abort_);
  org_.actionErrors[jobId(0)] = error(403, "InvalidUser", "job created by another user");
  org_.actionErrors[jobId(1)] = error(403, "INSUFFICIENT_ACCESS", "insufficient access rights");
  org_.actionErrors[jobId(2)] = error(400, "INSUFFICIENT_ACCESS_OR_READONLY", "no");
  ::testing::internal::CaptureStderr();
  auto report = run(1);
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(report.limitExceeded);
  EXPECT_FALSE(report.unauthorized);
  EXPECT_EQ(outcomes_[Outcome::NotPermitted], 3);
  EXPECT_EQ(outcomes_[Outcome::Applied], 1);
  EXPECT_EQ(org_.actions.size(), 4u);
  size_t mentions = 0;
  for (size_t at = log.find("Manage Data Integrations"); at != std::string::npos;
       at = log.find("Manage Data Integrations", at + 1)) {
    ++mentions;
  }
  EXPECT_EQ(mentions, 1u) << log;
  for (auto& [id, results] : resultsByJob()) {
    if (id == jobId(3)) continue;
    EXPECT_EQ(results[0]->getValue<std::string>("outcome"), "not-permitted");
    EXPECT_NE(results[0]->getValue<std::string>("hint").find("Manage Data Integrations"),
              std::string::npos);
  }
}

TEST_F(ActionRunnerTest, A401HaltsThePassWithoutCallingItALimit) {
  add(3, abort_);
  for (int i = 0; i < 3; ++i) {
    org_.actionErrors[jobId(i)] = ApiError{ApiError::Kind::Unauthorized, 401, "INVALID_SESSION_ID",
                                           "Session expired or invalid", true};
  }
  auto report = run(1);
  EXPECT_TRUE(report.unauthorized);
  EXPECT_FALSE(report.limitExceeded);
  EXPECT_EQ(org_.actions.size(), 1u);
  EXPECT_EQ(report.notStarted, 2);
}

}  // namespace
}  // namespace bulkwarden::engine
