// `bulkwarden sim` as a child process with the options a soak uses (scripts/soak.sh): a Developer
// Edition whose allowance was partly spent before the start, API versions up to 67.0, jobs that
// arrive on the sim clock, the final job list and the fault counters at exit; bad values are
// usage errors.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "Eventually.h"
#include "support/Child.h"

namespace bulkwarden::testing {
namespace {

using namespace std::chrono_literals;

struct Got {
  int status = 0;
  std::string body;
};

Got get(const std::string& url, const std::string& path, const std::string& token) {
  const auto colon = url.rfind(':');
  Poco::Net::HTTPClientSession session("127.0.0.1",
                                       static_cast<uint16_t>(std::stoi(url.substr(colon + 1))));
  Poco::Net::HTTPRequest request("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
  if (!token.empty()) request.set("Authorization", "Bearer " + token);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  Got g;
  Poco::StreamCopier::copyToString(session.receiveResponse(response), g.body);
  g.status = response.getStatus();
  return g;
}

class SimCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-simcmd-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(SimCommand, ADeveloperEditionWithTheSoakOptions) {
  const auto wallMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  Child sim({"sim", "--empty", "--edition", "developer", "--api-used", "100@1h", "--time-scale",
             "600", "--clock-epoch", std::to_string(wallMs - 60'000), "--new-jobs-every", "1m",
             "--fail-rate", "0", "--final-jobs", dir_ + "/final"},
            dir_ + "/out", dir_ + "/err");
  ASSERT_TRUE(eventually([&] { return sim.out().find('\n') != std::string::npos; }, 10s))
      << sim.err();
  const std::string first = sim.out();
  ASSERT_EQ(first.rfind("bulkwarden sim: http://127.0.0.1:", 0), 0u) << first;
  const auto tokenAt = first.find(" token ");
  const std::string url = first.substr(16, tokenAt - 16);
  const std::string token = first.substr(tokenAt + 7, first.find('\n') - tokenAt - 7);

  const Got limits = get(url, "/services/data/v62.0/limits", token);
  ASSERT_EQ(limits.status, 200) << limits.body;
  auto daily = Poco::JSON::Parser()
                   .parse(limits.body)
                   .extract<Poco::JSON::Object::Ptr>()
                   ->getObject("DailyApiRequests");
  EXPECT_EQ(daily->getValue<int64_t>("Max"), 15000);
  EXPECT_EQ(daily->getValue<int64_t>("Remaining"), 15000 - 101);  // spent before, and this call
  EXPECT_NE(get(url, "/services/data/", "").body.find("\"version\":\"67.0\""), std::string::npos);
  // A job arrives every sim minute (a tenth of a wall second at 600 times).
  EXPECT_TRUE(eventually(
      [&] {
        return get(url, "/services/data/v62.0/jobs/ingest", token).body.find("\"id\":\"750") !=
               std::string::npos;
      },
      10s));
  sim.signal(SIGTERM);
  EXPECT_EQ(sim.wait(10s), 0) << sim.err();
  std::ifstream final(dir_ + "/final");
  std::string line;
  ASSERT_TRUE(std::getline(final, line));
  EXPECT_EQ(line.rfind("now ", 0), 0u) << line;
  int jobs = 0;
  while (std::getline(final, line)) ++jobs;
  EXPECT_GE(jobs, 1);
  EXPECT_NE(sim.err().find("bulkwarden sim: faults unavailable=0 concurrent_limited=0 "
                           "daily_limited=0 forbidden=0 rotations=0 arrived_jobs="),
            std::string::npos)
      << sim.err();
}

TEST_F(SimCommand, BadSoakOptionsAreUsageErrors) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"sim", "--edition", "enterprise"},
                                                                {"sim", "--fail-rate", "1.5"},
                                                                {"sim", "--api-used", "5@25h"},
                                                                {"sim", "--api-used", "x"},
                                                                {"sim", "--new-jobs-every", "0s"},
                                                                {"sim", "--clock-epoch", "soon"}}) {
    Child bad(args, dir_ + "/out", dir_ + "/err");
    EXPECT_EQ(bad.wait(10s), 64) << args[1] << " " << args[2] << ": " << bad.err();
  }
}

}  // namespace
}  // namespace bulkwarden::testing
