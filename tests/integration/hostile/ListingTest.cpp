// Listings a lying org or proxy sends, against the real binary (`run --once`) over loopback: a
// job listed twice, on one page or again on a later one, a job listed again with other fields,
// more jobs than the cap, matches held back in bulk, and next-page URLs that lead elsewhere on
// the same host (issue 11, items 5, 11 and 15).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/Fixture.h"
#include "support/HostileServer.h"

namespace bulkwarden::testing {
namespace {

constexpr const char* kList = "/services/data/v62.0/jobs/query?jobType=V2Query";
constexpr const char* kJobs = "/services/data/v62.0/jobs/query/";

std::string record(const std::string& id, const std::string& state = "InProgress",
                   const std::string& object = "Account") {
  return fmt::format(
      R"({{"id":"{}","operation":"query","object":"{}","createdById":"005R0000000GiwjIAC",)"
      R"("createdDate":"2026-01-02T03:04:05.000+0000","systemModstamp":"2026-01-02T03:05:05.000+0000",)"
      R"("state":"{}","concurrencyMode":"Parallel","contentType":"CSV","apiVersion":62.0,)"
      R"("jobType":"V2Query","lineEnding":"LF","columnDelimiter":"COMMA"}})",
      id, object, state);
}

std::string page(const std::vector<std::string>& records, const std::string& next = "") {
  std::string body =
      R"({"done":)" + std::string(next.empty() ? "true" : "false") + R"(,"records":[)";
  for (size_t i = 0; i < records.size(); ++i) body += (i ? "," : "") + records[i];
  body += R"(],"nextRecordsUrl":)" + (next.empty() ? std::string("null") : "\"" + next + "\"");
  return body + "}";
}

const char* kAbortRunning = R"(policies:
  - name: abort-running
    resource: query-jobs
    mode: enforce
    filters: [ { state: InProgress } ]
    action: abort
)";

class HostileListing : public EndToEnd {
 protected:
  // The org: GET answers from `pages` by target (path and query as sent); PATCH of a job aborts
  // it; anything else is 404.
  void serve(std::map<std::string, std::string> pages) {
    hostile_.reset();  // the old server's threads read pages_: stopped before it changes
    pages_ = std::move(pages);
    hostile_ = std::make_unique<HostileServer>([this](const HostileRequest& r) {
      HostileReply reply;
      if (r.method == "PATCH" && r.target.rfind(kJobs, 0) == 0) {
        reply.body =
            R"({"id":")" + r.target.substr(std::string(kJobs).size()) + R"(","state":"Aborted"})";
        return reply;
      }
      if (r.method == "GET") {
        if (auto it = pages_.find(r.target); it != pages_.end()) {
          reply.body = it->second;
          return reply;
        }
        if (endless_ && r.target.rfind("/services/data/v62.0/jobs/query?", 0) == 0) {
          reply.body = endlessPage(r.target);
          return reply;
        }
      }
      reply.status = 404;
      reply.body =
          R"([{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}])";
      return reply;
    });
  }
  // Page N (N from the locator, 0 for the first) of a listing that never ends: 1,000 new
  // InProgress jobs a page.
  static std::string endlessPage(const std::string& target) {
    int n = 0;
    auto at = target.find("queryLocator=01gEndless-");
    if (at != std::string::npos) n = std::stoi(target.substr(at + 24));
    std::vector<std::string> records;
    for (int i = 0; i < 1000; ++i)
      records.push_back(record(fmt::format("750Q{:011d}AAA", n * 1000 + i)));
    return page(records,
                fmt::format("/services/data/v62.0/jobs/query?queryLocator=01gEndless-{}", n + 1));
  }

  std::string config(const std::string& policies, const std::string& extra = "") {
    writeFile(dir_ / "token", "00Dx0000000hostile!token\n");
    writeFile(dir_ / "policies.yaml", policies);
    writeFile(dir_ / "bulkwarden.yaml",
              "orgs:\n"
              "  - name: hostile-org\n"
              "    api-version: \"62.0\"\n"
              "    instance-url: " +
                  hostile_->url() +
                  "\n"
                  "    auth:\n"
                  "      flow: access-token\n"
                  "      access-token: { file: token }\n"
                  "policies: [policies.yaml]\n"
                  "audit-log: audit.jsonl\n"
                  "state-dir: state\n" +
                  extra);
    return (dir_ / "bulkwarden.yaml").string();
  }
  size_t patches(const std::string& id) const { return hostile_->count("PATCH", kJobs + id); }
  size_t allPatches() const { return hostile_->count("PATCH", ""); }

  std::map<std::string, std::string> pages_;
  bool endless_ = false;
  std::unique_ptr<HostileServer> hostile_;
};

const std::string kA = "750R0000000000AAAA";
const std::string kB = "750R0000000000BAAA";
const std::string kC = "750R0000000000CAAA";
const std::string kD = "750R0000000000DAAA";
const std::string kE = "750R0000000000EAAA";

// Item 5: the same id twice on a page, and again on a later page (what offset paging does when
// the org changes mid-listing): one PATCH per job, and max-percent counts each job once.
TEST_F(HostileListing, AJobListedTwiceIsAbortedOnceAndCountedOnceForMaxPercent) {
  const std::string next = "/services/data/v62.0/jobs/query?queryLocator=01gDup-1000";
  serve({{kList, page({record(kA), record(kB), record(kA), record(kD, "JobComplete")}, next)},
         {next, page({record(kB), record(kE, "JobComplete"), record(kA)})}});
  // 2 running of 4 jobs is 50%: not over. Counted per list record, 5 of 7 would be.
  auto cfg = config(std::string(kAbortRunning) + "    limits: { max-percent: 50 }\n");
  ASSERT_EQ(run({"run", "--once", "--config", cfg}), 0) << err();
  EXPECT_EQ(patches(kA), 1u);
  EXPECT_EQ(patches(kB), 1u);
  EXPECT_EQ(allPatches(), 2u);
  auto end = audit("run-end");
  ASSERT_EQ(end.size(), 1u);
  EXPECT_EQ(end[0]->getValue<int>("jobs_seen"), 4);
  EXPECT_EQ(end[0]->getValue<int>("duplicates"), 3);
  EXPECT_EQ(audit("intent").size(), 2u);
  EXPECT_EQ(audit("decision").size(), 2u);
  EXPECT_NE(err().find("repeats"), std::string::npos) << err();
}

// Item 5: a job listed again with another state changed during the listing (offset paging over
// a changing org): that job is held back this pass, the listing stands, the others are acted on.
TEST_F(HostileListing, AJobListedAgainWithAnotherStateIsHeldBackAndTheOthersAreActedOn) {
  const std::string next = "/services/data/v62.0/jobs/query?queryLocator=01gDup-1000";
  serve({{kList, page({record(kA), record(kB)}, next)},
         {next, page({record(kC), record(kA, "JobComplete")})}});
  auto cfg = config(kAbortRunning);
  EXPECT_EQ(run({"run", "--once", "--config", cfg}), 0) << err();
  EXPECT_EQ(patches(kA), 0u);
  EXPECT_EQ(patches(kB), 1u);
  EXPECT_EQ(patches(kC), 1u);
  EXPECT_NE(err().find("listed twice with different fields"), std::string::npos) << err();
  auto held = audit("held");
  ASSERT_EQ(held.size(), 1u);
  EXPECT_NE(held[0]->getValue<std::string>("reason").find("changed during the listing"),
            std::string::npos);
  EXPECT_EQ(held[0]->getArray("ids")->getElement<std::string>(0), kA);
  auto end = audit("run-end");
  ASSERT_EQ(end.size(), 1u);
  EXPECT_TRUE(end[0]->getValue<bool>("listing_complete"));
  EXPECT_EQ(end[0]->getValue<int>("jobs_seen"), 3);
}

// Item 11: a listing that never ends stops at the cap, with an error naming the cap and its key,
// after reading no more pages than the cap needs (so memory stays bounded by it), and nothing is
// done.
TEST_F(HostileListing, AListingOverTheCapStopsWithAClearErrorAndNothingIsDone) {
  endless_ = true;
  serve({});
  auto cfg = config(kAbortRunning, "max-jobs-per-listing: 2500\n");
  EXPECT_EQ(run({"run", "--once", "--config", cfg}), 69) << err();
  EXPECT_EQ(allPatches(), 0u);
  EXPECT_NE(err().find("more than 2500 jobs (max-jobs-per-listing)"), std::string::npos) << err();
  // Three pages hold 3,000 jobs; at most one more was fetched ahead while the third was parsed.
  size_t listed = hostile_->count("GET", "/services/data/v62.0/jobs/query?");
  EXPECT_GE(listed, 3u);
  EXPECT_LE(listed, 4u);
  EXPECT_TRUE(audit("decision").empty());
  EXPECT_TRUE(audit("held").empty());
  auto end = audit("run-end");
  ASSERT_EQ(end.size(), 1u);
  EXPECT_FALSE(end[0]->getValue<bool>("listing_complete"));
  EXPECT_NE(end[0]->getValue<std::string>("error").find("max-jobs-per-listing"), std::string::npos);
}

TEST_F(HostileListing, TheCapIsAConfigKeyCheckedByValidate) {
  serve({});
  auto cfg = config(kAbortRunning, "max-jobs-per-listing: 0\n");
  EXPECT_EQ(run({"validate", "--config", cfg}), 78);
  EXPECT_NE(err().find("max-jobs-per-listing"), std::string::npos) << err();
  EXPECT_NE(err().find("bulkwarden.yaml:"), std::string::npos) << err();
}

// Item 11: matches held back in bulk (here over max-actions) are one `held` record, not one
// decision record each.
TEST_F(HostileListing, MatchesHeldBackInBulkAreOneRecord) {
  std::vector<std::string> records;
  for (int i = 0; i < 300; ++i) records.push_back(record(fmt::format("750H{:011d}AAA", i)));
  serve({{kList, page(records)}});
  auto cfg = config(std::string(kAbortRunning) + "    limits: { max-actions: 10 }\n");
  ASSERT_EQ(run({"run", "--once", "--config", cfg}), 0) << err();
  EXPECT_EQ(allPatches(), 0u);
  EXPECT_TRUE(audit("decision").empty());
  auto held = audit("held");
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0]->getValue<std::string>("policy"), "abort-running");
  EXPECT_EQ(held[0]->getValue<int>("count"), 300);
  EXPECT_NE(held[0]->getValue<std::string>("reason").find("max-actions 10"), std::string::npos);
  EXPECT_EQ(held[0]->getArray("ids")->size(), 20u);
  EXPECT_EQ(held[0]->getArray("ids")->getElement<std::string>(0), "750H00000000000AAA");
  EXPECT_EQ(held[0]->getValue<int>("ids_omitted"), 280);
  EXPECT_EQ(audit("limit").size(), 1u);
  EXPECT_EQ(run({"audit", "verify", auditPath()}), 0) << err();
}

// Item 15: a nextRecordsUrl without a queryLocator is followed only on the listing's own path.
TEST_F(HostileListing, ANextUrlElsewhereOnTheHostIsNeverRequested) {
  for (const std::string evil : {"/services/data/%2e%2e/x", "/services/data/v62.0/sobjects/Account",
                                 "/services/data/v62.0/jobs/query/../../sobjects"}) {
    SCOPED_TRACE(evil);
    // Were it followed, the page there would list a running job to abort.
    serve({{kList, page({record(kA, "JobComplete")}, evil)}, {evil, page({record(kB)})}});
    auto cfg = config(kAbortRunning);
    EXPECT_EQ(run({"run", "--once", "--config", cfg}), 69) << err();
    EXPECT_EQ(allPatches(), 0u);
    EXPECT_EQ(hostile_->count("GET", evil), 0u);
    // The first page only, besides the API version check (GET /services/data/).
    size_t others = 0;
    for (const auto& r : hostile_->requests()) {
      if (r.target != "/services/data/") ++others;
    }
    EXPECT_EQ(others, 1u);
    EXPECT_NE(err().find("not the listing's own path"), std::string::npos) << err();
  }
}

// The documented quirk (a query listing's nextRecordsUrl on /jobs/ingest, with a queryLocator)
// is still followed, on the listing's own path; so is offset paging on that path.
TEST_F(HostileListing, TheDocumentedIngestPathQuirkAndOwnPathPagingStillWork) {
  const std::string quirk = "/services/data/v62.0/jobs/ingest?queryLocator=01gQuirk-1000";
  const std::string reissued = "/services/data/v62.0/jobs/query?queryLocator=01gQuirk-1000";
  const std::string offset = "/services/data/v62.0/jobs/query?jobType=V2Query&offset=2000";
  serve({{kList, page({record(kA)}, quirk)},
         {reissued, page({record(kB)}, offset)},
         {offset, page({record(kC)})}});
  auto cfg = config(kAbortRunning);
  ASSERT_EQ(run({"run", "--once", "--config", cfg}), 0) << err();
  EXPECT_EQ(allPatches(), 3u);
  EXPECT_EQ(hostile_->count("GET", "/services/data/v62.0/jobs/ingest"), 0u);
  EXPECT_EQ(hostile_->count("GET", reissued), 1u);
  EXPECT_EQ(hostile_->count("GET", offset), 1u);
}

}  // namespace
}  // namespace bulkwarden::testing
