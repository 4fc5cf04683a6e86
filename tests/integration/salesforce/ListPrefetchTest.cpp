// BulkClient::list requests page N+1 while page N is parsed and handed on (issue 7). The prefetch
// must never change what is listed nor cost a call that plain paging would not make, and the
// page sink sees the pages in order, one at a time.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "salesforce/BulkClient.h"
#include "salesforce/TokenProvider.h"
#include "sim/SimServer.h"

namespace bulkwarden::salesforce {
namespace {

class ListPrefetch : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    sim::SimOptions o;
    o.pageSize = 100;
    o.queryNextUrlOnIngestPath = GetParam();  // the docs quirk: the URL points at /jobs/ingest
    server_ = std::make_unique<sim::SimServer>(std::move(o));
    server_->start();
    for (int i = 0; i < 1050; ++i) {
      sim::JobSeed s;
      s.kind = "query";
      s.state = "InProgress";
      s.age = std::chrono::hours(1);
      ids_.insert(server_->org().addJob(s));
    }
    ClientOptions c;
    c.instanceUrl = server_->baseUrl();
    c.apiVersion = "62.0";
    client_ =
        std::make_unique<BulkClient>(c, std::make_shared<AccessTokenProvider>(server_->token()));
  }
  void TearDown() override { server_->stop(); }

  std::unique_ptr<sim::SimServer> server_;
  std::unique_ptr<BulkClient> client_;
  std::set<std::string> ids_;
};

TEST_P(ListPrefetch, EveryJobOnceAndOneCallPerPage) {
  std::set<std::string> seen;
  int pages = 0;
  auto r = client_->list(model::ResourceKind::Query, [&](Page&& p) {
    ++pages;
    for (auto& j : p.jobs) EXPECT_TRUE(seen.insert(j.id).second) << j.id;
  });
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r.value().pages, 11);
  EXPECT_EQ(pages, 11);
  EXPECT_EQ(seen, ids_);
  EXPECT_EQ(client_->calls(), 11);
  EXPECT_EQ(server_->org().counters().lists, 11);
}

TEST_P(ListPrefetch, AFailedListingStopsWithoutExtraCalls) {
  server_->org().doneFalseWithoutUrlOnPage(4);
  auto r = client_->list(model::ResourceKind::Query, [](Page&&) {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Malformed);
  EXPECT_EQ(client_->calls(), 4);
  EXPECT_EQ(server_->org().counters().lists, 4);
}

TEST_P(ListPrefetch, PagesAreHandedOnInOrderOneAtATime) {
  std::atomic<int> inside{0};
  int most = 0;
  std::vector<size_t> sizes;
  auto r = client_->list(model::ResourceKind::Query, [&](Page&& p) {
    most = std::max(most, ++inside);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // while the next page comes
    sizes.push_back(p.jobs.size());
    --inside;
  });
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(most, 1);
  ASSERT_EQ(sizes.size(), 11u);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(sizes[i], 100u) << i;
  EXPECT_EQ(sizes[10], 50u);  // the short page last
}

TEST_P(ListPrefetch, WhatThePageSinkThrowsReachesTheCaller) {
  int pages = 0;
  EXPECT_THROW(client_->list(model::ResourceKind::Query,
                             [&](Page&&) {
                               if (++pages == 2) throw std::runtime_error("sink failed");
                             }),
               std::runtime_error);
  EXPECT_EQ(pages, 2);
  EXPECT_LE(client_->calls(), 3);  // at most the page fetched ahead of the failing one
}

INSTANTIATE_TEST_SUITE_P(NextUrlPath, ListPrefetch, ::testing::Bool());

}  // namespace
}  // namespace bulkwarden::salesforce
