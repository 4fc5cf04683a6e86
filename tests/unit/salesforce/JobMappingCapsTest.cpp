// Field length caps of the list mapping: values no Salesforce org sends (a 10,000-byte object
// name) are skipped with a reason before any policy regex or log line reads them.
#include <gtest/gtest.h>

#include <string>

#include "salesforce/JobMapping.h"

namespace bulkwarden::salesforce {
namespace {

using model::ResourceKind;

const std::string kGood =
    R"("id":"750R0000000zlh9IAA","state":"InProgress","createdDate":"2026-01-02T03:04:05.000+0000",)"
    R"("systemModstamp":"2026-01-02T03:05:05.000+0000")";

std::string listOf(const std::string& records) {
  return R"({"done":true,"records":[)" + records + R"(],"nextRecordsUrl":null})";
}

std::string withField(const std::string& key, const std::string& value) {
  return "{" + kGood + ",\"" + key + "\":\"" + value + "\"}";
}

ListPage parse(const std::string& body) {
  auto r = parseJobList(body, ResourceKind::Query);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
  return r.ok() ? r.value() : ListPage{};
}

// "" when the one record was kept, else the reason it was skipped.
std::string reasonFor(const std::string& key, size_t length, char fill = 'a') {
  ListPage p = parse(listOf(withField(key, std::string(length, fill))));
  if (p.page.jobs.size() == 1 && p.page.skipped.empty()) return "";
  if (p.page.skipped.size() != 1) return "(neither kept nor skipped)";
  EXPECT_EQ(p.page.skipped[0].id, "750R0000000zlh9IAA") << "a skipped record keeps its id";
  return p.page.skipped[0].reason;
}

TEST(JobMappingCaps, ObjectNamesUpTo255Bytes) {
  EXPECT_EQ(reasonFor("object", kMaxNameField), "");
  EXPECT_EQ(reasonFor("object", kMaxNameField + 1), "object is 256 bytes, over 255");
  EXPECT_EQ(reasonFor("object", 10000, 'b'), "object is 10000 bytes, over 255");
}

TEST(JobMappingCaps, UserIdsUpTo18Bytes) {
  EXPECT_EQ(reasonFor("createdById", 15), "");
  EXPECT_EQ(reasonFor("createdById", 18), "");
  EXPECT_EQ(reasonFor("createdById", 19), "createdById is 19 bytes, over 18");
}

TEST(JobMappingCaps, ShortCodesUpTo40Bytes) {
  for (const char* key : {"operation", "apiVersion", "concurrencyMode", "contentType", "lineEnding",
                          "columnDelimiter"}) {
    EXPECT_EQ(reasonFor(key, kMaxCodeField), "") << key;
    EXPECT_EQ(reasonFor(key, kMaxCodeField + 1), std::string(key) + " is 41 bytes, over 40") << key;
  }
  // An unknown jobType is otherwise accepted; a long one is not.
  EXPECT_EQ(reasonFor("jobType", kMaxCodeField + 1), "jobType is 41 bytes, over 40");
}

TEST(JobMappingCaps, OtherRecordsOfThePageSurvive) {
  std::string huge = withField("object", std::string(100000, 'a'));
  ListPage p = parse(listOf("{" + kGood + "}," + huge + ",{" + kGood + "}"));
  EXPECT_EQ(p.page.jobs.size(), 2u);
  ASSERT_EQ(p.page.skipped.size(), 1u);
  EXPECT_EQ(p.page.skipped[0].reason, "object is 100000 bytes, over 255");
}

TEST(JobMappingCaps, ASingleJobOverACapIsMalformed) {
  auto r = parseJob(withField("createdById", std::string(5000, '0')), ResourceKind::Query);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Malformed);
  EXPECT_NE(r.error().describe().find("createdById is 5000 bytes, over 18"), std::string::npos)
      << r.error().describe();
}

TEST(JobMappingCaps, MultibyteCharactersCountInBytes) {
  // 128 two-byte characters: 256 bytes, over the cap even though only 128 characters.
  std::string e(128 * 2, '\0');
  for (size_t i = 0; i < e.size(); i += 2) {
    e[i] = '\xc3';
    e[i + 1] = '\xa9';
  }
  ListPage p = parse(listOf(withField("object", e)));
  ASSERT_EQ(p.page.skipped.size(), 1u);
  EXPECT_EQ(p.page.skipped[0].reason, "object is 256 bytes, over 255");
}

}  // namespace
}  // namespace bulkwarden::salesforce
