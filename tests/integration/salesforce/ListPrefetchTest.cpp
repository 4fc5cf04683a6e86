// BulkClient::list requests page N+1 while it parses page N (issue 7). The prefetch must never
// change what is listed nor cost a call that plain paging would not make.
#include <gtest/gtest.h>

#include <set>

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

INSTANTIATE_TEST_SUITE_P(NextUrlPath, ListPrefetch, ::testing::Bool());

}  // namespace
}  // namespace bulkwarden::salesforce
