// Many orgs per daemon (issue 14): the real binary governs 5, then 50 simulated orgs with the
// same fixed pool of workers. Its thread count (/proc/PID/task) is the same when idle and stays
// under the same bound during the passes whatever the number of orgs, while every org's stuck jobs
// are aborted.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sim/SimServer.h"
#include "support/Child.h"

namespace bulkwarden::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kWorkers = 3;
constexpr int kConcurrency = 2;
constexpr int kStuckPerOrg = 3;

size_t threadsOf(pid_t pid) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = fs::directory_iterator(fmt::format("/proc/{}/task", pid), ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

size_t lines(const fs::path& file, const std::string& needle) {
  std::ifstream in(file);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) n += line.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

void writeFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

struct Governed {
  size_t idleThreads = 0;  // after every org's first pass, nothing due
  size_t maxThreads = 0;   // the most seen while the passes ran
  int orgsFinished = 0;    // orgs whose stuck jobs are all aborted
};

// Starts `n` simulated orgs with kStuckPerOrg stuck query jobs each and a daemon governing them
// all; returns what the daemon's threads did.
Governed govern(int n) {
  char tmpl[] = "/tmp/bw-manyorgs-XXXXXX";
  EXPECT_NE(::mkdtemp(tmpl), nullptr);
  fs::path dir = tmpl;
  std::vector<std::unique_ptr<sim::SimServer>> sims;
  std::vector<std::vector<std::string>> stuck(n);
  std::string orgs;
  for (int i = 0; i < n; ++i) {
    sim::SimOptions o;
    o.seed = 100 + static_cast<uint64_t>(i);
    sims.push_back(std::make_unique<sim::SimServer>(o));
    sims.back()->start();
    for (int k = 0; k < kStuckPerOrg; ++k) {
      sim::JobSeed s;
      s.kind = "query";
      s.state = "InProgress";
      s.age = 2h;
      stuck[i].push_back(sims.back()->org().addJob(s));
    }
    writeFile(dir / fmt::format("token-{}", i), sims.back()->token() + "\n");
    orgs += fmt::format(
        "  - name: org-{}\n    api-version: \"62.0\"\n    instance-url: {}\n"
        "    auth: {{ flow: access-token, access-token: {{ file: token-{} }} }}\n",
        i, sims.back()->baseUrl(), i);
  }
  writeFile(dir / "policies.yaml", R"(policies:
  - name: abort-stuck
    resource: query-jobs
    mode: enforce
    schedule: { every: 1h }
    filters:
      - state: InProgress
      - older-than: { field: createdDate, age: 1h }
    action: abort
)");
  writeFile(dir / "bulkwarden.yaml",
            fmt::format("orgs:\n{}policies: [policies.yaml]\naudit-log: audit.jsonl\n"
                        "state-dir: state\nconcurrency: {}\nworkers: {}\n",
                        orgs, kConcurrency, kWorkers));
  Child daemon({"run", "--config", (dir / "bulkwarden.yaml").string()}, (dir / "out").string(),
               (dir / "err").string());
  Governed g;
  auto finished = [&] {
    int done = 0;
    for (int i = 0; i < n; ++i) {
      std::set<std::string> want(stuck[i].begin(), stuck[i].end());
      int aborted = 0;
      for (const auto& job : sims[i]->org().jobs()) {
        if (want.count(job.id) && job.state == "Aborted") ++aborted;
      }
      done += aborted == kStuckPerOrg ? 1 : 0;
    }
    return done;
  };
  // Every org's pass is over when its run-end is in the trail (one query pass per org).
  auto deadline = std::chrono::steady_clock::now() + 180s;
  while (std::chrono::steady_clock::now() < deadline &&
         lines(dir / "audit.jsonl", "\"type\":\"run-end\"") < static_cast<size_t>(n)) {
    g.maxThreads = std::max(g.maxThreads, threadsOf(daemon.pid()));
    std::this_thread::sleep_for(5ms);
  }
  g.orgsFinished = finished();
  // The passes are over and the next is an hour away: what is left is the idle daemon.
  g.idleThreads = threadsOf(daemon.pid());
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(30s), 0) << daemon.err();
  for (auto& s : sims) s->stop();
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
  return g;
}

TEST(ManyOrgs, ThreadsDoNotGrowWithTheNumberOfOrgs) {
  Governed five = govern(5);
  Governed fifty = govern(50);
  EXPECT_EQ(five.orgsFinished, 5);
  EXPECT_EQ(fifty.orgsFinished, 50) << "some orgs' stuck jobs were not aborted";
  EXPECT_GT(five.idleThreads, 0u);
  EXPECT_EQ(fifty.idleThreads, five.idleThreads) << "idle threads grew with the number of orgs";
  // A pass adds at most its action workers, the intent flusher and the listing prefetch.
  const size_t bound = five.idleThreads + kWorkers * (kConcurrency + 2);
  EXPECT_LE(fifty.maxThreads, bound) << "threads during the passes of 50 orgs";
  EXPECT_LE(five.maxThreads, bound);
  EXPECT_LT(fifty.maxThreads, 50u) << "a thread per org";
  std::printf("threads: 5 orgs idle %zu peak %zu; 50 orgs idle %zu peak %zu (bound %zu)\n",
              five.idleThreads, five.maxThreads, fifty.idleThreads, fifty.maxThreads, bound);
}

}  // namespace
}  // namespace bulkwarden::testing
