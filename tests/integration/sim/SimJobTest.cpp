// One job: GET with counters, abort and close (PATCH), delete, the abort race, lifecycle, purge.
#include <regex>
#include <thread>

#include "Eventually.h"
#include "SimTestSupport.h"

namespace bulkwarden::sim::testing {
namespace {

using namespace std::chrono_literals;

std::string jobUrl(const std::string& kind, const std::string& id) {
  return std::string(kBase) + "/jobs/" + kind + "/" + id;
}

constexpr const char* kAbort = R"({"state":"Aborted"})";

class SimJobApi : public ::testing::Test {
 protected:
  SimJobApi() : server_(options()) {}
  static SimOptions options() { return SimOptions{}; }
  void SetUp() override { server_.start(); }
  std::string add(const std::string& kind, const std::string& state) {
    return server_.org().addJob(seed(kind, state));
  }
  Reply call(const std::string& method, const std::string& kind, const std::string& id,
             const std::string& body = "") {
    return client_.call(method, jobUrl(kind, id), server_.token(), body);
  }
  SimServer server_;
  Client client_{server_.port()};
};

TEST_F(SimJobApi, GetQueryJobHasQueryCounters) {
  JobSeed s = seed("query", "JobComplete");
  s.numberRecords = 740003;
  const std::string id = server_.org().addJob(s);
  const Reply reply = call("GET", "query", id);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto job = reply.object();
  EXPECT_EQ(job->getValue<std::string>("id"), id);
  EXPECT_EQ(job->getValue<std::string>("state"), "JobComplete");
  EXPECT_EQ(job->getValue<std::string>("jobType"), "V2Query");
  EXPECT_EQ(job->getValue<int64_t>("numberRecordsProcessed"), 740003);
  EXPECT_EQ(job->getValue<int>("retries"), 0);
  EXPECT_TRUE(job->has("totalProcessingTime"));
  EXPECT_FALSE(job->has("numberRecordsFailed"));
  EXPECT_FALSE(job->has("errorMessage"));
  EXPECT_TRUE(job->get("apiVersion").isNumeric());
  EXPECT_EQ(server_.org().counters().gets, 1);
}

TEST_F(SimJobApi, GetIngestJobHasIngestCountersAndFailedHasErrorMessage) {
  const std::string id = add("ingest", "Failed");
  const Reply reply = call("GET", "ingest", id);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto job = reply.object();
  for (const char* field : {"numberRecordsProcessed", "numberRecordsFailed", "retries",
                            "totalProcessingTime", "apexProcessingTime", "apiActiveProcessingTime",
                            "errorMessage", "jobType", "lineEnding", "columnDelimiter"}) {
    EXPECT_TRUE(job->has(field)) << field;
  }
  EXPECT_GT(job->getValue<int64_t>("numberRecordsFailed"), 0);
  EXPECT_EQ(job->getValue<std::string>("jobType"), "V2Ingest");
  const auto open = call("GET", "ingest", add("ingest", "Open")).object();
  EXPECT_FALSE(open->has("errorMessage"));
  EXPECT_TRUE(open->has("contentUrl"));
}

TEST_F(SimJobApi, GetUnknownOrWrongKindIsNotFound) {
  const std::string ingest = add("ingest", "InProgress");
  for (const auto& [kind, id] : std::vector<std::pair<std::string, std::string>>{
           {"query", "750R0000000zzzzIAA"}, {"query", ingest}}) {
    const Reply reply = call("GET", kind, id);
    EXPECT_EQ(reply.status, 404) << id;
    EXPECT_EQ(reply.errorCode(), "NOT_FOUND");
    EXPECT_EQ(reply.errorMessage(), "The requested resource does not exist");
    EXPECT_EQ(reply.header("Content-Type"), "application/json;charset=UTF-8");
    EXPECT_TRUE(reply.header("Sforce-Limit-Info").has_value());
  }
}

struct AbortCase {
  std::string kind, state;
  int status;
  std::string message;  // for 400s
};

TEST_F(SimJobApi, AbortIsAllowedOnlyFromActiveStates) {
  const std::vector<AbortCase> cases = {
      {"query", "UploadComplete", 200, ""},
      {"query", "InProgress", 200, ""},
      {"query", "JobComplete", 400, "Aborting already Completed Job not allowed"},
      {"query", "Aborted", 400, "Aborting already Aborted Job not allowed"},
      {"query", "Failed", 400, "Aborting already Failed Job not allowed"},
      {"ingest", "Open", 200, ""},
      {"ingest", "UploadComplete", 200, ""},
      {"ingest", "InProgress", 200, ""},
      {"ingest", "JobComplete", 400, "Aborting already Completed Job not allowed"},
      {"ingest", "Aborted", 400, "Aborting already Aborted Job not allowed"},
      {"ingest", "Failed", 400, "Aborting already Failed Job not allowed"},
  };
  const std::set<std::string> shortFields = {
      "id",    "operation",       "object",      "createdById", "createdDate", "systemModstamp",
      "state", "concurrencyMode", "contentType", "apiVersion"};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.kind + " " + c.state);
    JobSeed s = seed(c.kind, c.state);
    s.age = 2h;
    const std::string id = server_.org().addJob(s);
    const std::string before = server_.org().nowText();
    const Reply reply = call("PATCH", c.kind, id, kAbort);
    EXPECT_EQ(reply.status, c.status) << reply.body;
    if (c.status == 200) {
      const auto job = reply.object();
      std::vector<std::string> names;
      job->getNames(names);
      EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), shortFields);
      EXPECT_EQ(job->getValue<std::string>("state"), "Aborted");
      EXPECT_GE(job->getValue<std::string>("systemModstamp"), before);
      EXPECT_EQ(server_.org().state(id), "Aborted");
      EXPECT_EQ(server_.org().appliedActions(id), 1);
      // A second abort finds it terminal.
      const Reply again = call("PATCH", c.kind, id, kAbort);
      EXPECT_EQ(again.status, 400);
      EXPECT_EQ(again.errorCode(), "INVALIDJOBSTATE");
      EXPECT_EQ(server_.org().appliedActions(id), 1);
    } else {
      EXPECT_EQ(reply.errorCode(), "INVALIDJOBSTATE");
      EXPECT_EQ(reply.errorMessage(), c.message);
      EXPECT_EQ(server_.org().state(id), c.state);
      EXPECT_EQ(server_.org().appliedActions(id), 0);
    }
  }
  EXPECT_EQ(server_.org().counters().appliedAborts, 5);
}

TEST_F(SimJobApi, PatchBodiesOtherThanAbortOrCloseAreRejected) {
  const std::string query = add("query", "InProgress");
  Reply r = call("PATCH", "query", query, "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.errorCode(), "JSON_PARSER_ERROR");
  r = call("PATCH", "query", query, R"(["Aborted"])");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.errorCode(), "JSON_PARSER_ERROR");
  r = call("PATCH", "query", query, R"({"state":"JobComplete"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(r.errorCode().empty());
  r = call("PATCH", "query", query, R"({"state":"UploadComplete"})");
  EXPECT_EQ(r.status, 400);
  r = call("PATCH", "query", query, R"({"state":"Aborted","extra":1})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(server_.org().state(query), "InProgress");

  // Closing an Open ingest job is the one other transition.
  const std::string open = add("ingest", "Open");
  r = call("PATCH", "ingest", open, R"({"state":"UploadComplete"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.object()->getValue<std::string>("state"), "UploadComplete");
  EXPECT_EQ(server_.org().state(open), "UploadComplete");
  r = call("PATCH", "ingest", open, R"({"state":"UploadComplete"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.errorCode(), "INVALIDJOBSTATE");
  EXPECT_EQ(server_.org().appliedActions(open), 0);
}

TEST_F(SimJobApi, PatchOrDeleteUnknownIdIs404) {
  for (const char* method : {"PATCH", "DELETE"}) {
    const Reply r = call(method, "query", "750R0000000zzzzIAA", method[0] == 'P' ? kAbort : "");
    EXPECT_EQ(r.status, 404) << method;
    EXPECT_EQ(r.errorCode(), "NOT_FOUND");
  }
}

TEST(SimJobOptions, NotFoundAs400) {
  SimOptions o;
  o.notFoundAs400 = true;
  SimServer server(o);
  server.start();
  Client client(server.port());
  const Reply patch =
      client.call("PATCH", jobUrl("ingest", "750R0000000zzzzIAA"), server.token(), kAbort);
  EXPECT_EQ(patch.status, 400);
  EXPECT_EQ(patch.errorCode(), "NOT_FOUND");
  const Reply del = client.call("DELETE", jobUrl("ingest", "750R0000000zzzzIAA"), server.token());
  EXPECT_EQ(del.status, 400);
  EXPECT_EQ(del.errorCode(), "NOT_FOUND");
  // GET keeps the documented 404.
  EXPECT_EQ(client.get(jobUrl("ingest", "750R0000000zzzzIAA"), server.token()).status, 404);
}

TEST_F(SimJobApi, DeleteRulesPerKind) {
  const std::vector<std::tuple<std::string, std::string, bool>> cases = {
      {"query", "UploadComplete", false}, {"query", "InProgress", false},
      {"query", "JobComplete", true},     {"query", "Aborted", true},
      {"query", "Failed", true},          {"ingest", "Open", false},
      {"ingest", "UploadComplete", true}, {"ingest", "InProgress", false},
      {"ingest", "JobComplete", true},    {"ingest", "Aborted", true},
      {"ingest", "Failed", true},
  };
  for (const auto& [kind, state, allowed] : cases) {
    SCOPED_TRACE(kind + " " + state);
    const std::string id = add(kind, state);
    const Reply r = call("DELETE", kind, id);
    if (allowed) {
      EXPECT_EQ(r.status, 204);
      EXPECT_EQ(r.body, "");
      EXPECT_EQ(server_.org().state(id), std::nullopt);
      EXPECT_EQ(server_.org().appliedActions(id), 1);
      const Reply get = call("GET", kind, id);
      EXPECT_EQ(get.status, 404);
      EXPECT_EQ(get.errorCode(), "NOT_FOUND");
      EXPECT_EQ(call("DELETE", kind, id).status, 404);
      EXPECT_EQ(server_.org().appliedActions(id), 1);
    } else {
      EXPECT_EQ(r.status, 400);
      EXPECT_EQ(r.errorCode(), "API_ERROR");
      EXPECT_EQ(r.errorMessage(),
                "Error encountered when deleting the job because the job is not terminated");
      EXPECT_EQ(server_.org().state(id), state);
    }
  }
  EXPECT_EQ(server_.org().counters().appliedDeletes, 7);
  // Deleted jobs leave the listing.
  const auto ids = listAll(client_, std::string(kBase) + "/jobs/query", server_.token()).ids();
  EXPECT_EQ(ids.size(), 2U);
}

TEST_F(SimJobApi, FinishesOnAbortRace) {
  JobSeed s = seed("ingest", "InProgress");
  s.finishesOnAbort = true;
  s.age = 10min;
  const std::string id = server_.org().addJob(s);
  const auto listed = listAll(client_, std::string(kBase) + "/jobs/ingest", server_.token());
  ASSERT_EQ(listed.records.size(), 1U);
  EXPECT_EQ(listed.records[0]->getValue<std::string>("state"), "InProgress");
  const Reply r = call("PATCH", "ingest", id, kAbort);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.errorCode(), "INVALIDJOBSTATE");
  EXPECT_EQ(r.errorMessage(), "Aborting already Completed Job not allowed");
  EXPECT_EQ(server_.org().state(id), "JobComplete");
  EXPECT_EQ(server_.org().appliedActions(id), 0);
  EXPECT_EQ(server_.org().counters().appliedAborts, 0);
  // And it is now deletable as a finished job.
  EXPECT_EQ(call("DELETE", "ingest", id).status, 204);
}

TEST(SimJobClock, LifecycleFollowsTheScaledClock) {
  SimOptions o;
  o.timeScale = 600;  // 10 sim minutes per real second
  SimServer server(o);
  JobSeed queued = seed("query", "UploadComplete");
  queued.finishAfter = 10min;  // starts after 5 sim minutes (0.5 s), completes after 1 s
  JobSeed failing = seed("ingest", "InProgress");
  failing.finishAfter = 6min;
  failing.finalState = "Failed";
  JobSeed stuck = seed("query", "InProgress");
  stuck.age = 3h;
  const std::string q = server.org().addJob(queued);
  const std::string f = server.org().addJob(failing);
  const std::string st = server.org().addJob(stuck);
  server.start();
  Client client(server.port());
  EXPECT_EQ(server.org().state(q), "UploadComplete");
  const std::string createdModstamp = client.get(jobUrl("query", q), server.token())
                                          .object()
                                          ->getValue<std::string>("systemModstamp");
  std::set<std::string> seen;
  const auto deadline = std::chrono::steady_clock::now() + 1500ms;
  std::string state;
  while (std::chrono::steady_clock::now() < deadline) {
    const Reply r = client.get(jobUrl("query", q), server.token());
    ASSERT_EQ(r.status, 200);
    state = r.object()->getValue<std::string>("state");
    seen.insert(state);
    if (state == "JobComplete") break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(state, "JobComplete");
  EXPECT_TRUE(seen.count("InProgress")) << "never seen InProgress on the way";
  const auto done = client.get(jobUrl("query", q), server.token()).object();
  EXPECT_GT(done->getValue<std::string>("systemModstamp"), createdModstamp);
  EXPECT_EQ(server.org().state(f), "Failed");
  EXPECT_EQ(server.org().state(st), "InProgress");
  // An aborted job stops its lifecycle.
  JobSeed later = seed("query", "InProgress");
  later.finishAfter = 2min;  // 0.2 s real
  const std::string l = server.org().addJob(later);
  EXPECT_EQ(client.call("PATCH", jobUrl("query", l), server.token(), kAbort).status, 200);
  server.org().advanceClock(5min);  // past the time it would have finished
  EXPECT_EQ(server.org().state(l), "Aborted");
}

TEST(SimJobClock, ClosedIngestJobRunsItsLifecycleFromTheClose) {
  SimServer server(SimOptions{});
  JobSeed open = seed("ingest", "Open");
  open.finishAfter = 10min;
  const std::string id = server.org().addJob(open);
  server.start();
  Client client(server.port());
  server.org().advanceClock(1h);
  EXPECT_EQ(server.org().state(id), "Open");
  ASSERT_EQ(
      client.call("PATCH", jobUrl("ingest", id), server.token(), R"({"state":"UploadComplete"})")
          .status,
      200);
  server.org().advanceClock(6min);
  EXPECT_EQ(server.org().state(id), "InProgress");
  server.org().advanceClock(5min);
  EXPECT_EQ(server.org().state(id), "JobComplete");
}

TEST(SimJobClock, TerminalJobsArePurgedAfterSevenDays) {
  SimOptions o;
  o.timeScale = 3600;  // an hour per real second
  SimServer server(o);
  JobSeed old = seed("query", "JobComplete");
  old.age = 8 * 24h;
  old.modifiedAgo = 8 * 24h - 1h;  // finished 7 days 23 hours ago
  JobSeed nearly = seed("query", "Aborted");
  nearly.age = 7 * 24h;
  nearly.modifiedAgo = 7 * 24h - 30min;  // purged after 30 sim minutes = 0.5 s real
  JobSeed stuck = seed("query", "InProgress");
  stuck.age = 9 * 24h;  // non-terminal jobs are not purged here
  JobSeed recent = seed("ingest", "Failed");
  recent.age = 2 * 24h;
  const std::string a = server.org().addJob(old);
  const std::string b = server.org().addJob(nearly);
  const std::string c = server.org().addJob(stuck);
  const std::string d = server.org().addJob(recent);
  server.start();
  Client client(server.port());
  EXPECT_EQ(server.org().state(a), std::nullopt);
  EXPECT_EQ(server.org().state(b), "Aborted");
  EXPECT_EQ(client.get(jobUrl("query", a), server.token()).status, 404);
  EXPECT_EQ(client.get(jobUrl("query", b), server.token()).status, 200);
  EXPECT_EQ(listAll(client, std::string(kBase) + "/jobs/query", server.token()).records.size(), 2U);
  // 30 sim minutes pass in half a real second at this scale: wait for the purge.
  EXPECT_TRUE(bulkwarden::testing::eventually([&] { return !server.org().state(b).has_value(); }));
  EXPECT_EQ(server.org().state(b), std::nullopt);
  EXPECT_EQ(client.get(jobUrl("query", b), server.token()).status, 404);
  const auto ids = listAll(client, std::string(kBase) + "/jobs/query", server.token()).ids();
  EXPECT_EQ(ids, std::vector<std::string>{c});
  EXPECT_EQ(server.org().state(d), "Failed");
  // Another 5 sim days finishes off the Failed one.
  server.org().advanceClock(5 * 24h);
  EXPECT_EQ(server.org().state(d), std::nullopt);
  EXPECT_EQ(server.org().state(c), "InProgress");
}

}  // namespace
}  // namespace bulkwarden::sim::testing
