// The simulated org's fault plan on its own: what each request is told to suffer, and in which
// order (a network fault, then a refusal, then a scripted reply).
#include "sim/FaultPlan.h"

#include <gtest/gtest.h>

namespace bulkwarden::sim {
namespace {

SimRequest request(std::string method, std::string uri = "/services/data/v62.0/jobs/query") {
  SimRequest r;
  r.method = std::move(method);
  r.uri = std::move(uri);
  return r;
}

SimResponse reply(int status) {
  SimResponse r;
  r.status = status;
  return r;
}

TEST(SimFaultPlan, AFaultFreePlanDecidesNothing) {
  FaultPlan plan(1);
  auto d = plan.decide(request("GET"));
  EXPECT_EQ(d.net, NetFault::None);
  EXPECT_FALSE(d.refusal);
  EXPECT_FALSE(d.scripted);
}

TEST(SimFaultPlan, ScriptedRepliesAreSpentInOrder) {
  FaultPlan plan(1);
  plan.respondNext(2, reply(500));
  plan.respondNext(1, reply(418));
  EXPECT_EQ(plan.decide(request("GET")).scripted->status, 500);
  EXPECT_EQ(plan.decide(request("PATCH")).scripted->status, 500);
  EXPECT_EQ(plan.decide(request("GET")).scripted->status, 418);
  EXPECT_FALSE(plan.decide(request("GET")).scripted);
}

TEST(SimFaultPlan, ANetFaultWaitsForItsMethodAndAResetBeforeApplyEndsTheRequest) {
  FaultPlan plan(1);
  plan.injectNetFault(1, NetFault::ResetBeforeApply, "DELETE", std::chrono::milliseconds(0));
  plan.respondNext(1, reply(500));
  auto get = plan.decide(request("GET"));
  EXPECT_EQ(get.net, NetFault::None);
  EXPECT_TRUE(get.scripted) << "the GET takes the scripted reply";
  plan.respondNext(1, reply(500));
  auto del = plan.decide(request("DELETE"));
  EXPECT_EQ(del.net, NetFault::ResetBeforeApply);
  EXPECT_FALSE(del.scripted) << "nothing else happens to a request reset before it applies";
  EXPECT_EQ(plan.decide(request("DELETE")).net, NetFault::None) << "spent";
}

TEST(SimFaultPlan, EveryNthRequestIsRefusedWithRetryAfterAndTokenRequestsDoNotCount) {
  FaultPlan plan(1);
  plan.failEvery(3, 7);
  int refused = 0;
  for (int i = 1; i <= 9; ++i) {
    EXPECT_FALSE(plan.decide(request("POST", "/services/oauth2/token")).refusal);
    auto d = plan.decide(request("PATCH"));
    if (d.refusal) {
      ++refused;
      EXPECT_EQ(i % 3, 0) << "request " << i;
      EXPECT_EQ(d.refusal->status, 503);
      ASSERT_EQ(d.refusal->headers.size(), 1u);
      EXPECT_EQ(d.refusal->headers[0].first, "Retry-After");
      EXPECT_EQ(d.refusal->headers[0].second, "7");
    }
  }
  EXPECT_EQ(refused, 3);
}

TEST(SimFaultPlan, TheConcurrentLimitRefusesUntilItClears) {
  FaultPlan plan(1);
  plan.exceedConcurrentLimitUntil(std::chrono::steady_clock::now() + std::chrono::hours(1));
  auto d = plan.decide(request("GET"));
  ASSERT_TRUE(d.refusal);
  EXPECT_EQ(d.refusal->status, 403);
  EXPECT_NE(d.refusal->body.find("ConcurrentPerOrgLongTxn"), std::string::npos);
  EXPECT_TRUE(d.limitInfo);
  EXPECT_FALSE(plan.decide(request("POST", "/services/oauth2/token")).refusal);
  plan.exceedConcurrentLimitUntil(std::chrono::steady_clock::now() - std::chrono::seconds(1));
  EXPECT_FALSE(plan.decide(request("GET")).refusal);
}

TEST(SimFaultPlan, AFailureRateOfOneRefusesEverythingAndClearForgetsIt) {
  FaultPlan plan(1);
  plan.setFailureRate(1.0);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(plan.decide(request("GET")).refusal);
  plan.clear();
  EXPECT_FALSE(plan.decide(request("GET")).refusal);
}

TEST(SimFaultPlan, PageFaultsFireOnceOnTheirPage) {
  FaultPlan plan(1);
  plan.repeatLocatorOnPage(2);
  EXPECT_EQ(plan.takePageFault(1), JobStore::PageFault::None);
  EXPECT_EQ(plan.takePageFault(2), JobStore::PageFault::RepeatLocator);
  EXPECT_EQ(plan.takePageFault(2), JobStore::PageFault::None);
}

TEST(SimFaultPlan, ScriptedTokenRepliesAreSeparateFromOthers) {
  FaultPlan plan(1);
  plan.respondToTokenRequests(1, reply(400));
  EXPECT_FALSE(plan.decide(request("GET")).scripted);
  auto token = plan.takeTokenReply();
  ASSERT_TRUE(token);
  EXPECT_EQ(token->status, 400);
  EXPECT_FALSE(plan.takeTokenReply());
}

}  // namespace
}  // namespace bulkwarden::sim
