// Bulk API 1.0 ("Classic") jobs in the mapping: the jobType=Classic listing, the 1.0 JobInfo in
// JSON and XML, and the 1.0 error format. The replies are hostile input: capped, strictly parsed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "salesforce/JobMapping.h"

namespace bulkwarden::salesforce {
namespace {

using model::JobState;
using model::ResourceKind;
using ::testing::HasSubstr;

const std::string kId = "750R0000000zlh9IAA";

std::string listRecord(const std::string& jobType, const std::string& state,
                       const std::string& operation, const std::string& id = kId) {
  return R"({"id":")" + id + R"(","operation":")" + operation +
         R"(","object":"Account","createdById":"005R0000000GiwjIAC",)"
         R"("createdDate":"2026-11-29T10:00:00.000+0000","systemModstamp":"2026-11-29T10:05:00.000+0000",)"
         R"("state":")" +
         state +
         R"(","concurrencyMode":"Parallel","contentType":"CSV","apiVersion":58.0,)"
         R"("jobType":")" +
         jobType + R"(","lineEnding":"LF","columnDelimiter":"COMMA"})";
}

std::string page(const std::vector<std::string>& records) {
  std::string body = R"({"done":true,"records":[)";
  for (size_t i = 0; i < records.size(); ++i) body += (i ? "," : "") + records[i];
  return body + R"(],"nextRecordsUrl":null})";
}

const std::string kJsonInfo =
    R"({"id":"750R0000000zlh9IAA","operation":"insert","object":"Contact",)"
    R"("createdById":"005R0000000GiwjIAC","createdDate":"2026-11-29T10:00:00.000Z",)"
    R"("systemModstamp":"2026-11-29T10:05:00.000Z","state":"Aborted","concurrencyMode":"Parallel",)"
    R"("contentType":"CSV","numberBatchesQueued":0,"apiVersion":58.0,"numberRecordsProcessed":0})";

std::string xmlInfo(const std::string& inner) {
  return R"(<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="http://www.force.com/2009/06/asyncapi/dataload">)" +
         inner + "</jobInfo>";
}
const std::string kXmlFields =
    "<id>750R0000000zlh9IAA</id><operation>query</operation><object>Account</object>"
    "<createdById>005R0000000GiwjIAC</createdById><createdDate>2026-11-29T10:00:00.000Z</"
    "createdDate>"
    "<systemModstamp>2026-11-29T10:05:00.000Z</systemModstamp><state>Closed</state>"
    "<concurrencyMode>Parallel</concurrencyMode><contentType>CSV</contentType>"
    "<numberBatchesQueued>0</numberBatchesQueued><apiVersion>58.0</apiVersion>";

TEST(ClassicListing, KeepsTheClassicJobsOfItsOwnKindOnly) {
  const std::string q1 = "750R0000000zlh1IAA", q2 = "750R0000000zlh2IAA", i1 = "750R0000000zlh3IAA",
                    v2 = "750R0000000zlh4IAA";
  auto body = page({listRecord("Classic", "InProgress", "query", q1),
                    listRecord("Classic", "Closed", "queryAll", q2),
                    listRecord("Classic", "Open", "insert", i1),
                    listRecord("V2Query", "InProgress", "query", v2)});
  auto r = parseJobList(body, ResourceKind::Query, Listing::Classic);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  auto& p = r.value().page;
  ASSERT_EQ(p.jobs.size(), 2u);
  EXPECT_EQ(p.jobs[0].id, q1);
  EXPECT_TRUE(p.jobs[0].isClassic());
  EXPECT_EQ(p.jobs[0].state, JobState::InProgress);  // 2.0 names are accepted
  EXPECT_EQ(p.jobs[1].id, q2);
  EXPECT_EQ(p.jobs[1].state, JobState::UploadComplete);  // 1.0 Closed: all data in, not finished
  // The 1.0 ingest job belongs to the ingest listing: dropped here without a warning; the 2.0
  // record has no place in a Classic listing: skipped with a reason.
  ASSERT_EQ(p.skipped.size(), 1u);
  EXPECT_EQ(p.skipped[0].id, v2);
  EXPECT_THAT(p.skipped[0].reason, HasSubstr("in a Classic listing"));

  auto ingest = parseJobList(body, ResourceKind::Ingest, Listing::Classic);
  ASSERT_TRUE(ingest.ok());
  ASSERT_EQ(ingest.value().page.jobs.size(), 1u);
  EXPECT_EQ(ingest.value().page.jobs[0].id, i1);
  EXPECT_EQ(ingest.value().page.jobs[0].kind, ResourceKind::Ingest);
  EXPECT_EQ(ingest.value().page.jobs[0].state, JobState::Open);

  // The 2.0 listing still skips Classic jobs, and does not know the 1.0 state names.
  auto v2page = parseJobList(body, ResourceKind::Query);
  ASSERT_TRUE(v2page.ok());
  ASSERT_EQ(v2page.value().page.jobs.size(), 1u);
  EXPECT_EQ(v2page.value().page.jobs[0].id, v2);
}

TEST(ClassicListing, AnUnknownStateIsSkipped) {
  auto r = parseJobList(page({listRecord("Classic", "Sleeping", "query")}), ResourceKind::Query,
                        Listing::Classic);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().page.jobs.empty());
  ASSERT_EQ(r.value().page.skipped.size(), 1u);
  EXPECT_THAT(r.value().page.skipped[0].reason, HasSubstr("unknown state"));
}

TEST(ClassicJobInfo, JsonAndXmlReadTheSameFields) {
  auto j = parseClassicJob(kJsonInfo);
  ASSERT_TRUE(j.ok()) << j.error().describe();
  EXPECT_EQ(j.value().id, kId);
  EXPECT_EQ(j.value().state, JobState::Aborted);
  EXPECT_EQ(j.value().kind, ResourceKind::Ingest);
  EXPECT_EQ(j.value().jobType, "Classic");
  EXPECT_EQ(model::formatSalesforce(j.value().createdDate), "2026-11-29T10:00:00.000+0000");

  auto x = parseClassicJob(xmlInfo(kXmlFields));
  ASSERT_TRUE(x.ok()) << x.error().describe();
  EXPECT_EQ(x.value().id, kId);
  EXPECT_EQ(x.value().state, JobState::UploadComplete);  // Closed, without batch counters
  EXPECT_EQ(x.value().kind, ResourceKind::Query);
  auto running =
      parseClassicJob(xmlInfo(kXmlFields + "<numberBatchesInProgress>2</numberBatchesInProgress>"));
  ASSERT_TRUE(running.ok()) << running.error().describe();
  EXPECT_EQ(running.value().state, JobState::InProgress);
  auto finished =
      parseClassicJob(xmlInfo(kXmlFields + "<numberBatchesInProgress>0</numberBatchesInProgress>"));
  ASSERT_TRUE(finished.ok());
  EXPECT_EQ(finished.value().state, JobState::JobComplete);
  EXPECT_EQ(x.value().object, "Account");
  // Whitespace between elements, an empty element and the predefined entities are accepted.
  auto spaced =
      parseClassicJob("\n" + xmlInfo("\n  " + kXmlFields +
                                     "\n  <externalIdFieldName/>"
                                     "<assignmentRuleId>a&amp;b&#x41;</assignmentRuleId>\n"));
  EXPECT_TRUE(spaced.ok()) << spaced.error().describe();
}

void expectMalformed(const std::string& body, const std::string& why) {
  auto r = parseClassicJob(body);
  ASSERT_FALSE(r.ok()) << body.substr(0, 200);
  EXPECT_EQ(r.error().kind, ApiError::Kind::Malformed);
  EXPECT_THAT(r.error().message, HasSubstr(why)) << body.substr(0, 200);
}

// Hostile replies: each is refused as Malformed, quickly and without expanding anything.
TEST(ClassicJobInfo, HostileRepliesAreRefusedStrictly) {
  // An entity-expansion bomb (DTD): never expanded, refused.
  std::string bomb =
      R"(<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>)" +
      xmlInfo("<id>750R0000000zlh9IAA</id><state>&lol2;</state>");
  expectMalformed(bomb, "DTD");
  expectMalformed(xmlInfo(kXmlFields + "<!-- hi -->"), "DTD, comment or CDATA");
  expectMalformed(xmlInfo(kXmlFields + "<x><![CDATA[y]]></x>"), "CDATA");
  expectMalformed(xmlInfo(kXmlFields + "<object>Other</object>"), "duplicate element <object>");
  expectMalformed(xmlInfo(kXmlFields + "<a><b>c</b></a>"), "nested element");
  expectMalformed(xmlInfo(kXmlFields + "<note>&ext;</note>"), "undeclared entity");
  expectMalformed(xmlInfo(kXmlFields + "<note>&#0;</note>"), "character reference");
  expectMalformed(xmlInfo(kXmlFields) + "<jobInfo/>", "content after the root element");
  const std::string whole = xmlInfo(kXmlFields);
  expectMalformed(whole.substr(0, whole.size() - std::string("</jobInfo>").size()), "unterminated");
  expectMalformed("<error><exceptionCode>X</exceptionCode></error>", "root <error>");
  // Over the cap: refused unread, however well formed.
  std::string big =
      xmlInfo(kXmlFields + "<padding>" + std::string(kMaxClassicReply, 'a') + "</padding>");
  expectMalformed(big, "over the");
  // Too many elements.
  std::string many;
  for (int i = 0; i < 200; ++i)
    many += "<f" + std::to_string(i) + ">x</f" + std::to_string(i) + ">";
  expectMalformed(xmlInfo(kXmlFields + many), "too many elements");
  // JSON: duplicate keys, a nested object, invalid UTF-8, an array, missing fields.
  expectMalformed(R"({"id":"750R0000000zlh9IAA","id":"750R0000000zlh8IAA"})", "duplicate");
  expectMalformed(R"({"id":"750R0000000zlh9IAA","state":{"a":1}})", "neither text");
  expectMalformed("{\"id\":\"750R0000000zlh9IAA\",\"state\":\"Open\xff\"}", "UTF-8");
  expectMalformed("[]", "not a JSON object");
  expectMalformed(R"({"state":"Open"})", "missing or bad id");
  expectMalformed(R"({"id":"750R0000000zlh9IAA","state":"Gone","createdDate":"x"})",
                  "unknown state");
  expectMalformed(R"({"id":"750R0000000zlh9IAA","state":"Open"})", "createdDate");
  expectMalformed("", "");
  expectMalformed(
      R"({"id":"750R0000000zlh9IAA","state":"Open","createdDate":"2026-11-29T10:00:00.000Z","systemModstamp":"2026-11-29T10:00:00.000Z","object":")" +
          std::string(300, 'x') + "\"}",
      "object is 300 bytes");
}

TEST(ClassicErrors, OnePointOhCodesMapToTheClientsKinds) {
  using K = ApiError::Kind;
  struct Case {
    int status;
    std::string body;
    K kind;
    std::string code;
  };
  const std::vector<Case> cases = {
      {400, R"({"exceptionCode":"InvalidSessionId","exceptionMessage":"Invalid session id"})",
       K::Unauthorized, "InvalidSessionId"},
      {400,
       R"(<?xml version="1.0" encoding="UTF-8"?><error xmlns="http://www.force.com/2009/06/asyncapi/dataload"><exceptionCode>InvalidSessionId</exceptionCode><exceptionMessage>Invalid session id</exceptionMessage></error>)",
       K::Unauthorized, "InvalidSessionId"},
      {400, R"({"exceptionCode":"InvalidJobState","exceptionMessage":"Job is Aborted"})",
       K::InvalidState, "InvalidJobState"},
      {400, R"({"exceptionCode":"InvalidJob","exceptionMessage":"Unable to find object: 750x"})",
       K::NotFound, "InvalidJob"},
      {400, R"({"exceptionCode":"InvalidJob","exceptionMessage":"Unable to parse the job"})",
       K::Permanent, "InvalidJob"},
      {400,
       R"({"exceptionCode":"ExceededQuota","exceptionMessage":"TotalRequests Limit exceeded."})",
       K::LimitExceeded, "ExceededQuota"},
      {400, R"({"exceptionCode":"InvalidUser","exceptionMessage":"created by another user"})",
       K::Permanent, "InvalidUser"},
      {503, "", K::Transient, ""},
      {429, "", K::Transient, ""},
      {502, "<html><body>Bad Gateway</body></html>", K::Transient, ""},
      {401, R"([{"errorCode":"INVALID_SESSION_ID","message":"Session expired or invalid"}])",
       K::Unauthorized, "INVALID_SESSION_ID"},
      {400, "<error><exceptionCode>Unknown</exceptionCode><!DOCTYPE x></error>", K::Permanent, ""},
  };
  for (const auto& c : cases) {
    ApiError e = classifyClassic(c.status, c.body);
    EXPECT_EQ(e.kind, c.kind) << c.status << " " << c.body;
    EXPECT_EQ(e.code, c.code) << c.body;
    EXPECT_TRUE(e.sent);
  }
  EXPECT_TRUE(isPermissionRefusal(classifyClassic(
      400, R"({"exceptionCode":"InvalidUser","exceptionMessage":"created by another user"})")));
}

TEST(ClassicErrors, AHugeOrHostileErrorIsCutAndNeverParsedPastTheCap) {
  std::string huge = R"({"exceptionCode":"InvalidJobState","exceptionMessage":")" +
                     std::string(10'000, 'm') + "\"}";
  ApiError e = classifyClassic(400, huge);
  EXPECT_EQ(e.kind, ApiError::Kind::InvalidState);
  EXPECT_LE(e.message.size(), kMaxErrorMessage + 3);
  std::string overCap(kMaxClassicReply + 1, '{');
  ApiError big = classifyClassic(400, overCap);
  EXPECT_EQ(big.kind, ApiError::Kind::Permanent);
  EXPECT_TRUE(big.code.empty());
}

TEST(ClassicKind, QueryOperationsAreQueryJobs) {
  EXPECT_EQ(classicKind("query"), ResourceKind::Query);
  EXPECT_EQ(classicKind("queryAll"), ResourceKind::Query);
  EXPECT_EQ(classicKind("insert"), ResourceKind::Ingest);
  EXPECT_EQ(classicKind("hardDelete"), ResourceKind::Ingest);
  EXPECT_EQ(classicJobState("Closed"), JobState::UploadComplete);
  EXPECT_EQ(classicJobState("Open"), JobState::Open);
  EXPECT_EQ(classicJobState("JobComplete"), JobState::JobComplete);
  EXPECT_FALSE(classicJobState("closed").has_value());
}

}  // namespace
}  // namespace bulkwarden::salesforce
