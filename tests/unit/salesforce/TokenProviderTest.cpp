#include "salesforce/TokenProvider.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace bulkwarden::salesforce {
namespace {

TEST(AccessTokenProvider, FixedTokenCannotBeRenewed) {
  AccessTokenProvider p("00Dx!abc");
  ASSERT_TRUE(p.token().ok());
  EXPECT_EQ(p.token().value(), "00Dx!abc");
  auto r = p.refresh("00Dx!abc");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Unauthorized);
  EXPECT_EQ(r.error().message, "access-token flow cannot renew an expired token; update the token");
  EXPECT_EQ(r.error().message.find("00Dx"), std::string::npos);
  EXPECT_FALSE(AccessTokenProvider("").token().ok());
}

// Mints "t1", "t2"... slowly, counting fetches; fails when told to.
class CountingProvider : public FetchingTokenProvider {
 public:
  std::atomic<int> fetches{0};
  std::atomic<bool> fail{false};

 protected:
  Result<FetchedToken> fetch() override {
    int n = ++fetches;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (fail) return ApiError{ApiError::Kind::Unauthorized, 400, "invalid_grant", "no", false};
    return FetchedToken{"t" + std::to_string(n), "", ""};
  }
};

TEST(FetchingTokenProvider, FetchesOnceThenCaches) {
  CountingProvider p;
  EXPECT_EQ(p.token().value(), "t1");
  EXPECT_EQ(p.token().value(), "t1");
  EXPECT_EQ(p.fetches, 1);
}

TEST(FetchingTokenProvider, ConcurrentRefreshOfTheSameTokenFetchesOnce) {
  CountingProvider p;
  ASSERT_EQ(p.token().value(), "t1");
  std::vector<std::thread> threads;
  std::vector<std::string> got(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = p.refresh("t1");
      got[static_cast<std::size_t>(i)] = r.ok() ? r.value() : "error";
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(p.fetches, 2);
  for (const auto& g : got) EXPECT_EQ(g, "t2");
  // A later rejection of the new token refreshes again.
  EXPECT_EQ(p.refresh("t2").value(), "t3");
  // A stale rejection (of a token already replaced) does not.
  EXPECT_EQ(p.refresh("t1").value(), "t3");
  EXPECT_EQ(p.fetches, 3);
}

TEST(FetchingTokenProvider, FailedRefreshIsSharedThenTokenRetries) {
  CountingProvider p;
  ASSERT_EQ(p.token().value(), "t1");
  p.fail = true;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      if (!p.refresh("t1").ok()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 6);
  EXPECT_EQ(p.fetches, 2);
  p.fail = false;
  EXPECT_EQ(p.token().value(), "t3");
}

}  // namespace
}  // namespace bulkwarden::salesforce
