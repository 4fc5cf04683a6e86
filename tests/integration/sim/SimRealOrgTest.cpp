// The simulated org as unkind as a real one: refresh tokens that rotate, both kinds of 403
// REQUEST_LIMIT_EXCEEDED, refused (never applied) requests, the permission model, Bulk API 1.0
// (Classic) jobs, chunked replies, and aborts refused while the job stays active. Raw HTTP.
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <mutex>
#include <thread>

#include "SimTestSupport.h"

namespace bulkwarden::sim::testing {
namespace {

using namespace std::chrono_literals;

// One request with any headers, on a fresh connection.
Reply raw(uint16_t port, const std::string& method, const std::string& uri,
          const std::map<std::string, std::string>& headers, const std::string& body = "") {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest request(method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [name, value] : headers) request.set(name, value);
  if (!body.empty()) request.setContentLength(static_cast<std::streamsize>(body.size()));
  return exchange(session, request, body);
}

Reply refresh(uint16_t port, const std::string& refreshToken) {
  return raw(port, "POST", "/services/oauth2/token",
             {{"Content-Type", "application/x-www-form-urlencoded"}},
             "grant_type=refresh_token&client_id=3MVG9cid&refresh_token=" + refreshToken);
}

SimOptions rotating(bool rotate) {
  SimOptions o;
  o.oauth.clientId = "3MVG9cid";
  o.oauth.refreshToken = "5Aep861first";
  o.oauth.rotateRefreshTokens = rotate;
  return o;
}

TEST(SimRealOrg, RotatedRefreshTokensRejectReuse) {
  SimServer server(rotating(true));
  server.start();
  const Reply first = refresh(server.port(), "5Aep861first");
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string second = first.object()->getValue<std::string>("refresh_token");
  EXPECT_NE(second, "5Aep861first");
  EXPECT_EQ(second.rfind("5Aep861", 0), 0U) << second;
  EXPECT_EQ(server.org().refreshToken(), second);
  // The access token that came with it works.
  Client client(server.port());
  EXPECT_EQ(client
                .get(std::string(kBase) + "/jobs/query",
                     first.object()->getValue<std::string>("access_token"))
                .status,
            200);
  // The old one is dead at once.
  const Reply reuse = refresh(server.port(), "5Aep861first");
  EXPECT_EQ(reuse.status, 400);
  EXPECT_EQ(reuse.object()->getValue<std::string>("error"), "invalid_grant");
  EXPECT_EQ(reuse.object()->getValue<std::string>("error_description"),
            "expired access/refresh token");
  // The newest works once, and rotates again.
  const Reply third = refresh(server.port(), second);
  ASSERT_EQ(third.status, 200) << third.body;
  EXPECT_NE(third.object()->getValue<std::string>("refresh_token"), second);
  EXPECT_EQ(refresh(server.port(), second).status, 400);
}

TEST(SimRealOrg, WithoutRotationTheRefreshTokenStaysAndIsNotReturned) {
  SimServer server(rotating(false));
  server.start();
  for (int i = 0; i < 2; ++i) {
    const Reply r = refresh(server.port(), "5Aep861first");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_FALSE(r.object()->has("refresh_token"));
  }
}

TEST(SimRealOrg, DailyLimitHasItsExactBodyAndAFullLimitInfo) {
  SimOptions o;
  o.apiMax = 15'000;  // a Developer Edition
  SimServer server(o);
  server.org().setApiUsed(14'999);
  server.start();
  Client client(server.port());
  const std::string list = std::string(kBase) + "/jobs/query";
  EXPECT_EQ(client.get(list, server.token()).status, 200);
  const Reply r = client.get(list, server.token());
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(
      r.body,
      R"([{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"TotalRequests Limit exceeded."}])");
  EXPECT_EQ(r.header("Sforce-Limit-Info"), "api-usage=15000/15000");
}

TEST(SimRealOrg, ConcurrentLimitWindowRefusesWithoutApplyingAndClears) {
  SimOptions o;
  o.apiMax = 5000;
  SimServer server(o);
  const std::string id = server.org().addJob(seed("query", "InProgress"));
  server.start();
  Client client(server.port());
  const std::string job = std::string(kBase) + "/jobs/query/" + id;
  EXPECT_EQ(client.get(job, server.token()).status, 200);
  server.org().exceedConcurrentLimitFor(1h);
  const Reply r = client.call("PATCH", job, server.token(), R"({"state":"Aborted"})");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(
      r.body,
      R"([{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"ConcurrentPerOrgLongTxn Limit exceeded."}])");
  EXPECT_EQ(r.header("Sforce-Limit-Info"), "api-usage=1/5000") << "the daily usage is far away";
  EXPECT_EQ(server.org().state(id), "InProgress") << "a refused request is not applied";
  EXPECT_EQ(server.org().appliedActions(id), 0);
  server.org().exceedConcurrentLimitFor(0ms);  // the other long requests ended
  EXPECT_EQ(client.call("PATCH", job, server.token(), R"({"state":"Aborted"})").status, 200);
  EXPECT_EQ(server.org().state(id), "Aborted");
}

TEST(SimRealOrg, ConcurrentLimitCountsRequestsInFlight) {
  SimOptions o;
  o.concurrentLimit = 1;
  SimServer server(o);
  server.start();
  const std::string list = std::string(kBase) + "/jobs/query";
  // The first request waits in the org until the second has its answer: two in flight.
  std::mutex m;
  std::condition_variable cv;
  bool secondDone = false;
  bool firstEntered = false;
  server.org().setRequestHook([&](const SimRequest& r) {
    if (r.uri.find("first") == std::string::npos) return;
    std::unique_lock lock(m);
    firstEntered = true;
    cv.notify_all();
    cv.wait_for(lock, 10s, [&] { return secondDone; });
  });
  auto first = std::async(std::launch::async, [&] {
    return Client(server.port()).get(list + "?jobType=V2Query&x=first", server.token());
  });
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return firstEntered; }));
  }
  const Reply second = Client(server.port()).get(list, server.token());
  {
    std::lock_guard lock(m);
    secondDone = true;
  }
  cv.notify_all();
  EXPECT_EQ(second.status, 403);
  EXPECT_EQ(second.errorMessage(), "ConcurrentPerOrgLongTxn Limit exceeded.");
  EXPECT_EQ(first.get().status, 200);
  // Alone again: served.
  EXPECT_EQ(Client(server.port()).get(list, server.token()).status, 200);
}

TEST(SimRealOrg, EveryNthRequestIsRefusedWith503AndNotApplied) {
  SimOptions o;
  o.failEvery = 3;
  o.failRetryAfterSeconds = 7;
  SimServer server(o);
  const std::string a = server.org().addJob(seed("query", "InProgress"));
  const std::string b = server.org().addJob(seed("query", "JobComplete"));
  server.start();
  Client client(server.port());
  const std::string base = std::string(kBase) + "/jobs/query/";
  EXPECT_EQ(client.get(base + a, server.token()).status, 200);  // 1
  EXPECT_EQ(client.get(base + b, server.token()).status, 200);  // 2
  const Reply refused = client.call("PATCH", base + a, server.token(), R"({"state":"Aborted"})");
  EXPECT_EQ(refused.status, 503);  // 3
  EXPECT_EQ(refused.errorCode(), "SERVER_UNAVAILABLE");
  EXPECT_EQ(refused.header("Retry-After"), "7");
  EXPECT_EQ(server.org().state(a), "InProgress") << "the refused abort must not be applied";
  EXPECT_EQ(server.org().apiUsed(), 2) << "a refused request uses no allowance";
  EXPECT_EQ(client.call("PATCH", base + a, server.token(), R"({"state":"Aborted"})").status,
            200);                                                          // 4
  EXPECT_EQ(client.call("DELETE", base + b, server.token()).status, 204);  // 5
  EXPECT_EQ(client.call("DELETE", base + a, server.token()).status, 503);  // 6
  EXPECT_EQ(server.org().state(a), "Aborted") << "the refused delete must not be applied";
  // Retrying the abort after a refusal is safe: an aborted job answers INVALIDJOBSTATE.
  const Reply again = client.call("PATCH", base + a, server.token(), R"({"state":"Aborted"})");
  EXPECT_EQ(again.status, 400);  // 7
  EXPECT_EQ(again.errorCode(), "INVALIDJOBSTATE");
  EXPECT_EQ(server.org().appliedActions(a), 1);
}

TEST(SimRealOrg, WithoutManageDataIntegrationsOnlyOwnJobsCanBeAbortedOrDeleted) {
  SimOptions o;
  o.manageDataIntegrations = false;
  SimServer server(o);
  JobSeed other = seed("ingest", "InProgress");
  other.createdById = "0053h000002xQ5sAAE";
  JobSeed otherDone = seed("query", "JobComplete");
  otherDone.createdById = "0053h000002xQ5sAAE";
  JobSeed own = seed("query", "InProgress");
  own.createdById = o.oauth.userId;
  const std::string otherId = server.org().addJob(other);
  const std::string otherDoneId = server.org().addJob(otherDone);
  const std::string ownId = server.org().addJob(own);
  server.start();
  Client client(server.port());
  const Reply abort = client.call("PATCH", std::string(kBase) + "/jobs/ingest/" + otherId,
                                  server.token(), R"({"state":"Aborted"})");
  EXPECT_EQ(abort.status, 403);
  EXPECT_EQ(abort.errorCode(), "INVALIDUSER");
  EXPECT_NE(abort.errorMessage().find("created by another user"), std::string::npos);
  EXPECT_EQ(server.org().state(otherId), "InProgress");
  const Reply del =
      client.call("DELETE", std::string(kBase) + "/jobs/query/" + otherDoneId, server.token());
  EXPECT_EQ(del.status, 403);
  EXPECT_EQ(del.errorCode(), "INVALIDUSER");
  EXPECT_EQ(server.org().state(otherDoneId), "JobComplete");
  // Reading and listing other users' jobs is allowed.
  EXPECT_EQ(client.get(std::string(kBase) + "/jobs/ingest/" + otherId, server.token()).status, 200);
  EXPECT_EQ(listAll(client, std::string(kBase) + "/jobs/query", server.token()).records.size(), 2U);
  // The creator may.
  EXPECT_EQ(client
                .call("PATCH", std::string(kBase) + "/jobs/query/" + ownId, server.token(),
                      R"({"state":"Aborted"})")
                .status,
            200);
  // With the permission granted, other users' jobs too.
  server.org().setManageDataIntegrations(true);
  EXPECT_EQ(client
                .call("PATCH", std::string(kBase) + "/jobs/ingest/" + otherId, server.token(),
                      R"({"state":"Aborted"})")
                .status,
            200);
  EXPECT_EQ(server.org().counters().appliedAborts, 2);
}

class SimClassic : public ::testing::Test {
 protected:
  void SetUp() override {
    JobSeed open = seed("ingest", "Open");
    open.jobType = "Classic";
    openId_ = server_.org().addJob(open);
    JobSeed closed = seed("ingest", "InProgress");
    closed.jobType = "Classic";
    closedId_ = server_.org().addJob(closed);
    JobSeed query = seed("query", "Open");
    query.jobType = "Classic";
    queryId_ = server_.org().addJob(query);
    v2Query_ = server_.org().addJob(seed("query", "InProgress"));
    v2Ingest_ = server_.org().addJob(seed("ingest", "InProgress"));
    server_.start();
  }
  Reply async(const std::string& method, const std::string& id, const std::string& session,
              const std::string& type = "", const std::string& body = "") {
    std::map<std::string, std::string> headers;
    if (!session.empty()) headers["X-SFDC-Session"] = session;
    if (!type.empty()) headers["Content-Type"] = type;
    return raw(server_.port(), method, "/services/async/62.0/job/" + id, headers, body);
  }
  SimServer server_{SimOptions{}};
  std::string openId_, closedId_, queryId_, v2Query_, v2Ingest_;
};

std::set<std::string> idSet(const Listing& l) {
  const auto ids = l.ids();
  return {ids.begin(), ids.end()};
}

TEST_F(SimClassic, ListedUnlessFilteredByJobType) {
  Client client(server_.port());
  const std::string token = server_.token();
  const auto query = idSet(listAll(client, std::string(kBase) + "/jobs/query", token));
  EXPECT_EQ(query, (std::set<std::string>{openId_, closedId_, queryId_, v2Query_}));
  EXPECT_EQ(idSet(listAll(client, std::string(kBase) + "/jobs/query?jobType=V2Query", token)),
            std::set<std::string>{v2Query_});
  EXPECT_EQ(idSet(listAll(client, std::string(kBase) + "/jobs/ingest?jobType=V2Ingest", token)),
            std::set<std::string>{v2Ingest_});
  EXPECT_EQ(idSet(listAll(client, std::string(kBase) + "/jobs/ingest?jobType=Classic", token)),
            (std::set<std::string>{openId_, closedId_, queryId_}));
  for (const auto& r : listAll(client, std::string(kBase) + "/jobs/query", token).records) {
    if (r->getValue<std::string>("id") != v2Query_) {
      EXPECT_EQ(r->getValue<std::string>("jobType"), "Classic");
    }
  }
  // The Bulk 2.0 per-job resources do not serve them.
  EXPECT_EQ(client.get(std::string(kBase) + "/jobs/ingest/" + openId_, token).status, 404);
}

TEST_F(SimClassic, AbortThroughTheOnePointOhResourceInJson) {
  const std::string token = server_.token();
  const Reply get = async("GET", closedId_, token, "application/json");
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(get.object()->getValue<std::string>("state"), "Closed");
  EXPECT_EQ(get.object()->getValue<std::string>("createdDate").back(), 'Z');
  const Reply abort =
      async("POST", openId_, token, "application/json; charset=UTF-8", R"({"state":"Aborted"})");
  ASSERT_EQ(abort.status, 200) << abort.body;
  EXPECT_EQ(abort.object()->getValue<std::string>("state"), "Aborted");
  EXPECT_EQ(abort.object()->getValue<std::string>("id"), openId_);
  EXPECT_EQ(server_.org().state(openId_), "Aborted");
  EXPECT_EQ(server_.org().appliedActions(openId_), 1);
  const Reply again = async("POST", openId_, token, "application/json", R"({"state":"Aborted"})");
  EXPECT_EQ(again.status, 400);
  EXPECT_EQ(again.object()->getValue<std::string>("exceptionCode"), "InvalidJobState");
  EXPECT_EQ(server_.org().appliedActions(openId_), 1);
  // A Classic query job left Open can be aborted too; the 1.0 call uses the allowance.
  EXPECT_EQ(async("POST", queryId_, token, "application/json", R"({"state":"Aborted"})").status,
            200);
  EXPECT_EQ(server_.org().apiUsed(), 4);
}

TEST_F(SimClassic, AbortInXml) {
  const Reply abort = async(
      "POST", closedId_, server_.token(), "application/xml; charset=UTF-8",
      R"(<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="http://www.force.com/2009/06/asyncapi/dataload"><state>Aborted</state></jobInfo>)");
  ASSERT_EQ(abort.status, 200) << abort.body;
  EXPECT_NE(abort.body.find("<state>Aborted</state>"), std::string::npos) << abort.body;
  EXPECT_NE(abort.body.find("<jobInfo xmlns=\"http://www.force.com/2009/06/asyncapi/dataload\">"),
            std::string::npos);
  EXPECT_EQ(server_.org().state(closedId_), "Aborted");
}

TEST_F(SimClassic, BadSessionUnknownJobAndBearerOnly) {
  const Reply bad =
      async("POST", openId_, "00Dnope!AQ", "application/json", R"({"state":"Aborted"})");
  EXPECT_EQ(bad.status, 400) << "1.0 reports a bad session as 400, not 401";
  EXPECT_EQ(bad.object()->getValue<std::string>("exceptionCode"), "InvalidSessionId");
  EXPECT_FALSE(bad.header("Sforce-Limit-Info").has_value());
  // The 2.0 header does not open the 1.0 resource.
  const Reply bearer =
      raw(server_.port(), "POST", "/services/async/62.0/job/" + openId_,
          {{"Authorization", "Bearer " + server_.token()}, {"Content-Type", "application/json"}},
          R"({"state":"Aborted"})");
  EXPECT_EQ(bearer.status, 400);
  EXPECT_EQ(bearer.object()->getValue<std::string>("exceptionCode"), "InvalidSessionId");
  const Reply xmlBad = async("GET", openId_, "");
  EXPECT_EQ(xmlBad.status, 400);
  EXPECT_NE(xmlBad.body.find("<exceptionCode>InvalidSessionId</exceptionCode>"), std::string::npos)
      << xmlBad.body;
  EXPECT_EQ(server_.org().state(openId_), "Open");
  const Reply unknown = async("GET", v2Query_, server_.token(), "application/json");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.object()->getValue<std::string>("exceptionCode"), "InvalidJob");
}

TEST(SimRealOrg, ClassicJobsGroupLeavesMostOpen) {
  int total = 0, open = 0;
  for (const auto& g : classicJobs(100)) {
    EXPECT_EQ(g.jobType, "Classic");
    total += g.count;
    if (g.state == "Open") open += g.count;
  }
  EXPECT_EQ(total, 100);
  EXPECT_GE(open, 50);
}

TEST(SimRealOrg, ChunkedRepliesParseAsTheSameJson) {
  SimOptions plainOptions;
  plainOptions.pageSize = 300;
  SimOptions chunkedOptions = plainOptions;
  chunkedOptions.chunked = true;
  SimServer plain(plainOptions);
  SimServer chunked(chunkedOptions);
  for (int i = 0; i < 700; ++i) {
    JobSeed s = seed(i % 2 ? "query" : "ingest", "JobComplete");
    s.id = fmt::format("750R0000000{:04d}AAA", i);
    plain.org().addJob(s);
    chunked.org().addJob(s);
  }
  plain.start();
  chunked.start();
  Client a(plain.port());
  Client b(chunked.port());
  const Reply r = b.get(std::string(kBase) + "/jobs/ingest", chunked.token());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Transfer-Encoding"), "chunked");
  EXPECT_FALSE(r.header("Content-Length").has_value());
  if (std::getenv("BULKWARDEN_SIM_CHUNKED") == nullptr) {
    EXPECT_EQ(a.get(std::string(kBase) + "/jobs/ingest", plain.token()).header("Transfer-Encoding"),
              std::nullopt);
  }
  const Listing x = listAll(a, std::string(kBase) + "/jobs/query", plain.token());
  const Listing y = listAll(b, std::string(kBase) + "/jobs/query", chunked.token());
  EXPECT_EQ(y.records.size(), 350U);
  EXPECT_EQ(idSet(x), idSet(y));
  // Error replies are chunked too, and still parse.
  const Reply missing =
      b.get(std::string(kBase) + "/jobs/query/750R0000000zzzzIAA", chunked.token());
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.header("Transfer-Encoding"), "chunked");
  EXPECT_EQ(missing.errorCode(), "NOT_FOUND");
  // An empty 204 stays empty.
  const Reply gone =
      b.call("DELETE", std::string(kBase) + "/jobs/query/750R00000000001AAA", chunked.token());
  EXPECT_EQ(gone.status, 204);
  EXPECT_EQ(gone.body, "");
}

TEST(SimRealOrg, AnAbortRefusedWithInvalidJobStateCanLeaveTheJobActive) {
  SimServer server(SimOptions{});
  JobSeed s = seed("query", "InProgress");
  s.refusedAborts = 1;
  const std::string id = server.org().addJob(s);
  server.start();
  Client client(server.port());
  const std::string job = std::string(kBase) + "/jobs/query/" + id;
  const Reply refused = client.call("PATCH", job, server.token(), R"({"state":"Aborted"})");
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.errorCode(), "INVALIDJOBSTATE");
  const Reply read = client.get(job, server.token());
  EXPECT_EQ(read.object()->getValue<std::string>("state"), "InProgress")
      << "INVALIDJOBSTATE is no proof that the job finished";
  EXPECT_EQ(client.call("PATCH", job, server.token(), R"({"state":"Aborted"})").status, 200);
  EXPECT_EQ(parseJobGroup("query:InProgress:3:refuse-abort=2").refusedAborts, 2);
  EXPECT_THROW(parseJobGroup("query:InProgress:3:refuse-abort=x"), std::invalid_argument);
}

TEST(SimRealOrg, SystemModstampMovesWithTheAbort) {
  SimServer server(SimOptions{});
  JobSeed s = seed("query", "InProgress");
  s.age = 2h;
  s.modifiedAgo = 2h;
  const std::string id = server.org().addJob(s);
  server.start();
  Client client(server.port());
  const std::string job = std::string(kBase) + "/jobs/query/" + id;
  const std::string before =
      client.get(job, server.token()).object()->getValue<std::string>("systemModstamp");
  server.org().advanceClock(90s);
  const Reply abort = client.call("PATCH", job, server.token(), R"({"state":"Aborted"})");
  const std::string after = abort.object()->getValue<std::string>("systemModstamp");
  EXPECT_LT(before, after);
  EXPECT_EQ(abort.object()->getValue<std::string>("createdDate"), before);
  EXPECT_EQ(after.substr(after.size() - 5), "+0000");
}

}  // namespace
}  // namespace bulkwarden::sim::testing

namespace bulkwarden::sim::testing {
namespace {

using namespace std::chrono_literals;

TEST(SimRealOrgSoak, TheDailyAllowanceIsARolling24HourWindow) {
  SimOptions o;
  o.apiMax = 15'000;
  o.apiUsedAtStart = 15'000;  // all of it, spent 23 hours ago by other integrations
  o.apiUsedAgo = 23h;
  SimServer server(o);
  server.start();
  Client client(server.port());
  const std::string list = std::string(kBase) + "/jobs/query";
  const Reply spent = client.get(list, server.token());
  EXPECT_EQ(spent.status, 403);
  EXPECT_EQ(spent.header("Sforce-Limit-Info"), "api-usage=15000/15000");
  EXPECT_EQ(server.org().counters().dailyLimited, 1);
  server.org().advanceClock(59min);
  EXPECT_EQ(client.get(list, server.token()).status, 403) << "not yet 24 hours old";
  server.org().advanceClock(2min);
  const Reply again = client.get(list, server.token());
  EXPECT_EQ(again.status, 200) << "the calls left the window";
  EXPECT_EQ(again.header("Sforce-Limit-Info"), "api-usage=1/15000");
  server.org().advanceClock(24h + 1min);  // (counted per sim minute)
  EXPECT_EQ(server.org().apiUsed(), 0) << "our own call left it too";
}

TEST(SimRealOrgSoak, RandomUnavailableSparesTokenRequestsAndCarriesRetryAfter) {
  SimOptions o = rotating(false);
  o.failRate = 1.0;
  o.failRetryAfterSeconds = 2;
  SimServer server(o);
  server.start();
  Client client(server.port());
  const Reply r = client.get(std::string(kBase) + "/jobs/query", server.token());
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("Retry-After"), "2");
  EXPECT_EQ(refresh(server.port(), "5Aep861first").status, 200) << "logins are not refused";
  EXPECT_EQ(server.org().counters().unavailable, 1);
}

TEST(SimRealOrgSoak, ThePermissionIsGrantedAfterItsDelay) {
  SimOptions o;
  o.manageDataIntegrations = false;
  o.grantManageDataIntegrationsAfter = 1h;
  SimServer server(o);
  JobSeed s = seed("query", "InProgress");
  s.createdById = "005R0000000GiwjIAC";  // not the session's user
  const std::string id = server.org().addJob(s);
  server.start();
  Client client(server.port());
  const std::string job = std::string(kBase) + "/jobs/query/" + id;
  const Reply refused = client.call("PATCH", job, server.token(), R"({"state":"Aborted"})");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.errorCode(), "INVALIDUSER");
  EXPECT_EQ(server.org().counters().forbidden, 1);
  server.org().advanceClock(1h);
  EXPECT_EQ(client.call("PATCH", job, server.token(), R"({"state":"Aborted"})").status, 200);
}

TEST(SimRealOrgSoak, NewJobsArriveWithTheirArrivalAsCreatedDate) {
  SimOptions o;
  o.newJobsEvery = 10min;
  o.oauth.userId = "005R0000000bWkzIAE";
  SimServer server(o);
  server.start();
  const int64_t start = server.org().nowMs();
  Client client(server.port());
  const std::string list = std::string(kBase) + "/jobs/ingest";
  EXPECT_EQ(client.get(list, server.token()).status, 200);
  EXPECT_TRUE(server.org().jobs().empty());
  server.org().advanceClock(10h);
  EXPECT_EQ(client.get(list, server.token()).status, 200);
  const auto jobs = server.org().jobs();
  EXPECT_EQ(server.org().counters().arrivedJobs, 60);
  ASSERT_EQ(jobs.size(), 60U);
  std::set<int64_t> created;
  std::set<std::string> types, creators;
  for (const auto& j : jobs) {
    created.insert(j.createdMs - start);
    types.insert(j.jobType);
    creators.insert(j.createdById);
  }
  // The first 10 sim minutes after the org started (read a few ms after it started).
  EXPECT_LE(*created.begin(), 10 * 60'000);
  EXPECT_GT(*created.begin(), 10 * 60'000 - 5'000);
  for (auto it = std::next(created.begin()); it != created.end(); ++it) {
    EXPECT_EQ(*it - *std::prev(it), 10 * 60'000) << "one arrival every 10 minutes";
  }
  EXPECT_EQ(created.size(), 60U) << "one arrival every 10 minutes, each its own createdDate";
  EXPECT_TRUE(types.count("Classic") == 1 && types.count("V2Query") == 1 &&
              types.count("V2Ingest") == 1);
  EXPECT_TRUE(creators.count("005R0000000bWkzIAE") == 1 && creators.size() > 1)
      << "by the integration user and by others";
}

TEST(SimRealOrgSoak, AClockEpochMakesTheSimClockAgreeWithAScaledOne) {
  SimOptions o;
  o.timeScale = 100;
  const int64_t wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  o.clockEpochMs = wall - 10'000;  // 10 s of wall time ago
  SimServer server(o);
  const int64_t expected = o.clockEpochMs + 100 * 10'000;
  // 10 s ago at 100 times: 1,000 s ahead of the epoch (a little more: the test's own time).
  EXPECT_GE(server.org().nowMs(), expected);
  EXPECT_LT(server.org().nowMs(), expected + 100 * 5'000);
}

}  // namespace
}  // namespace bulkwarden::sim::testing
