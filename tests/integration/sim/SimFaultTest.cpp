// Scripted faults: paging loops, done:false without a URL, canned failures; and concurrency.
#include <atomic>
#include <thread>

#include "SimTestSupport.h"

namespace bulkwarden::sim::testing {
namespace {

SimOptions paged(int pageSize) {
  SimOptions o;
  o.pageSize = pageSize;
  return o;
}

void addMany(SimOrg& org, int count, const std::string& state = "JobComplete") {
  for (int i = 0; i < count; ++i) org.addJob(seed("query", state));
}

TEST(SimFault, RepeatLocatorMakesAPagingLoopOnce) {
  SimServer server(paged(10));
  addMany(server.org(), 35);
  server.org().repeatLocatorOnPage(2);
  server.start();
  Client client(server.port());
  const std::string token = server.token();
  const Reply p1 = client.get(std::string(kBase) + "/jobs/query", token);
  const std::string url1 = p1.object()->getValue<std::string>("nextRecordsUrl");
  const Reply p2 = client.get(url1, token);
  ASSERT_EQ(p2.status, 200);
  EXPECT_FALSE(p2.object()->getValue<bool>("done"));
  EXPECT_EQ(p2.object()->getValue<std::string>("nextRecordsUrl"), url1)
      << "page 2 must hand back the locator that fetched it";
  // The fault fires once: the repeated page now moves on.
  const Reply p2again = client.get(url1, token);
  EXPECT_NE(p2again.object()->getValue<std::string>("nextRecordsUrl"), url1);
  EXPECT_NE(p2again.body.find(R"("done":false)"), std::string::npos);
  // A following listing is clean.
  EXPECT_EQ(listAll(client, std::string(kBase) + "/jobs/query", token).records.size(), 35U);
}

TEST(SimFault, DoneFalseWithoutNextUrl) {
  SimServer server(paged(10));
  addMany(server.org(), 35);
  server.org().doneFalseWithoutUrlOnPage(3);
  server.start();
  Client client(server.port());
  const Listing listing = listAll(client, std::string(kBase) + "/jobs/query", server.token());
  ASSERT_EQ(listing.nextUrls.size(), 3U);
  EXPECT_EQ(listing.nextUrls[2], "");
  EXPECT_EQ(listing.records.size(), 30U);
  // Page 3 said done:false with a null URL.
  SimServer single(paged(10));
  addMany(single.org(), 3);
  single.org().doneFalseWithoutUrlOnPage(1);
  single.start();
  Client other(single.port());
  const Reply r = other.get(std::string(kBase) + "/jobs/query", single.token());
  const auto obj = r.object();
  EXPECT_FALSE(obj->getValue<bool>("done"));
  EXPECT_TRUE(obj->isNull("nextRecordsUrl"));
  EXPECT_NE(r.body.find(R"("nextRecordsUrl":null)"), std::string::npos);
}

TEST(SimFault, FailNextRequests) {
  SimServer server(SimOptions{});
  const std::string id = server.org().addJob(seed("query", "InProgress"));
  server.start();
  Client client(server.port());
  const std::string token = server.token();
  const std::string list = std::string(kBase) + "/jobs/query";
  server.org().failNextRequests(2, 503, "SERVER_UNAVAILABLE", "Server too busy");
  for (int i = 0; i < 2; ++i) {
    const Reply r = client.get(list, token);
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.errorCode(), "SERVER_UNAVAILABLE");
    EXPECT_EQ(r.errorMessage(), "Server too busy");
  }
  EXPECT_EQ(client.get(list, token).status, 200);

  server.org().failNextRequests(1, 401, "INVALID_SESSION_ID", "Session expired or invalid");
  const Reply expired = client.call("PATCH", list + "/" + id, token, R"({"state":"Aborted"})");
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(expired.header("WWW-Authenticate"), "Token");
  EXPECT_FALSE(expired.header("Sforce-Limit-Info").has_value());
  EXPECT_EQ(server.org().state(id), "InProgress") << "a failed request must not act";

  server.org().failNextRequests(1, 500, "", "");
  const Reply empty = client.get(list, token);
  EXPECT_EQ(empty.status, 500);
  EXPECT_EQ(empty.body, "");

  SimResponse html;
  html.status = 502;
  html.contentType = "text/html";
  html.body = "<html><body>Bad Gateway</body></html>";
  server.org().respondNext(1, html);
  const Reply gateway = client.get(list, token);
  EXPECT_EQ(gateway.status, 502);
  EXPECT_EQ(gateway.header("Content-Type"), "text/html");
  EXPECT_EQ(gateway.body, html.body);
  EXPECT_EQ(client.call("PATCH", list + "/" + id, token, R"({"state":"Aborted"})").status, 200);
}

TEST(SimFault, ConcurrentKeptAliveClients) {
  SimServer server(paged(50));
  addMany(server.org(), 200);
  std::vector<std::string> active;
  for (int i = 0; i < 40; ++i) active.push_back(server.org().addJob(seed("query", "InProgress")));
  server.start();
  const std::string token = server.token();
  constexpr int kThreads = 8;
  std::atomic<int> failures{0};
  std::atomic<int> aborted{0};
  std::atomic<int> requests{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client client(server.port());  // one kept-alive connection per thread
      for (int round = 0; round < 3; ++round) {
        std::string uri = std::string(kBase) + "/jobs/query";
        std::size_t seen = 0;
        while (true) {
          const Reply r = client.get(uri, token);
          ++requests;
          if (r.status != 200) {
            ++failures;
            break;
          }
          const auto obj = r.object();
          seen += obj->getArray("records")->size();
          if (obj->getValue<bool>("done")) break;
          uri = obj->getValue<std::string>("nextRecordsUrl");
        }
        if (seen != 240) ++failures;
      }
      // Every thread tries to abort every active job; each job accepts exactly one.
      for (std::size_t i = 0; i < active.size(); ++i) {
        const std::string& id = active[(i + static_cast<std::size_t>(t) * 5) % active.size()];
        const Reply r = client.call("PATCH", std::string(kBase) + "/jobs/query/" + id, token,
                                    R"({"state":"Aborted"})");
        ++requests;
        if (r.status == 200) {
          ++aborted;
        } else if (r.status != 400 || r.errorCode() != "INVALIDJOBSTATE") {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(aborted.load(), 40);
  for (const auto& id : active) EXPECT_EQ(server.org().appliedActions(id), 1) << id;
  EXPECT_EQ(server.org().counters().requests, requests.load());
  EXPECT_EQ(server.org().counters().appliedAborts, 40);
}

}  // namespace
}  // namespace bulkwarden::sim::testing
