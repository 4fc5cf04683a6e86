// BulkClient's paging, retries and token renewal over a scripted Transport (the unit seam of
// salesforce/Transport.h) and a ManualClock: each test asserts the requests sent and the waits
// asked of the clock; nothing sleeps in real time.
#include "Eventually.h"
#include "ManualClock.h"
#include "salesforce/BulkClient.h"

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace bulkwarden::salesforce {
namespace {

using namespace std::chrono_literals;

const std::string kBase = "/services/data/v62.0/jobs/query";
const std::string kFirst = kBase + "?jobType=V2Query";

std::string jobRecord(const std::string& id) {
  return R"({"id":")" + id +
         R"(","operation":"query","object":"Account","createdById":"005R0000000GiwjIAC",)"
         R"("createdDate":"2026-11-29T10:00:00.000+0000","systemModstamp":"2026-11-29T10:00:01.000+0000",)"
         R"("state":"InProgress","concurrencyMode":"Parallel","contentType":"CSV","apiVersion":62.0,)"
         R"("jobType":"V2Query","lineEnding":"LF","columnDelimiter":"COMMA"})";
}

HttpResponse reply(int status, std::string body, std::string retryAfter = "") {
  HttpResponse r;
  r.status = status;
  r.contentType = "application/json";
  r.body = std::move(body);
  r.retryAfter = std::move(retryAfter);
  return r;
}

HttpResponse lastPage(const std::string& id) {
  return reply(200, R"({"done":true,"records":[)" + jobRecord(id) + R"(],"nextRecordsUrl":null})");
}

HttpResponse expiredSession() {
  return reply(401,
               R"([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}])");
}

HttpResponse concurrentLimit() {
  return reply(
      403,
      R"([{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}])");
}

// Replies from a script, in order; records every request. Thread-safe.
class ScriptedTransport : public Transport {
 public:
  struct Sent {
    std::string method;
    std::string target;
    std::string authorization;
  };

  void script(std::vector<Result<HttpResponse>> replies) {
    std::lock_guard lock(mutex_);
    for (auto& r : replies) replies_.push_back(std::move(r));
  }
  Result<HttpResponse> send(const HttpRequest& request) override {
    std::lock_guard lock(mutex_);
    Sent s{request.method, request.target, ""};
    for (const auto& [name, value] : request.headers) {
      if (name == "Authorization") s.authorization = value;
    }
    sent_.push_back(s);
    if (replies_.empty()) {
      ADD_FAILURE() << "unscripted request " << request.method << " " << request.target;
      return ApiError{ApiError::Kind::Permanent, 0, "UNSCRIPTED", "no reply scripted", false};
    }
    auto r = std::move(replies_.front());
    replies_.pop_front();
    return r;
  }
  void closeIdle() override {}
  int64_t requestsSent() const override {
    std::lock_guard lock(mutex_);
    return static_cast<int64_t>(sent_.size());
  }
  std::vector<Sent> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  std::vector<std::string> targets() const {
    std::vector<std::string> out;
    for (const auto& s : sent()) out.push_back(s.target);
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::deque<Result<HttpResponse>> replies_;
  std::vector<Sent> sent_;
};

// tok1, renewed to tok2, tok3...; or refusing to renew.
class ScriptedTokens : public TokenProvider {
 public:
  Result<std::string> token() override {
    std::lock_guard lock(mutex_);
    return "tok" + std::to_string(generation_);
  }
  Result<std::string> refresh(const std::string& rejected) override {
    std::lock_guard lock(mutex_);
    ++refreshes;
    if (onRefresh) onRefresh();
    if (refuse) {
      return ApiError{ApiError::Kind::Unauthorized, 400, "AUTH_INVALID_GRANT", "refused", false};
    }
    if (rejected == "tok" + std::to_string(generation_)) ++generation_;
    return "tok" + std::to_string(generation_);
  }
  std::mutex mutex_;
  int generation_ = 1;
  int refreshes = 0;
  bool refuse = false;
  std::function<void()> onRefresh;  // e.g. the time a slow token endpoint takes
};

class BulkClientSeam : public ::testing::Test {
 protected:
  BulkClient& client() {
    if (!client_) {
      ClientOptions o = options_;
      o.instanceUrl = "https://acme.my.salesforce.com";
      o.clock = &clock_;
      o.stop = &stop_;
      o.transports = [this](const std::string& url, const TransportOptions&) {
        urls_.push_back(url);
        return transport_;
      };
      client_ = std::make_unique<BulkClient>(o, tokens_);
    }
    return *client_;
  }
  Result<ListStats> list() {
    return client().list(model::ResourceKind::Query, [this](Page&& p) {
      for (auto& j : p.jobs) listed_.push_back(j.id);
    });
  }

  ClientOptions options_;
  testing::ManualClock clock_;
  model::StopSignal stop_;
  std::shared_ptr<ScriptedTransport> transport_ = std::make_shared<ScriptedTransport>();
  std::shared_ptr<ScriptedTokens> tokens_ = std::make_shared<ScriptedTokens>();
  std::vector<std::string> urls_;
  std::vector<std::string> listed_;
  std::unique_ptr<BulkClient> client_;
};

// Sforce-Limit-Info counts over the org's rolling 24 hours: a lower count than the highest seen
// is an answer that arrived late, unless the highest is a minute old on the clock (the one the
// org's time is read on, so that a scaled clock ages it as fast as the org's window rolls).
TEST_F(BulkClientSeam, ALowerUsageCountIsTakenOnceTheHigherIsAMinuteOldOnTheClock) {
  auto withUsage = [](std::string usage) {
    auto r = lastPage("750R0000000000AAAA");
    r.limitInfo = "api-usage=" + std::move(usage);
    return r;
  };
  transport_->script({withUsage("15000/15000"), withUsage("12/15000"), withUsage("13/15000")});
  ASSERT_TRUE(list().ok());
  EXPECT_EQ(client().usage().used, 15000);
  clock_.advance(30s);
  ASSERT_TRUE(list().ok());
  EXPECT_EQ(client().usage().used, 15000) << "within a minute: a late answer";
  clock_.advance(2min);
  ASSERT_TRUE(list().ok());
  EXPECT_EQ(client().usage().used, 13);
}

TEST_F(BulkClientSeam, TheTransportComesFromTheFactoryForTheInstance) {
  client();
  EXPECT_EQ(urls_, std::vector<std::string>{"https://acme.my.salesforce.com"});
}

TEST_F(BulkClientSeam, AListingFollowsNextRecordsUrlPageByPage) {
  transport_->script({
      reply(
          200,
          R"({"done":false,"records":[)" + jobRecord("750R00000000001AAA") +
              R"(],"nextRecordsUrl":"/services/data/v62.0/jobs/query?queryLocator=01gR0000000opRTIAY-1000"})"),
      reply(
          200,
          R"({"done":false,"records":[)" + jobRecord("750R00000000002AAA") +
              R"(],"nextRecordsUrl":"/services/data/v62.0/jobs/query?queryLocator=01gR0000000opRTIAY-2000"})"),
      lastPage("750R00000000003AAA"),
  });
  auto r = list();
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r.value().pages, 3);
  EXPECT_EQ(r.value().jobs, 3);
  EXPECT_EQ(transport_->targets(),
            (std::vector<std::string>{kFirst, kBase + "?queryLocator=01gR0000000opRTIAY-1000",
                                      kBase + "?queryLocator=01gR0000000opRTIAY-2000"}));
  for (const auto& s : transport_->sent()) {
    EXPECT_EQ(s.method, "GET");
    EXPECT_EQ(s.authorization, "Bearer tok1");
  }
  EXPECT_EQ(listed_, (std::vector<std::string>{"750R00000000001AAA", "750R00000000002AAA",
                                               "750R00000000003AAA"}));
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST_F(BulkClientSeam, ATransientReadIsSentAgainAfterTheRetryAfterItAsks) {
  transport_->script({reply(503, "busy", "7"), lastPage("750R00000000001AAA")});
  auto r = list();
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(transport_->targets(), (std::vector<std::string>{kFirst, kFirst}));
  // The first retry's jitter is at most 500 ms: Retry-After's 7 s wins.
  EXPECT_EQ(clock_.sleeps(), std::vector<model::Duration>{7s});
}

TEST_F(BulkClientSeam, ANetworkFailureOfAReadIsSentAgainAfterAJitteredBackoff) {
  transport_->script({ApiError{ApiError::Kind::Transient, 0, "", "connection reset", true},
                      lastPage("750R00000000001AAA")});
  ASSERT_TRUE(list().ok());
  EXPECT_EQ(transport_->targets().size(), 2u);
  ASSERT_EQ(clock_.sleeps().size(), 1u);
  EXPECT_LE(clock_.sleeps()[0], 500ms);
}

TEST_F(BulkClientSeam, ARetryAfterLongerThanTheCapEndsTheAttemptWithoutWaiting) {
  transport_->script({reply(503, "busy", "120")});
  auto r = list();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Transient);
  EXPECT_EQ(transport_->targets().size(), 1u);
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST_F(BulkClientSeam, RetriesStopAtTheirMaximum) {
  transport_->script({reply(503, "busy"), reply(503, "busy"), reply(503, "busy")});
  ASSERT_FALSE(list().ok());
  EXPECT_EQ(transport_->targets().size(), 3u);  // BackoffPolicy's 3 tries
  EXPECT_EQ(clock_.sleeps().size(), 2u);
}

TEST_F(BulkClientSeam, AnAbortRefusedWith503IsNotSentAgainByTheClient) {
  transport_->script({reply(503, "busy", "1")});
  auto r = client().abort(model::ResourceKind::Query, "750R00000000001AAA");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().retryAfter, "1");  // for the engine's own backoff
  ASSERT_EQ(transport_->sent().size(), 1u);
  EXPECT_EQ(transport_->sent()[0].method, "PATCH");
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST_F(BulkClientSeam, AnExpiredSessionRenewsTheTokenOnceAndSendsTheRequestAgain) {
  transport_->script({expiredSession(), lastPage("750R00000000001AAA")});
  auto r = list();
  ASSERT_TRUE(r.ok()) << r.error().describe();
  auto sent = transport_->sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].authorization, "Bearer tok1");
  EXPECT_EQ(sent[1].authorization, "Bearer tok2");
  EXPECT_EQ(sent[1].target, kFirst);
  EXPECT_EQ(tokens_->refreshes, 1);
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST_F(BulkClientSeam, ASecond401AfterTheRenewalGivesUp) {
  transport_->script({expiredSession(), expiredSession()});
  auto r = client().abort(model::ResourceKind::Query, "750R00000000001AAA");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Unauthorized);
  EXPECT_EQ(r.error().code, "INVALID_SESSION_ID");
  EXPECT_EQ(transport_->sent().size(), 2u);
  EXPECT_EQ(tokens_->refreshes, 1);
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST_F(BulkClientSeam, AnExpiredSessionThatCannotBeRenewedIsNotSentAgain) {
  tokens_->refuse = true;
  transport_->script({expiredSession()});
  auto r = list();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Unauthorized);
  EXPECT_NE(r.error().message.find("refused"), std::string::npos) << r.error().describe();
  EXPECT_EQ(transport_->sent().size(), 1u);
  EXPECT_EQ(tokens_->refreshes, 1);
}

// Cluster mode's fence (docs/scaling.md, "What the fence guarantees"): a write may go out only
// while the lease leaves time for it. Here the fence allows sends until `limit` on the clock, and
// the token renewal after a 401 takes 5 s: the PATCH sent again with the new token would start
// after the limit, so it is not sent at all. Before, the lease was checked once, before the first
// send, and the resend after a slow renewal could outlive the lease.
TEST_F(BulkClientSeam, AWriteSentAgainAfterATokenRenewalIsFencedAgain) {
  const auto limit = clock_.now() + 3s;
  int asked = 0;
  SendFence fence([&]() -> std::optional<ApiError> {
    ++asked;
    if (clock_.now() < limit) return std::nullopt;
    return ApiError{ApiError::Kind::Permanent, 0, "NOT_SENT", "the lease could end first", false};
  });
  tokens_->onRefresh = [&] { clock_.advance(5s); };
  transport_->script({expiredSession()});
  auto r = client().abort(model::ResourceKind::Query, "750R00000000001AAA");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "NOT_SENT");
  EXPECT_FALSE(r.error().sent);
  ASSERT_EQ(transport_->sent().size(), 1u);  // the first PATCH only, refused with 401
  EXPECT_EQ(transport_->sent()[0].method, "PATCH");
  EXPECT_EQ(tokens_->refreshes, 1);
  EXPECT_EQ(asked, 2);
}

// The same for a delete and a 1.0 abort (400 InvalidSessionId is 1.0's expired session), and a
// quick renewal leaves the resend within the limit: sent.
TEST_F(BulkClientSeam, EverySendOfADeleteOrAClassicAbortAsksTheFence) {
  const auto limit = clock_.now() + 1500ms;
  int asked = 0;
  SendFence fence([&]() -> std::optional<ApiError> {
    ++asked;
    if (clock_.now() < limit) return std::nullopt;
    return ApiError{ApiError::Kind::Permanent, 0, "NOT_SENT", "the lease could end first", false};
  });
  tokens_->onRefresh = [&] { clock_.advance(1s); };
  transport_->script({expiredSession(), reply(204, "")});
  auto removed = client().remove(model::ResourceKind::Query, "750R00000000001AAA");
  ASSERT_TRUE(removed.ok()) << removed.error().describe();
  EXPECT_EQ(asked, 2);
  const std::string invalid =
      R"({"exceptionCode":"InvalidSessionId","exceptionMessage":"Invalid session id"})";
  transport_->script({reply(400, invalid)});
  // Sent at 1 s, within the limit; the renewal takes it to 2 s, past it.
  auto aborted = client().abortClassic("750R00000000001AAA");
  ASSERT_FALSE(aborted.ok());
  EXPECT_EQ(aborted.error().code, "NOT_SENT");
  auto sent = transport_->sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].method, "DELETE");
  EXPECT_EQ(sent[1].method, "DELETE");
  EXPECT_EQ(sent[2].method, "POST");
  EXPECT_EQ(asked, 4);
}

// The fence is the last step before the send: after the API budget's admission, whose ledger
// write may wait for the disk (here it takes 2 s), the lease may no longer leave time.
TEST_F(BulkClientSeam, TheFenceIsAskedAfterTheBudgetAdmittedTheWrite) {
  class SlowLedger : public CallGate {
   public:
    explicit SlowLedger(testing::ManualClock& clock) : clock_(clock) {}
    std::optional<ApiError> admit(CallPurpose) override {
      clock_.advance(2s);
      return std::nullopt;
    }
    void allowance(int64_t) override {}

   private:
    testing::ManualClock& clock_;
  };
  options_.gate = std::make_shared<SlowLedger>(clock_);
  const auto limit = clock_.now() + 1500ms;
  SendFence fence([&]() -> std::optional<ApiError> {
    if (clock_.now() < limit) return std::nullopt;
    return ApiError{ApiError::Kind::Permanent, 0, "NOT_SENT", "the lease could end first", false};
  });
  auto r = client().abort(model::ResourceKind::Query, "750R00000000001AAA");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "NOT_SENT");
  EXPECT_TRUE(transport_->sent().empty());
}

// Reads are not writes: a fence that refuses everything lets a listing and a GET through.
TEST_F(BulkClientSeam, ReadsDoNotAskTheFence) {
  SendFence fence([]() -> std::optional<ApiError> {
    return ApiError{ApiError::Kind::Permanent, 0, "NOT_SENT", "refused", false};
  });
  transport_->script({lastPage("750R00000000001AAA")});
  ASSERT_TRUE(list().ok());
  EXPECT_EQ(transport_->sent().size(), 1u);
}

// writesNeedFence (cluster mode): a write on a thread without a fence is refused, not sent.
TEST_F(BulkClientSeam, AWriteWithoutAFenceIsRefusedWhenFencesAreRequired) {
  options_.writesNeedFence = true;
  auto r = client().abort(model::ResourceKind::Query, "750R00000000001AAA");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "NOT_SENT");
  EXPECT_FALSE(r.error().sent);
  EXPECT_TRUE(transport_->sent().empty());
  transport_->script({lastPage("750R00000000001AAA")});
  EXPECT_TRUE(list().ok());  // reads still go out
  SendFence allow([]() -> std::optional<ApiError> { return std::nullopt; });
  transport_->script({reply(200, R"({"id":"750R00000000001AAA","state":"Aborted"})")});
  EXPECT_TRUE(client().abort(model::ResourceKind::Query, "750R00000000001AAA").ok());
}

TEST_F(BulkClientSeam, TheConcurrentLimitIsWaitedOutOnItsSlowerSchedule) {
  transport_->script({concurrentLimit(), concurrentLimit(), lastPage("750R00000000001AAA")});
  auto r = list();
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(transport_->targets(), (std::vector<std::string>{kFirst, kFirst, kFirst}));
  auto sleeps = clock_.sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_LE(sleeps[0], 5s);  // full jitter under 5 s, then 10 s (concurrentLimitBackoff)
  EXPECT_LE(sleeps[1], 10s);
}

TEST_F(BulkClientSeam, TheConcurrentLimitGivesUpAfterItsAttempts) {
  transport_->script({concurrentLimit(), concurrentLimit(), concurrentLimit(), concurrentLimit()});
  auto r = list();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Transient);
  EXPECT_EQ(transport_->targets().size(), 4u);
  EXPECT_EQ(clock_.sleeps().size(), 3u);
}

// SIGTERM during a retry's backoff: the clock's wait (which would last until the clock moves,
// and it never does) ends at once; the call returns the failure without sending it again.
TEST_F(BulkClientSeam, AStopRequestEndsTheRetryWaitAtOnce) {
  clock_.sleepMode(testing::ManualClock::SleepMode::Block);
  transport_->script({reply(503, "busy", "25")});
  const auto started = std::chrono::steady_clock::now();
  std::optional<Result<ListStats>> r;
  std::thread lister([&] { r = list(); });
  EXPECT_TRUE(testing::eventually([this] { return clock_.sleepers() == 1; }));
  EXPECT_EQ(clock_.sleeps(), std::vector<model::Duration>{25s});
  stop_.request();
  lister.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  ASSERT_TRUE(r.has_value());
  ASSERT_FALSE(r->ok());
  EXPECT_EQ(r->error().kind, ApiError::Kind::Transient);
  EXPECT_EQ(transport_->targets().size(), 1u);
}

// A stop already requested: no wait at all, the failure is the answer.
TEST_F(BulkClientSeam, AfterAStopRequestAFailedReadIsNotRetried) {
  stop_.request();
  transport_->script({reply(503, "busy")});
  ASSERT_FALSE(list().ok());
  EXPECT_EQ(transport_->targets().size(), 1u);
}

}  // namespace
}  // namespace bulkwarden::salesforce
