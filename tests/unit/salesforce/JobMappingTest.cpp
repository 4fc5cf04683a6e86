#include "salesforce/JobMapping.h"

#include <gtest/gtest.h>

#include <string>

namespace bulkwarden::salesforce {
namespace {

using model::JobState;
using model::ResourceKind;
using Kind = ApiError::Kind;

// docs/salesforce.md 2.3: the docs' query list example (nextRecordsUrl points at /jobs/ingest).
const std::string kDocsQueryList = R"({"done":false,
 "records":[{"id":"750R0000000zhfdIAA","operation":"query","object":"Account",
   "createdById":"005R0000000GiwjIAC","createdDate":"2018-12-07T19:58:09.000+0000",
   "systemModstamp":"2018-12-07T19:59:14.000+0000","state":"JobComplete","concurrencyMode":"Parallel",
   "contentType":"CSV","apiVersion":66.0,"jobType":"V2Query","lineEnding":"LF","columnDelimiter":"COMMA"}],
 "nextRecordsUrl":"/services/data/v66.0/jobs/ingest?queryLocator=01gR0000000opRTIAY-2000"})";

// docs/salesforce.md 3: recorded ingest list (cli-dx rest.md, v49, apiVersion printed as 49).
const std::string kRecordedIngestList =
    R"({"done":true,"records":[{"id":"7503h000004R4JuAAK","operation":"insert","object":"Case",
 "createdById":"0053h000002xQ5sAAE","createdDate":"2020-08-21T20:30:24.000+0000",
 "systemModstamp":"2020-08-21T20:30:30.000+0000","state":"InProgress","concurrencyMode":"Parallel",
 "contentType":"CSV","apiVersion":49,"jobType":"V2Ingest","lineEnding":"LF","columnDelimiter":"COMMA"}],
 "nextRecordsUrl":null})";

// docs/salesforce.md 11: recorded query GET (heroku-applink-nodejs).
const std::string kHerokuGet =
    R"({"id":"7508Z00000lTqQCQA0","operation":"query","object":"Account","createdById":"0058Z000007lKMAQA2",
 "createdDate":"2023-01-27T15:10:12.000+0000","systemModstamp":"2023-01-27T15:10:25.000+0000",
 "state":"JobComplete","concurrencyMode":"Parallel","contentType":"CSV","apiVersion":53,
 "jobType":"V2Query","lineEnding":"LF","columnDelimiter":"COMMA","numberRecordsProcessed":51,
 "retries":0,"totalProcessingTime":240})";

std::string record(const std::string& fields) { return "{" + fields + "}"; }

const std::string kGoodFields =
    R"("id":"750R0000000zlh9IAA","state":"InProgress","createdDate":"2026-01-02T03:04:05.000+0000",)"
    R"("systemModstamp":"2026-01-02T03:05:05.000+0000")";

std::string listOf(const std::string& records, const std::string& done = "true") {
  return R"({"done":)" + done + R"(,"records":[)" + records + R"(],"nextRecordsUrl":null})";
}

ListPage parseOk(const std::string& body, ResourceKind kind = ResourceKind::Query) {
  auto r = parseJobList(body, kind);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
  return r.ok() ? r.value() : ListPage{};
}

// The reason the single record in `records` was skipped.
std::string skipReason(const std::string& oneRecord, ResourceKind kind = ResourceKind::Query) {
  ListPage p = parseOk(listOf(oneRecord), kind);
  EXPECT_TRUE(p.page.jobs.empty());
  if (p.page.skipped.size() != 1) return "(not skipped)";
  return p.page.skipped[0].reason;
}

ApiError malformedList(const std::string& body) {
  auto r = parseJobList(body, ResourceKind::Query);
  EXPECT_FALSE(r.ok()) << body.substr(0, 80);
  if (r.ok()) return {};
  EXPECT_EQ(r.error().kind, Kind::Malformed) << r.error().describe();
  return r.error();
}

TEST(ParseJobList, DocsQueryListExample) {
  ListPage p = parseOk(kDocsQueryList);
  EXPECT_FALSE(p.done);
  EXPECT_EQ(p.nextRecordsUrl,
            "/services/data/v66.0/jobs/ingest?queryLocator=01gR0000000opRTIAY-2000");
  ASSERT_EQ(p.page.jobs.size(), 1u);
  EXPECT_TRUE(p.page.skipped.empty());
  const model::Job& j = p.page.jobs[0];
  EXPECT_EQ(j.kind, ResourceKind::Query);
  EXPECT_EQ(j.id, "750R0000000zhfdIAA");
  EXPECT_EQ(j.operation, "query");
  EXPECT_EQ(j.object, "Account");
  EXPECT_EQ(j.createdById, "005R0000000GiwjIAC");
  EXPECT_EQ(model::formatSalesforce(j.createdDate), "2018-12-07T19:58:09.000+0000");
  EXPECT_EQ(model::formatSalesforce(j.systemModstamp), "2018-12-07T19:59:14.000+0000");
  EXPECT_EQ(j.state, JobState::JobComplete);
  EXPECT_EQ(j.concurrencyMode, "Parallel");
  EXPECT_EQ(j.contentType, "CSV");
  EXPECT_EQ(j.apiVersion, "66.0");
  EXPECT_EQ(j.jobType, "V2Query");
  EXPECT_EQ(j.lineEnding, "LF");
  EXPECT_EQ(j.columnDelimiter, "COMMA");
}

TEST(ParseJobList, RecordedIngestList) {
  ListPage p = parseOk(kRecordedIngestList, ResourceKind::Ingest);
  EXPECT_TRUE(p.done);
  EXPECT_EQ(p.nextRecordsUrl, "");
  ASSERT_EQ(p.page.jobs.size(), 1u);
  EXPECT_EQ(p.page.jobs[0].kind, ResourceKind::Ingest);
  EXPECT_EQ(p.page.jobs[0].id, "7503h000004R4JuAAK");
  EXPECT_EQ(p.page.jobs[0].state, JobState::InProgress);
  EXPECT_EQ(p.page.jobs[0].apiVersion, "49.0");
  EXPECT_EQ(p.page.jobs[0].operation, "insert");
}

TEST(ParseJobList, ApiVersionForms) {
  auto version = [](const std::string& v) {
    ListPage p = parseOk(listOf(record(kGoodFields + R"(,"apiVersion":)" + v)));
    return p.page.jobs.empty() ? std::string("(skipped)") : p.page.jobs[0].apiVersion;
  };
  EXPECT_EQ(version("46.0"), "46.0");
  EXPECT_EQ(version("49"), "49.0");
  EXPECT_EQ(version("53"), "53.0");
  EXPECT_EQ(version("\"62.0\""), "62.0");
  EXPECT_EQ(version("null"), "");
  EXPECT_EQ(version("true"), "(skipped)");
  EXPECT_EQ(version("{}"), "(skipped)");
}

TEST(ParseJobList, EmptyListAndMissingOptionalFields) {
  ListPage empty = parseOk(R"({"done":true,"records":[]})");
  EXPECT_TRUE(empty.done);
  EXPECT_TRUE(empty.page.jobs.empty());
  EXPECT_EQ(empty.nextRecordsUrl, "");

  ListPage p = parseOk(listOf(record(kGoodFields)));
  ASSERT_EQ(p.page.jobs.size(), 1u);
  EXPECT_EQ(p.page.jobs[0].object, "");
  EXPECT_EQ(p.page.jobs[0].jobType, "");
  EXPECT_EQ(p.page.jobs[0].apiVersion, "");

  ListPage nulls = parseOk(listOf(record(kGoodFields + R"(,"object":null,"operation":null)")));
  ASSERT_EQ(nulls.page.jobs.size(), 1u);
  EXPECT_EQ(nulls.page.jobs[0].object, "");
}

TEST(ParseJobList, UnknownFieldsAndCountersAreIgnored) {
  ListPage p = parseOk(listOf(
      record(kGoodFields + R"(,"numberRecordsProcessed":5,"brandNew":{"x":[1,2]},"retries":0)")));
  EXPECT_EQ(p.page.jobs.size(), 1u);
}

TEST(ParseJobList, EverySkipReason) {
  EXPECT_EQ(skipReason("42"), "record is not an object");
  EXPECT_EQ(skipReason("\"750R0000000zlh9IAA\""), "record is not an object");
  EXPECT_EQ(skipReason("[]"), "record is not an object");
  EXPECT_EQ(skipReason("null"), "record is not an object");
  EXPECT_EQ(skipReason(R"({"state":"InProgress","createdDate":"2026-01-02T03:04:05.000+0000"})"),
            "missing id");
  EXPECT_EQ(skipReason(R"({"id":750,"state":"InProgress"})"), "id is not a string");
  for (const char* bad :
       {"", "750", "001R0000000zlh9IAA", "750R0000000zlh9IAA1", "750R0000000zl/9IAA",
        "750R0000000zl9", "750R0000000zl h9IAA", "750R0000000zl\\u00e99IAA"}) {
    std::string r =
        record(std::string(R"("id":")") + bad +
               R"(","state":"InProgress","createdDate":"2026-01-02T03:04:05.000+0000")");
    EXPECT_EQ(skipReason(r), "id is not a Bulk job id (750...)") << bad;
  }
  const std::string id = R"("id":"750R0000000zlh9IAA",)";
  EXPECT_EQ(skipReason(record(id + R"("createdDate":"2026-01-02T03:04:05.000+0000")")),
            "missing state");
  EXPECT_EQ(skipReason(record(id + R"("state":3,"createdDate":"2026-01-02T03:04:05.000+0000")")),
            "missing state");
  EXPECT_EQ(
      skipReason(record(id + R"("state":"Running","createdDate":"2026-01-02T03:04:05.000+0000")")),
      "unknown state \"Running\"");
  EXPECT_EQ(skipReason(record(
                id + R"("state":"inprogress","createdDate":"2026-01-02T03:04:05.000+0000")")),
            "unknown state \"inprogress\"");
  EXPECT_EQ(skipReason(record(id + R"("state":"InProgress")")), "missing createdDate");
  EXPECT_EQ(skipReason(record(id + R"("state":"InProgress","createdDate":null)")),
            "missing createdDate");
  EXPECT_EQ(skipReason(record(id + R"("state":"InProgress","createdDate":"yesterday")")),
            "unparsable createdDate");
  EXPECT_EQ(skipReason(record(
                id + R"("state":"InProgress","createdDate":"2026-02-30T00:00:00.000+0000")")),
            "unparsable createdDate");
  EXPECT_EQ(skipReason(record(
                id + R"("state":"InProgress","createdDate":"2026-01-02T03:04:05.000+0000")")),
            "missing systemModstamp");
  EXPECT_EQ(
      skipReason(record(
          id +
          R"("state":"InProgress","createdDate":"2026-01-02T03:04:05.000+0000","systemModstamp":"x")")),
      "unparsable systemModstamp");
  EXPECT_EQ(skipReason(record(kGoodFields + R"(,"object":17)")), "object is not a string");
  EXPECT_EQ(skipReason(record(kGoodFields + R"(,"createdById":["005"])")),
            "createdById is not a string");
  EXPECT_EQ(skipReason(record(kGoodFields + R"(,"jobType":1)")), "jobType is not a string");
}

TEST(ParseJobList, ClassicJobsAreSkipped) {
  EXPECT_EQ(skipReason(record(kGoodFields + R"(,"jobType":"Classic")")), "not a Bulk API 2.0 job");
  EXPECT_EQ(
      skipReason(record(kGoodFields + R"(,"jobType":"BigObjectIngest")"), ResourceKind::Ingest),
      "not a Bulk API 2.0 job");
  EXPECT_EQ(skipReason(record(kGoodFields + R"(,"jobType":"V2Ingest")"), ResourceKind::Query),
            "jobType V2Ingest in a query listing");
  EXPECT_EQ(skipReason(record(kGoodFields + R"(,"jobType":"V2Query")"), ResourceKind::Ingest),
            "jobType V2Query in a ingest listing");
}

TEST(ParseJobList, SkippedRecordKeepsIdAndOthersSurvive) {
  ListPage p =
      parseOk(listOf(record(kGoodFields) + "," +
                     R"({"id":"750R0000000zlh9IAB","state":"Bogus"},7,)" + record(kGoodFields)));
  EXPECT_EQ(p.page.jobs.size(), 2u);
  ASSERT_EQ(p.page.skipped.size(), 2u);
  EXPECT_EQ(p.page.skipped[0].id, "750R0000000zlh9IAB");
  EXPECT_EQ(p.page.skipped[1].id, "");
  // The id is kept whichever check fails, the last one included.
  ListPage late = parseOk(listOf(record(kGoodFields + R"(,"columnDelimiter":1)")));
  ASSERT_EQ(late.page.skipped.size(), 1u);
  EXPECT_EQ(late.page.skipped[0].id, "750R0000000zlh9IAA");
  EXPECT_EQ(late.page.skipped[0].reason, "columnDelimiter is not a string");
}

TEST(ParseJobList, EveryMalformedCase) {
  EXPECT_NE(malformedList(kDocsQueryList.substr(0, kDocsQueryList.size() / 2))
                .message.find("invalid JSON"),
            std::string::npos);
  EXPECT_NE(
      malformedList(R"({"done":true,"records":{}})").message.find("`records` is not an array"),
      std::string::npos);
  EXPECT_NE(malformedList(R"({"done":true})").message.find("`records` is missing"),
            std::string::npos);
  EXPECT_NE(malformedList(R"({"records":[]})").message.find("`done` is missing"),
            std::string::npos);
  EXPECT_NE(
      malformedList(R"({"done":"true","records":[]})").message.find("`done` is not a boolean"),
      std::string::npos);
  EXPECT_NE(malformedList(R"({"done":1,"records":[]})").message.find("`done` is not a boolean"),
            std::string::npos);
  EXPECT_NE(malformedList(R"({"done":null,"records":[]})").message.find("`done` is not a boolean"),
            std::string::npos);
  EXPECT_NE(malformedList(R"({"done":true,"records":[],"nextRecordsUrl":5})")
                .message.find("nextRecordsUrl"),
            std::string::npos);
  malformedList(R"({"done":true,"records":[],"x":NaN})");
  malformedList(R"({"done":true,"records":[],"x":1e999})");
  malformedList(listOf(record(kGoodFields + R"(,"apiVersion":1e999)")));
  std::string deep =
      R"({"done":true,"records":[],"x":)" + std::string(100, '[') + std::string(100, ']') + "}";
  malformedList(deep);
  EXPECT_NE(malformedList(std::string(R"({"done":true,"records":[],"x":")") + "\xC3\x28" + "\"}")
                .message.find("UTF-8"),
            std::string::npos);
  malformedList(std::string(R"({"done":true,"records":[],"x":")") + "\xED\xA0\x80" + "\"}");
  malformedList(std::string(R"({"done":true,"records":[],"x":")") + "\xC0\xAF" + "\"}");
  EXPECT_NE(malformedList("[" + kDocsQueryList + "]").message.find("top level is not an object"),
            std::string::npos);
  malformedList("");
  malformedList("null");
  malformedList("<html><body>502 Bad Gateway</body></html>");
  malformedList(kRecordedIngestList + "garbage");
}

TEST(ParseJobList, DuplicateKeysAreRefused) {
  EXPECT_NE(malformedList(R"({"done":false,"done":true,"records":[]})").message.find("duplicate"),
            std::string::npos);
  malformedList(listOf(record(kGoodFields + R"(,"state":"JobComplete")")));
  // Same key in different objects is fine.
  EXPECT_EQ(parseOk(listOf(record(kGoodFields) + "," + record(kGoodFields))).page.jobs.size(), 2u);
}

TEST(ParseJobList, ModerateNestingIsAccepted) {
  std::string nested =
      R"({"done":true,"records":[],"x":)" + std::string(20, '[') + std::string(20, ']') + "}";
  EXPECT_TRUE(parseJobList(nested, ResourceKind::Query).ok());
}

TEST(ParseJob, RecordedHerokuGet) {
  auto r = parseJob(kHerokuGet, ResourceKind::Query);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r.value().id, "7508Z00000lTqQCQA0");
  EXPECT_EQ(r.value().state, JobState::JobComplete);
  EXPECT_EQ(r.value().apiVersion, "53.0");
  EXPECT_EQ(r.value().jobType, "V2Query");
  EXPECT_EQ(model::formatSalesforce(r.value().createdDate), "2023-01-27T15:10:12.000+0000");
}

TEST(ParseJob, BadBodiesAreMalformed) {
  for (const std::string& body :
       {std::string("[]"), std::string(""), std::string("{}"),
        std::string(R"({"id":"750R0000000zlh9IAA"})"), kHerokuGet.substr(0, 40)}) {
    auto r = parseJob(body, ResourceKind::Query);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().kind, Kind::Malformed);
  }
}

TEST(ParseReplyState, AbortReply) {
  EXPECT_EQ(parseReplyState(R"({"id":"750R0000000zlh9IAA","state":"Aborted"})"), "Aborted");
  EXPECT_EQ(parseReplyState(""), std::nullopt);
  EXPECT_EQ(parseReplyState("[]"), std::nullopt);
  // Only the top level's own `state`, a string, once.
  EXPECT_EQ(parseReplyState(R"({"x":{"state":"Aborted"}})"), std::nullopt);
  EXPECT_EQ(parseReplyState(R"([{"state":"Aborted"}])"), std::nullopt);
  EXPECT_EQ(parseReplyState(R"({"state":3})"), std::nullopt);
  EXPECT_EQ(parseReplyState(R"({"state":"Aborted","state":"JobComplete"})"), std::nullopt);
  EXPECT_EQ(parseReplyState(R"({"state":"Aborted","x":[1,{"state":"Open"}]})"), "Aborted");
}

struct ClassifyCase {
  int status;
  std::string body;
  Kind kind;
  std::string code;
};

TEST(Classify, BulkApiTable) {
  const ClassifyCase cases[] = {
      {404, R"([{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}])",
       Kind::NotFound, "NOT_FOUND"},
      {400,
       R"([{"errorCode":"INVALIDJOBSTATE","message":"Aborting already Completed Job not allowed"}])",
       Kind::InvalidState, "INVALIDJOBSTATE"},
      {400,
       R"([{"errorCode":"API_ERROR","message":"Error encountered when deleting the job because the job is not terminated"}])",
       Kind::InvalidState, "API_ERROR"},
      {409, "", Kind::Permanent, ""},
      {401, R"([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}])",
       Kind::Unauthorized, "INVALID_SESSION_ID"},
      {403, R"([{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"TotalRequests Limit exceeded."}])",
       Kind::LimitExceeded, "REQUEST_LIMIT_EXCEEDED"},
      {403,
       R"([{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"ConcurrentPerOrgLongTxn Limit exceeded."}])",
       Kind::LimitExceeded, "REQUEST_LIMIT_EXCEEDED"},
      {403,
       R"([{"errorCode":"API_DISABLED_FOR_ORG","message":"The REST API is not enabled for this Organization."}])",
       Kind::Permanent, "API_DISABLED_FOR_ORG"},
      {403, R"([{"errorCode":"API_CURRENTLY_DISABLED","message":"API is disabled for this User"}])",
       Kind::Permanent, "API_CURRENTLY_DISABLED"},
      {403, R"([{"errorCode":"INSUFFICIENT_ACCESS","message":"insufficient access rights"}])",
       Kind::Permanent, "INSUFFICIENT_ACCESS"},
      {404, R"([{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}])",
       Kind::NotFound, "NOT_FOUND"},
      {410, "", Kind::Permanent, ""},
      {400,
       R"([{"errorCode":"INVALIDENTITY","message":"Entity 'Foo' is not supported by the Bulk API."}])",
       Kind::Permanent, "INVALIDENTITY"},
      {400, R"([{"errorCode":"LIMIT_EXCEEDED","message":"daily limit"}])", Kind::Permanent,
       "LIMIT_EXCEEDED"},
      {503, R"([{"errorCode":"SERVER_UNAVAILABLE","message":"Server too busy"}])", Kind::Transient,
       "SERVER_UNAVAILABLE"},
      {420, "<html><body>Edge</body></html>", Kind::Transient, ""},
      {502, "<html><body>Bad Gateway</body></html>", Kind::Transient, ""},
      {500, "", Kind::Transient, ""},
      {500, R"([{"errorCode":"UNKNOWN_EXCEPTION","message":"An unexpected error occurred."}])",
       Kind::Transient, "UNKNOWN_EXCEPTION"},
      // 429: throttled, not processed; retried after Retry-After, never a daily-limit pause.
      {429, "", Kind::Transient, ""},
      {429, R"([{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"Too many requests"}])",
       Kind::Transient, "REQUEST_LIMIT_EXCEEDED"},
      {406, "", Kind::Transient, ""},
      // docs/salesforce.md 12.4: hand-written mappings use 400 NOT_FOUND for PATCH/DELETE.
      {400, R"([{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}])",
       Kind::NotFound, "NOT_FOUND"},
      {400, R"([{"errorCode":"API_ERROR","message":"Something else"}])", Kind::Permanent,
       "API_ERROR"},
      {400, R"([{"errorCode":"INVALIDJOB","message":"Invalid job id"}])", Kind::Permanent,
       "INVALIDJOB"},
  };
  for (const auto& c : cases) {
    ApiError e = classify(c.status, c.body);
    EXPECT_EQ(e.kind, c.kind) << c.status << " " << c.body << " -> " << e.describe();
    EXPECT_EQ(e.code, c.code) << c.body;
    EXPECT_EQ(e.http, c.status);
    EXPECT_TRUE(e.sent);
  }
}

TEST(Classify, KeepsMessageWhateverTheKeyOrder) {
  ApiError e = classify(
      400,
      R"([{"fields":[],"message":"Aborting already Completed Job not allowed","errorCode":"INVALIDJOBSTATE"}])");
  EXPECT_EQ(e.kind, Kind::InvalidState);
  EXPECT_EQ(e.message, "Aborting already Completed Job not allowed");
  EXPECT_EQ(e.describe(),
            "invalid-state (HTTP 400 INVALIDJOBSTATE: Aborting already Completed Job not allowed)");
}

TEST(Classify, OddBodies) {
  // Empty, HTML, an object, garbage, an empty array, OAuth shape, camel-case code.
  EXPECT_EQ(classify(400, "").kind, Kind::Permanent);
  EXPECT_EQ(classify(400, "").message, "");
  ApiError html = classify(503, "<html>down</html>");
  EXPECT_EQ(html.kind, Kind::Transient);
  EXPECT_EQ(html.code, "");
  EXPECT_NE(html.message.find("non-JSON"), std::string::npos);
  ApiError object = classify(404, R"({"errorCode":"NOT_FOUND","message":"gone"})");
  EXPECT_EQ(object.kind, Kind::NotFound);
  EXPECT_EQ(object.code, "NOT_FOUND");
  EXPECT_EQ(object.message, "gone");
  EXPECT_EQ(classify(400, "\x01\xff garbage {[").kind, Kind::Permanent);
  EXPECT_EQ(classify(400, "[]").kind, Kind::Permanent);
  EXPECT_EQ(classify(400, "[42]").kind, Kind::Permanent);
  EXPECT_EQ(classify(400, R"([{"errorCode":7}])").kind, Kind::Permanent);
  ApiError oauth =
      classify(400, R"({"error":"invalid_grant","error_description":"user hasn't approved"})");
  EXPECT_EQ(oauth.code, "invalid_grant");
  EXPECT_EQ(oauth.message, "user hasn't approved");
  EXPECT_EQ(classify(400, R"([{"errorCode":"InvalidJobState","message":"x"}])").kind,
            Kind::InvalidState);
  EXPECT_EQ(classify(401, "").kind, Kind::Unauthorized);
  EXPECT_EQ(classify(302, "").kind, Kind::Permanent);
}

TEST(Classify, TruncatesLongMessages) {
  std::string longMessage(5000, 'x');
  ApiError e = classify(400, R"([{"errorCode":"X","message":")" + longMessage + R"("}])");
  EXPECT_LE(e.message.size(), kMaxErrorMessage + 3);
  EXPECT_GE(e.message.size(), kMaxErrorMessage - 3);
  // Never splits a UTF-8 sequence.
  std::string accents;
  for (int i = 0; i < 400; ++i) accents += "\xC3\xA9";
  ApiError u = classify(400, R"([{"errorCode":"X","message":")" + accents + R"("}])");
  EXPECT_LE(u.message.size(), kMaxErrorMessage + 3);
  EXPECT_EQ(u.message.substr(0, 2), "\xC3\xA9");
  EXPECT_EQ(u.message.substr(u.message.size() - 5), "\xC3\xA9...");
}

TEST(ParseLimitInfo, Forms) {
  auto u = parseLimitInfo("api-usage=10018/100000");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->used, 10018);
  EXPECT_EQ(u->max, 100000);
  auto app = parseLimitInfo(
      "api-usage=23/5000000; per-app-api-usage=17/250(appName=sample-connected-app)");
  ASSERT_TRUE(app);
  EXPECT_EQ(app->used, 23);
  EXPECT_EQ(app->max, 5000000);
  auto appFirst = parseLimitInfo("per-app-api-usage=17/250(appName=x); api-usage=5/15000");
  ASSERT_TRUE(appFirst);
  EXPECT_EQ(appFirst->used, 5);
  EXPECT_EQ(appFirst->max, 15000);
  auto over = parseLimitInfo(" api-usage=100005/100000 ");
  ASSERT_TRUE(over);
  EXPECT_EQ(over->used, 100005);
}

TEST(ParseLimitInfo, Garbage) {
  for (const char* bad :
       {"", "api-usage", "api-usage=", "api-usage=1", "api-usage=/5", "api-usage=5/",
        "api-usage=a/b", "api-usage=1/0", "api-usage=-1/5", "api-usage=1/5x", "usage=1/5",
        "per-app-api-usage=17/250", "api-usage=99999999999999999999/1", "api-usage=1 /5"}) {
    EXPECT_FALSE(parseLimitInfo(bad)) << bad;
  }
}

TEST(IsJobId, Forms) {
  EXPECT_TRUE(isJobId("750R0000000zlh9IAA"));
  EXPECT_TRUE(isJobId("750R0000000zlh9"));
  EXPECT_FALSE(isJobId("750R0000000zlh"));
  EXPECT_FALSE(isJobId("751R0000000zlh9IAA"));
  EXPECT_FALSE(isJobId("750R0000000zlh9IA/"));
}

}  // namespace
}  // namespace bulkwarden::salesforce
