// Listing jobs: paging, order, jobType filters, locators, record fields.
#include <regex>

#include "SimTestSupport.h"

namespace bulkwarden::sim::testing {
namespace {

SimOptions small(int pageSize = 100) {
  SimOptions o;
  o.pageSize = pageSize;
  return o;
}

void addJobs(SimOrg& org, const std::string& kind, const std::string& state, int count,
             const std::string& jobType = "") {
  for (int i = 0; i < count; ++i) {
    JobSeed s = seed(kind, state);
    s.jobType = jobType;
    s.age = std::chrono::minutes(i);
    org.addJob(s);
  }
}

TEST(SimList, PagesCoverEveryJobExactlyOnce) {
  SimServer server(small(100));
  addJobs(server.org(), "query", "InProgress", 130);
  addJobs(server.org(), "query", "JobComplete", 120);
  addJobs(server.org(), "ingest", "Open", 30);
  server.start();
  Client client(server.port());
  const Listing listing =
      listAll(client, std::string(kBase) + "/jobs/query?jobType=V2Query", server.token());
  ASSERT_EQ(listing.nextUrls.size(), 3U);
  EXPECT_EQ(listing.records.size(), 250U);
  const auto ids = listing.ids();
  const std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), 250U);
  std::set<std::string> expected;
  for (const auto& job : server.org().jobs()) {
    if (job.kind == "query") expected.insert(job.id);
  }
  EXPECT_EQ(unique, expected);
  const std::regex url(
      R"(^/services/data/v62\.0/jobs/query\?queryLocator=01g[A-Za-z0-9]{15}-(\d+)$)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(listing.nextUrls[0], m, url)) << listing.nextUrls[0];
  EXPECT_EQ(m[1], "100");
  ASSERT_TRUE(std::regex_match(listing.nextUrls[1], m, url)) << listing.nextUrls[1];
  EXPECT_EQ(m[1], "200");
  EXPECT_EQ(listing.nextUrls[2], "");
  EXPECT_EQ(server.org().counters().lists, 3);
}

TEST(SimList, DefaultPageSizeIsAThousand) {
  SimServer server(SimOptions{});
  addJobs(server.org(), "ingest", "JobComplete", 2500);
  server.start();
  Client client(server.port());
  const Reply first = client.get(std::string(kBase) + "/jobs/ingest", server.token());
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.object()->getArray("records")->size(), 1000U);
  EXPECT_FALSE(first.object()->getValue<bool>("done"));
  const Listing listing = listAll(client, std::string(kBase) + "/jobs/ingest", server.token());
  EXPECT_EQ(listing.nextUrls.size(), 3U);
  EXPECT_EQ(listing.records.size(), 2500U);
}

TEST(SimList, OrderDiffersBetweenListingsButIsSeeded) {
  auto order = [](uint64_t seedValue, int listings) {
    SimOptions o;
    o.seed = seedValue;
    SimServer server(o);
    for (int i = 0; i < 60; ++i) {
      JobSeed s = seed("query", "JobComplete");
      s.id = fmt::format("750R0000000AAA{:04d}", i);
      server.org().addJob(s);
    }
    server.start();
    Client client(server.port());
    std::vector<std::vector<std::string>> out;
    for (int i = 0; i < listings; ++i) {
      out.push_back(listAll(client, std::string(kBase) + "/jobs/query", server.token()).ids());
    }
    return out;
  };
  const auto a = order(7, 2);
  const auto b = order(7, 1);
  const auto c = order(8, 1);
  ASSERT_EQ(a[0].size(), 60U);
  EXPECT_NE(a[0], a[1]) << "two listings came back in the same order";
  EXPECT_EQ(std::set<std::string>(a[0].begin(), a[0].end()),
            std::set<std::string>(a[1].begin(), a[1].end()));
  EXPECT_EQ(a[0], b[0]) << "the same seed must give the same first order";
  EXPECT_NE(a[0], c[0]);
}

TEST(SimList, LocatorIsAStableSnapshotWhileJobsChange) {
  SimServer server(small(10));
  addJobs(server.org(), "query", "JobComplete", 25);
  server.start();
  Client client(server.port());
  const Reply first = client.get(std::string(kBase) + "/jobs/query", server.token());
  ASSERT_EQ(first.status, 200);
  // A job added after the first page does not appear in this listing's later pages.
  const std::string added = server.org().addJob(seed("query", "InProgress"));
  std::set<std::string> ids;
  const auto records = first.object()->getArray("records");
  for (std::size_t i = 0; i < records->size(); ++i) {
    ids.insert(records->getObject(static_cast<unsigned>(i))->getValue<std::string>("id"));
  }
  const Listing rest =
      listAll(client, first.object()->getValue<std::string>("nextRecordsUrl"), server.token());
  for (const auto& id : rest.ids()) ids.insert(id);
  EXPECT_EQ(ids.size(), 25U);
  EXPECT_EQ(ids.count(added), 0U);
  // The next listing sees it.
  const auto again = listAll(client, std::string(kBase) + "/jobs/query", server.token()).ids();
  EXPECT_EQ(again.size(), 26U);
}

TEST(SimList, JobTypeFilters) {
  SimServer server(small(1000));
  addJobs(server.org(), "query", "JobComplete", 5);
  addJobs(server.org(), "query", "JobComplete", 3, "Classic");
  addJobs(server.org(), "ingest", "InProgress", 4);
  addJobs(server.org(), "ingest", "InProgress", 2, "BigObjectIngest");
  addJobs(server.org(), "ingest", "InProgress", 1, "Classic");
  server.start();
  Client client(server.port());
  auto typesOf = [&](const std::string& uri) {
    std::multiset<std::string> types;
    for (const auto& r : listAll(client, std::string(kBase) + uri, server.token()).records) {
      types.insert(r->getValue<std::string>("jobType"));
    }
    return types;
  };
  EXPECT_EQ(typesOf("/jobs/query?jobType=V2Query"),
            std::multiset<std::string>({"V2Query", "V2Query", "V2Query", "V2Query", "V2Query"}));
  const auto all = typesOf("/jobs/query");
  EXPECT_EQ(all.count("V2Query"), 5U);
  EXPECT_EQ(all.count("Classic"), 4U);
  EXPECT_EQ(all.size(), 9U);
  EXPECT_EQ(typesOf("/jobs/query?jobType=Classic").size(), 4U);
  EXPECT_EQ(typesOf("/jobs/ingest?jobType=V2Ingest"),
            std::multiset<std::string>({"V2Ingest", "V2Ingest", "V2Ingest", "V2Ingest"}));
  EXPECT_EQ(typesOf("/jobs/ingest?jobType=BigObjectIngest").size(), 2U);
  const auto ingest = typesOf("/jobs/ingest");
  EXPECT_EQ(ingest.count("V2Query"), 0U);
  EXPECT_EQ(ingest.count("V2Ingest"), 4U);
  const Reply bad = client.get(std::string(kBase) + "/jobs/query?jobType=Nope", server.token());
  EXPECT_EQ(bad.status, 400);
  EXPECT_FALSE(bad.errorCode().empty());
}

TEST(SimList, NextUrlStaysOnTheQueryPathByDefault) {
  SimServer server(small(5));
  addJobs(server.org(), "query", "JobComplete", 12);
  server.start();
  Client client(server.port());
  const Listing listing =
      listAll(client, std::string(kBase) + "/jobs/query?jobType=V2Query", server.token());
  ASSERT_EQ(listing.nextUrls.size(), 3U);
  EXPECT_NE(listing.nextUrls[0].find("/jobs/query?queryLocator="), std::string::npos);
  EXPECT_EQ(listing.records.size(), 12U);
}

TEST(SimList, DocsQuirkPointsQueryNextUrlAtIngestAndBothPathsAcceptIt) {
  SimOptions o = small(5);
  o.queryNextUrlOnIngestPath = true;
  SimServer server(o);
  addJobs(server.org(), "query", "JobComplete", 12);
  addJobs(server.org(), "ingest", "JobComplete", 3);
  server.start();
  Client client(server.port());
  const Listing followed =
      listAll(client, std::string(kBase) + "/jobs/query?jobType=V2Query", server.token());
  ASSERT_EQ(followed.nextUrls.size(), 3U);
  EXPECT_NE(followed.nextUrls[0].find("/jobs/ingest?queryLocator="), std::string::npos)
      << followed.nextUrls[0];
  // Following the ingest-path URL continues the query listing.
  EXPECT_EQ(followed.records.size(), 12U);
  for (const auto& r : followed.records) EXPECT_EQ(r->getValue<std::string>("jobType"), "V2Query");

  // The same locator re-issued on /jobs/query works too.
  const Reply first =
      client.get(std::string(kBase) + "/jobs/query?jobType=V2Query", server.token());
  const std::string next = first.object()->getValue<std::string>("nextRecordsUrl");
  const std::string locator = next.substr(next.find("queryLocator="));
  const Reply onQuery = client.get(std::string(kBase) + "/jobs/query?" + locator, server.token());
  const Reply onIngest = client.get(std::string(kBase) + "/jobs/ingest?" + locator, server.token());
  ASSERT_EQ(onQuery.status, 200);
  ASSERT_EQ(onIngest.status, 200);
  EXPECT_EQ(onQuery.object()->getArray("records")->size(), 5U);
  EXPECT_EQ(onQuery.object()->getArray("records")->getObject(0)->getValue<std::string>("id"),
            onIngest.object()->getArray("records")->getObject(0)->getValue<std::string>("id"));
}

TEST(SimList, UnknownLocatorIsRejected) {
  SimServer server(small(5));
  addJobs(server.org(), "query", "JobComplete", 12);
  server.start();
  Client client(server.port());
  for (const std::string locator :
       {"01gR0000000opRTIAY-1000", "garbage", "01gR0000000opRTIAY-x", ""}) {
    if (locator.empty()) continue;
    const Reply reply =
        client.get(std::string(kBase) + "/jobs/query?queryLocator=" + locator, server.token());
    EXPECT_EQ(reply.status, 400) << locator;
    EXPECT_EQ(reply.errorCode(), "INVALID_QUERY_LOCATOR") << locator;
  }
  // An offset past the end of a real snapshot is refused too.
  const Reply first = client.get(std::string(kBase) + "/jobs/query", server.token());
  const std::string next = first.object()->getValue<std::string>("nextRecordsUrl");
  const std::string tooFar = next.substr(0, next.rfind('-')) + "-9999";
  EXPECT_EQ(client.get(tooFar, server.token()).status, 400);
}

TEST(SimList, RecordsCarryExactlyTheThirteenListFields) {
  SimServer server(small(1000));
  JobSeed q = seed("query", "JobComplete");
  q.age = std::chrono::hours(3);
  q.modifiedAgo = std::chrono::hours(2);
  server.org().addJob(q);
  server.org().addJob(seed("ingest", "Open"));
  server.start();
  Client client(server.port());
  const std::set<std::string> expected = {"id",
                                          "operation",
                                          "object",
                                          "createdById",
                                          "createdDate",
                                          "systemModstamp",
                                          "state",
                                          "concurrencyMode",
                                          "contentType",
                                          "apiVersion",
                                          "jobType",
                                          "lineEnding",
                                          "columnDelimiter"};
  const std::regex date(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$)");
  const std::regex id(R"(^750[A-Za-z0-9]{15}$)");
  for (const char* path : {"/jobs/query", "/jobs/ingest"}) {
    const Reply reply = client.get(std::string(kBase) + path, server.token());
    ASSERT_EQ(reply.status, 200);
    EXPECT_EQ(reply.header("Content-Type"), "application/json;charset=UTF-8");
    EXPECT_NE(reply.body.find(R"("apiVersion":62.0)"), std::string::npos) << reply.body;
    const auto records = reply.object()->getArray("records");
    ASSERT_EQ(records->size(), 1U);
    const auto record = records->getObject(0);
    std::vector<std::string> names;
    record->getNames(names);
    EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), expected);
    EXPECT_EQ(names.size(), 13U);
    EXPECT_TRUE(record->get("apiVersion").isNumeric());
    EXPECT_FALSE(record->get("apiVersion").isString());
    EXPECT_DOUBLE_EQ(record->getValue<double>("apiVersion"), 62.0);
    EXPECT_TRUE(std::regex_match(record->getValue<std::string>("createdDate"), date));
    EXPECT_TRUE(std::regex_match(record->getValue<std::string>("systemModstamp"), date));
    EXPECT_TRUE(std::regex_match(record->getValue<std::string>("id"), id));
    EXPECT_EQ(record->getValue<std::string>("concurrencyMode"), "Parallel");
    EXPECT_EQ(record->getValue<std::string>("contentType"), "CSV");
    EXPECT_EQ(record->getValue<std::string>("lineEnding"), "LF");
    EXPECT_EQ(record->getValue<std::string>("columnDelimiter"), "COMMA");
  }
  // createdDate and systemModstamp follow the seed: 3 h and 2 h ago (same text form).
  const auto query = listAll(client, std::string(kBase) + "/jobs/query", server.token());
  const auto created = query.records[0]->getValue<std::string>("createdDate");
  const auto modified = query.records[0]->getValue<std::string>("systemModstamp");
  EXPECT_LT(created, modified);
  EXPECT_LT(modified, server.org().nowText());
}

TEST(SimList, ListsAHundredThousandJobs) {
  SimServer server(SimOptions{});
  JobGroup g;
  g.kind = "query";
  g.state = "JobComplete";
  g.count = 100'000;
  g.age = {std::chrono::hours(1), std::chrono::hours(100)};
  Scenario s;
  s.groups.push_back(g);
  server.org().addScenario(s);
  server.start();
  Client client(server.port());
  const Listing listing = listAll(client, std::string(kBase) + "/jobs/query", server.token());
  EXPECT_EQ(listing.records.size(), 100'000U);
  EXPECT_EQ(listing.nextUrls.size(), 100U);
}

}  // namespace
}  // namespace bulkwarden::sim::testing
