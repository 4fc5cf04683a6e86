// `bulkwarden sim --orgs N` as a child process: one line per org (org 1 first, in the first
// line's format), and orgs isolated from each other: tokens, jobs and API allowances.
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <thread>

#include "SimTestSupport.h"
#include "support/Child.h"

namespace bulkwarden::sim::testing {
namespace {

using namespace std::chrono_literals;

struct OrgLine {
  uint16_t port = 0;
  std::string token;
};

TEST(SimCommandOrgs, EachOrgHasItsOwnTokenJobsAndAllowance) {
  char tmpl[] = "/tmp/bw-simorgs-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  bulkwarden::testing::Child sim({"sim", "--orgs", "3", "--api-max", "3", "--jobs",
                                  "query:InProgress:5", "--classic-jobs", "4"},
                                 dir + "/out", dir + "/err");
  const std::regex line(R"(bulkwarden sim: http://127\.0\.0\.1:(\d+) token (\S+)\n)");
  std::vector<OrgLine> orgs;
  for (int i = 0; i < 500 && orgs.size() < 3; ++i) {
    std::this_thread::sleep_for(20ms);  // polls the child's output file until it has 3 lines
    orgs.clear();
    const std::string out = sim.out();
    for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator();
         ++it) {
      orgs.push_back({static_cast<uint16_t>(std::stoi((*it)[1])), (*it)[2]});
    }
  }
  ASSERT_EQ(orgs.size(), 3U) << sim.out() << sim.err();
  EXPECT_EQ(sim.out().rfind("bulkwarden sim: http://127.0.0.1:", 0), 0U);
  EXPECT_NE(orgs[0].token, orgs[1].token);
  EXPECT_NE(orgs[1].token, orgs[2].token);
  EXPECT_NE(orgs[0].port, orgs[1].port);

  std::vector<std::set<std::string>> ids;
  for (const auto& org : orgs) {
    Client client(org.port);
    const Listing all = listAll(client, std::string(kBase) + "/jobs/query", org.token);
    EXPECT_EQ(all.records.size(), 9U) << "5 query jobs and 4 Classic ones";
    const auto v = all.ids();
    ids.emplace_back(v.begin(), v.end());
  }
  for (const auto& id : ids[0]) EXPECT_EQ(ids[1].count(id), 0U) << "org 2 shows org 1's job";
  // Another org's token is refused.
  Client first(orgs[0].port);
  EXPECT_EQ(first.get(std::string(kBase) + "/jobs/query", orgs[1].token).status, 401);
  // Org 1 spends its allowance (3 calls: the listing above and two more); org 2 keeps its own.
  EXPECT_EQ(first.get(std::string(kBase) + "/limits", orgs[0].token).status, 200);
  EXPECT_EQ(first.get(std::string(kBase) + "/limits", orgs[0].token).status, 200);
  const Reply spent = first.get(std::string(kBase) + "/jobs/query", orgs[0].token);
  EXPECT_EQ(spent.status, 403);
  EXPECT_EQ(spent.errorMessage(), "TotalRequests Limit exceeded.");
  Client second(orgs[1].port);
  const Reply fine = second.get(std::string(kBase) + "/limits", orgs[1].token);
  EXPECT_EQ(fine.status, 200);
  EXPECT_EQ(fine.header("Sforce-Limit-Info"), "api-usage=2/3");
  sim.signal(SIGTERM);
  EXPECT_EQ(sim.wait(10s), 0) << sim.err();
  EXPECT_NE(sim.err().find("bulkwarden sim: requests="), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(SimCommandOrgs, HelpDocumentsTheRealOrgOptions) {
  char tmpl[] = "/tmp/bw-simhelp-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  bulkwarden::testing::Child help({"sim", "--help"}, dir + "/out", dir + "/err");
  ASSERT_EQ(help.wait(10s), 0);
  const std::string text = help.out();
  for (const char* option : {"--rotate-refresh-tokens", "--daily-api-limit", "--concurrent-limit",
                             "--fail-every", "--fail-retry-after", "--no-manage-data-integrations",
                             "--classic-jobs", "--chunked", "--orgs", "refuse-abort=K", "15000"}) {
    EXPECT_NE(text.find(option), std::string::npos) << option;
  }
  bulkwarden::testing::Child bad({"sim", "--orgs", "0"}, dir + "/out2", dir + "/err2");
  EXPECT_EQ(bad.wait(10s), 64);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bulkwarden::sim::testing
