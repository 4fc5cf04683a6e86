// The streaming list-page mapping against the document-tree mapping it replaced
// (tests/support/JobMappingReference.cpp): thousands of generated pages whose records mix every
// form each field can take (missing, null, good and bad strings, numbers, booleans, nested
// values, duplicates, unknown keys), in both listings. Same jobs, same skips, same errors.
// fuzz_job_list_diff does the same from arbitrary bytes.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "JobMappingReference.h"

namespace bulkwarden::salesforce {
namespace {

using model::ResourceKind;

// The forms a field's value takes in the generated records: good ones for the field, and
// everything that must be skipped or refused.
struct Forms {
  std::vector<std::string> good;
  std::vector<std::string> bad;
};

Forms formsOf(const std::string& field) {
  Forms f;
  f.bad = {"null", "17", "-3", "18446744073709551615",    "2.5",
           "true", "{}", "[]", R"({"a":[1,{"b":null}]})", R"("")"};
  if (field == "id") {
    f.good = {R"("750R0000000zlh9IAA")", R"("7503h000004R4Ju")"};
    f.bad.insert(f.bad.end(),
                 {R"("750R0000000zlh9")", R"("001R0000000zlh9IAA")", R"("750R0000000zl h9IAA")",
                  R"("750R0000000zlh9IAA750R0000000zlh9IAA750R0000000zlh9IAA750R0000000zlh9IAA")"});
  } else if (field == "state") {
    f.good = {R"("InProgress")", R"("JobComplete")", R"("Aborted")", R"("UploadComplete")"};
    f.bad.insert(f.bad.end(), {R"("inprogress")", R"("Running")"});
  } else if (field == "createdDate" || field == "systemModstamp") {
    f.good = {R"("2026-01-02T03:04:05.000+0000")", R"("2026-01-02T03:04:05Z")"};
    f.bad.insert(f.bad.end(), {R"("2026-02-30T00:00:00.000+0000")", R"("yesterday")"});
  } else if (field == "apiVersion") {
    f.good = {"62.0", "49", R"("62.0")", "1e6", "0.05", "null"};
    f.bad.insert(f.bad.end(), {"1000001", "-1", "true"});
  } else if (field == "jobType") {
    f.good = {R"("V2Query")", R"("V2Ingest")", "null"};
    f.bad.insert(f.bad.end(), {R"("Classic")", R"("BigObjectIngest")"});
  } else if (field == "retries" || field == "numberRecordsProcessed") {
    f.good = f.bad;  // not read: anything goes
  } else {
    f.good = {R"("Account")", R"("caf\u00e9")", R"("a\"b")", "null"};
  }
  return f;
}

const std::vector<std::string> kFields = {
    "id",          "jobType",    "state",           "createdDate", "systemModstamp",
    "apiVersion",  "operation",  "object",          "createdById", "concurrencyMode",
    "contentType", "lineEnding", "columnDelimiter", "retries",     "numberRecordsProcessed"};

// A record: each field present 19 times in 20, of a good form 19 times in 20.
std::string randomRecord(std::mt19937& rng) {
  std::string r = "{";
  bool first = true;
  for (const auto& field : kFields) {
    if (rng() % 20 == 0) continue;
    Forms forms = formsOf(field);
    const auto& pool = rng() % 20 ? forms.good : forms.bad;
    if (!first) r += ',';
    first = false;
    r += fmt::format(R"("{}":{})", field, pool[rng() % pool.size()]);
  }
  if (rng() % 50 == 0) r += first ? R"("state":"Open")" : R"(,"state":"Open")";  // maybe twice
  r += "}";
  return r;
}

std::string randomPage(std::mt19937& rng) {
  std::string records;
  int n = static_cast<int>(rng() % 6);
  for (int i = 0; i < n; ++i) {
    if (i) records += ',';
    switch (rng() % 20) {
      case 0:
        records += "42";
        break;
      case 1:
        records += "[{}]";
        break;
      case 2:
        records += "null";
        break;
      default:
        records += randomRecord(rng);
    }
  }
  const char* done[] = {"true", "false", "null", "1", R"("true")"};
  const char* next[] = {"null", R"("/services/data/v62.0/jobs/query?queryLocator=x-1000")", "5",
                        "{}"};
  std::string page = "{";
  std::vector<std::string> keys;
  if (rng() % 10) keys.push_back(fmt::format(R"("done":{})", done[rng() % 5]));
  if (rng() % 10) {
    keys.push_back(rng() % 15 ? fmt::format(R"("records":[{}])", records)
                              : std::string(R"("records":{"a":1})"));
  }
  if (rng() % 3) keys.push_back(fmt::format(R"("nextRecordsUrl":{})", next[rng() % 4]));
  if (rng() % 4 == 0) keys.push_back(R"("extra":{"records":[1],"done":7})");
  if (rng() % 40 == 0) keys.push_back(R"("done":false)");
  std::shuffle(keys.begin(), keys.end(), rng);
  for (size_t i = 0; i < keys.size(); ++i) page += (i ? "," : "") + keys[i];
  page += "}";
  if (rng() % 30 == 0) page = "[" + page + "]";
  if (rng() % 30 == 0) page.resize(page.size() / 2);
  return page;
}

TEST(JobMappingDiff, GeneratedPagesMapAsTheDocumentTreeDid) {
  std::mt19937 rng(20261129);
  int jobs = 0, skipped = 0, refused = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string body = randomPage(rng);
    auto kind = i % 2 ? ResourceKind::Ingest : ResourceKind::Query;
    ASSERT_EQ(differenceFromReference(body, kind), std::nullopt) << body;
    auto r = parseJobList(body, kind);
    if (!r.ok()) {
      ++refused;
    } else {
      jobs += static_cast<int>(r.value().page.jobs.size());
      skipped += static_cast<int>(r.value().page.skipped.size());
    }
  }
  // The generator reaches every outcome, so the comparison above means something.
  EXPECT_GT(jobs, 200);
  EXPECT_GT(skipped, 1000);
  EXPECT_GT(refused, 400);
}

TEST(JobMappingDiff, GeneratedSingleJobsMapAsTheDocumentTreeDid) {
  std::mt19937 rng(7);
  int good = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string body = randomRecord(rng);
    auto kind = i % 2 ? ResourceKind::Ingest : ResourceKind::Query;
    ASSERT_EQ(differenceFromReference(body, kind), std::nullopt) << body;
    good += parseJob(body, kind).ok();
  }
  EXPECT_GT(good, 100);
}

}  // namespace
}  // namespace bulkwarden::salesforce
