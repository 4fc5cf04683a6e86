// Cluster mode (docs/scaling.md) against a real PostgreSQL started by the test (PgServer), real
// daemons (the binary) and eight simulated orgs: orgs spread over the nodes, each governed by one
// node at a time; a node killed with SIGKILL mid-pass loses nothing and doubles nothing; a node
// cut off from the database stops acting before its lease can expire; a node whose wall clock is
// stepped (libfaketime) moves no lease.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <fstream>

#include "AuditRecords.h"
#include "Eventually.h"
#include "audit/AuditLog.h"
#include "cluster/LeaseManager.h"
#include "cluster/PgAudit.h"
#include "cluster/Schema.h"
#include "sim/SimServer.h"
#include "support/Child.h"
#include "support/PgServer.h"
#include "support/TcpProxy.h"

namespace bulkwarden::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

constexpr int kOrgs = 8;

constexpr const char* kAbortStuck = R"(policies:
  - name: abort-stuck
    resource: query-jobs
    mode: enforce
    schedule: { every: 1s }
    filters:
      - state: [InProgress]
      - older-than: { field: createdDate, age: 30m }
    action: abort
)";

std::string nowTs() {
  return model::formatRfc3339(
      std::chrono::time_point_cast<model::Timestamp::duration>(std::chrono::system_clock::now()));
}

template <class Done>
bool waitFor(Done done, std::chrono::milliseconds timeout = 20s) {
  return bulkwarden::testing::eventually(done, timeout);
}

class Cluster : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-cluster-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    pg_ = std::make_unique<PgServer>();
    for (int i = 0; i < kOrgs; ++i) {
      sim::SimOptions o;
      o.seed = static_cast<uint64_t>(i + 1);
      o.latency = latency_;
      sims_.push_back(std::make_unique<sim::SimServer>(o));
      sims_.back()->start();
      writeFile(dir_ / ("token-" + std::to_string(i + 1)), sims_.back()->token() + "\n");
    }
    writeFile(dir_ / "policies.yaml", kAbortStuck);
  }
  void TearDown() override {
    for (auto& [_, c] : nodes_) {
      c->signal(SIGKILL);
      c->wait(10s);
    }
    for (auto& s : sims_) s->stop();
    if (HasFailure()) {
      for (const auto& n : {"node-a", "node-b", "node-c"}) {
        std::ifstream in(dir_ / n / "err");
        std::cerr << "---- " << n << " stderr (tail)\n";
        std::string all((std::istreambuf_iterator<char>(in)), {});
        std::cerr << (all.size() > 6000 ? all.substr(all.size() - 6000) : all) << "\n";
      }
    } else {
      fs::remove_all(dir_);
    }
  }

  static void writeFile(const fs::path& path, const std::string& text) {
    std::ofstream(path) << text;
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  }

  // The config of `node`: the same for every node but for `node:` (and the port, when a proxy
  // stands between this node and the database).
  std::string config(const std::string& node, int pgPort = 0, const std::string& extra = "") {
    fs::create_directories(dir_ / node);
    std::string c = "orgs:\n";
    for (int i = 0; i < kOrgs; ++i) {
      c += "  - name: org-" + std::to_string(i + 1) + "\n    api-version: \"62.0\"\n" +
           "    instance-url: " + sims_[i]->baseUrl() + "\n" +
           "    auth: { flow: access-token, access-token: { file: " +
           (dir_ / ("token-" + std::to_string(i + 1))).string() + " } }\n";
    }
    c += "policies: [" + (dir_ / "policies.yaml").string() + "]\n";
    c += "audit-log: audit.jsonl\nstate-dir: state\nconcurrency: 4\n" + extra;
    c += "cluster:\n  postgres: { conninfo: \"" + pg_->conninfo(pgPort) + "\" }\n";
    c += "  node: " + node + "\n  lease: 2s\n";
    auto path = dir_ / node / "bulkwarden.yaml";
    writeFile(path, c);
    return path.string();
  }

  Child& startNode(const std::string& node, int pgPort = 0, const std::string& extra = "",
                   const std::vector<std::string>& env = {}) {
    auto cfg = config(node, pgPort, extra);
    auto child = std::make_unique<Child>(
        std::vector<std::string>{"run", "--config", cfg, "--log-level", "debug"},
        (dir_ / node / "out").string(), (dir_ / node / "err").string(), env);
    auto& ref = *child;
    nodes_[node] = std::move(child);
    return ref;
  }

  int held(const std::string& node) const {
    // Quiet: the first node creates the tables.
    auto r = pg_->query(
        "SELECT count(*) FROM bw_leases WHERE holder = '" + node + "' AND expires_at > now()",
        true);
    return r.empty() ? -1 : std::stoi(r[0]);
  }
  int64_t count(const std::string& sql) const {
    auto r = pg_->query(sql);
    return r.empty() ? -1 : std::stoll(r[0]);
  }

  // `n` stuck query jobs (InProgress, two hours old) in every org; ids per org.
  std::vector<std::vector<std::string>> addStuck(int n) {
    std::vector<std::vector<std::string>> ids(kOrgs);
    for (int i = 0; i < kOrgs; ++i) {
      for (int k = 0; k < n; ++k) {
        sim::JobSeed s;
        s.state = "InProgress";
        s.age = 2h;
        ids[static_cast<size_t>(i)].push_back(sims_[static_cast<size_t>(i)]->org().addJob(s));
      }
    }
    return ids;
  }
  bool allAborted(const std::vector<std::vector<std::string>>& ids) const {
    for (size_t i = 0; i < ids.size(); ++i) {
      for (const auto& id : ids[i]) {
        if (sims_[i]->org().state(id) != "Aborted") return false;
      }
    }
    return true;
  }
  void expectNoJobActedOnTwice(const std::vector<std::vector<std::string>>& ids) const {
    for (size_t i = 0; i < ids.size(); ++i) {
      for (const auto& id : ids[i]) {
        EXPECT_LE(sims_[i]->org().appliedActions(id), 1) << "org-" << i + 1 << " job " << id;
      }
    }
  }
  // Runs the binary to completion; returns the exit code, the output in `out`.
  int runCli(const std::vector<std::string>& args, std::string& out) {
    static int runs = 0;
    ++runs;
    auto o = (dir_ / ("cli-out" + std::to_string(runs))).string();
    Child c(args, o, (dir_ / ("cli-err" + std::to_string(runs))).string());
    int rc = c.wait(60s);
    out = c.out() + c.err();
    return rc;
  }
  // Local trail records of `type` at or after `since` (RFC 3339 text compares in time order).
  static int localRecords(const fs::path& file, const std::string& type, const std::string& since,
                          const std::string& until = "9999") {
    int n = 0;
    for (const auto& r : auditRecords(file.string(), recordType(type))) {
      if (r.ts >= since && r.ts < until) ++n;
    }
    return n;
  }

  fs::path dir_;
  std::chrono::milliseconds latency_{0};
  std::unique_ptr<PgServer> pg_;
  std::vector<std::unique_ptr<sim::SimServer>> sims_;
  std::map<std::string, std::unique_ptr<Child>> nodes_;
};

// The fence itself, in process: an intent is refused (AuditError, nothing sent) unless this node
// holds the org's lease with its epoch in the database at the commit, even while its own view
// says it still holds it.
TEST_F(Cluster, TheFenceRefusesAnIntentOnceAnotherNodeTookTheLease) {
  std::string ci = pg_->conninfo();
  {
    cluster::PgConnection db(ci, "", 5s);
    cluster::ensureSchema(db);
  }
  cluster::LeaseManager leases(ci, "", cluster::LeaseOptions{"node-x", 10s, {"org-1"}});
  leases.prepare();
  cluster::PgAuditSink sink(ci, "", leases);
  audit::Fields f;
  f.add("org", "org-1").add("policy", "p").add("action", "abort").add("mode", "enforce");
  f.add("job", audit::Fields().add("id", "750R0000000zlh9IAA").add("kind", "query"));
  // Not held yet: refused before the database is asked.
  EXPECT_THROW(sink.appendAs("intent", "run-1", f, 1), audit::AuditError);
  leases.start();
  ASSERT_TRUE(waitFor([&] { return leases.epoch("org-1").has_value(); }));
  EXPECT_EQ(sink.appendAs("intent", "run-1", f, 1), 1u);
  // Another node takes the row (as if this node had stalled past its lease); this node's own
  // view has not yet noticed: the database refuses the intent.
  pg_->query("UPDATE bw_leases SET holder = 'node-y', epoch = epoch + 1 WHERE org = 'org-1'");
  ASSERT_TRUE(leases.epoch("org-1").has_value());
  try {
    sink.appendAs("intent", "run-1", f, 2);
    ADD_FAILURE() << "the fence let an intent through";
  } catch (const audit::AuditError& e) {
    EXPECT_NE(std::string(e.what()).find("fence refused"), std::string::npos) << e.what();
  }
  EXPECT_EQ(count("SELECT count(*) FROM bw_audit WHERE type = 'intent'"), 1);
  // At its next renewal it learns the lease is gone and stops acting on the org at all.
  ASSERT_TRUE(waitFor([&] { return !leases.epoch("org-1").has_value(); }, 10s));
  leases.stop();
}

TEST_F(Cluster, TwoNodesShareEightOrgsEachGovernedByOneNode) {
  auto& a = startNode("node-a");
  ASSERT_TRUE(waitFor([&] { return held("node-a") == kOrgs; }));
  auto& b = startNode("node-b");
  // Fair shares: four each.
  ASSERT_TRUE(waitFor([&] { return held("node-a") == 4 && held("node-b") == 4; }))
      << held("node-a") << " " << held("node-b");
  auto ids = addStuck(5);
  ASSERT_TRUE(waitFor([&] { return allAborted(ids); }, 30s));
  expectNoJobActedOnTwice(ids);
  // Every org's intents came from one node; both nodes acted.
  EXPECT_EQ(count("SELECT count(*) FROM (SELECT org FROM bw_audit WHERE type = 'intent' GROUP "
                  "BY org HAVING count(DISTINCT node) > 1) x"),
            0);
  EXPECT_EQ(count("SELECT count(DISTINCT node) FROM bw_audit WHERE type = 'intent'"), 2);
  EXPECT_EQ(count("SELECT count(DISTINCT org) FROM bw_audit WHERE type = 'intent'"), kOrgs);
  EXPECT_EQ(count("SELECT count(*) FROM bw_audit WHERE type = 'intent'"), kOrgs * 5);
  a.signal(SIGTERM);
  b.signal(SIGTERM);
  EXPECT_EQ(a.wait(20s), 0);
  EXPECT_EQ(b.wait(20s), 0);
  // The auditor's view: one place, every node.
  std::string out;
  EXPECT_EQ(
      runCli({"audit", "verify", "--config", (dir_ / "node-a" / "bulkwarden.yaml").string()}, out),
      0)
      << out;
  EXPECT_NE(out.find("postgresql audit trail: OK"), std::string::npos) << out;
  EXPECT_NE(out.find("; 0 open intent(s)"), std::string::npos) << out;
  EXPECT_EQ(runCli({"audit", "show", "--config", (dir_ / "node-b" / "bulkwarden.yaml").string(),
                    "--format", "json"},
                   out),
            0)
      << out;
  EXPECT_NE(out.find("\"node\":\"node-a\""), std::string::npos);
  EXPECT_NE(out.find("\"node\":\"node-b\""), std::string::npos);
  // Each node's local file is a whole, valid trail of its own.
  for (const auto& n : {"node-a", "node-b"}) {
    auto report = audit::verifyFiles({(dir_ / n / "audit.jsonl").string()});
    EXPECT_TRUE(report.ok) << n << ": " << report.problem;
  }
  // A record altered in the database is found.
  pg_->query(
      "UPDATE bw_audit SET record = replace(record, '\"abort\"', '\"delete\"') "
      "WHERE org = 'org-3' AND seq = (SELECT min(seq) FROM bw_audit WHERE org = 'org-3' "
      "AND type = 'intent')");
  EXPECT_EQ(
      runCli({"audit", "verify", "--config", (dir_ / "node-a" / "bulkwarden.yaml").string()}, out),
      65)
      << out;
  EXPECT_NE(out.find("org 'org-3' seq"), std::string::npos) << out;
  EXPECT_NE(out.find("altered"), std::string::npos) << out;
}

class ClusterSlowOrg : public Cluster {
 protected:
  ClusterSlowOrg() { latency_ = 150ms; }
};

TEST_F(ClusterSlowOrg, ANodeKilledMidPassHasItsOrgsTakenOverAndNothingDoubled) {
  startNode("node-a");
  ASSERT_TRUE(waitFor([&] { return held("node-a") == kOrgs; }));
  startNode("node-b");
  ASSERT_TRUE(waitFor([&] { return held("node-a") == 4 && held("node-b") == 4; }));
  auto ids = addStuck(30);
  // Mid-pass: node-b has announced some of its actions, not all.
  ASSERT_TRUE(waitFor([&] {
    return count("SELECT count(*) FROM bw_audit WHERE node = 'node-b' AND type = 'intent'") >= 6;
  }));
  nodes_["node-b"]->signal(SIGKILL);
  auto killed = Steady::now();
  nodes_["node-b"]->wait(10s);
  ASSERT_TRUE(waitFor([&] { return held("node-a") == kOrgs; }, 10s));
  auto failover = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - killed);
  std::cout << "failover after SIGKILL: " << failover.count() << " ms (lease 2s)\n";
  // The lease (2 s) plus a renewal period (lease/3) and the time to notice.
  EXPECT_LT(failover, 3500ms);
  ASSERT_TRUE(waitFor([&] { return allAborted(ids); }, 60s));
  expectNoJobActedOnTwice(ids);
  // Every intent settled: by its own result, or by node-a's GET for those node-b left open.
  ASSERT_TRUE(waitFor([&] {
    return count(
               "SELECT count(*) FROM bw_audit i WHERE i.type = 'intent' AND NOT EXISTS "
               "(SELECT 1 FROM bw_audit r WHERE r.org = i.org AND r.type = 'result' AND "
               "r.intent_node = i.node AND r.intent_seq = i.file_seq AND r.seq > i.seq)") == 0;
  }));
  std::cout << "intents of node-b settled by node-a: "
            << count(
                   "SELECT count(*) FROM bw_audit WHERE node = 'node-a' AND "
                   "intent_node = 'node-b'")
            << "\n";
  std::string out;
  EXPECT_EQ(
      runCli({"audit", "verify", "--config", (dir_ / "node-a" / "bulkwarden.yaml").string()}, out),
      0)
      << out;
}

TEST_F(Cluster, ANodeCutOffFromTheDatabaseStopsActingAndTheOtherTakesOver) {
  startNode("node-a");
  ASSERT_TRUE(waitFor([&] { return held("node-a") == kOrgs; }));
  TcpProxy proxy(pg_->port());
  startNode("node-b", proxy.port());
  ASSERT_TRUE(waitFor([&] { return held("node-a") == 4 && held("node-b") == 4; }));
  proxy.cut();
  auto cut = Steady::now();
  std::string cutTs = model::formatRfc3339(
      std::chrono::time_point_cast<model::Timestamp::duration>(std::chrono::system_clock::now()));
  ASSERT_TRUE(waitFor([&] { return held("node-a") == kOrgs; }, 10s));
  std::cout << "takeover after the cut: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - cut).count()
            << " ms (lease 2s)\n";
  auto ids = addStuck(5);
  ASSERT_TRUE(waitFor([&] { return allAborted(ids); }, 30s));
  expectNoJobActedOnTwice(ids);
  // node-b wrote no intent after the cut (each needs a fenced commit first), and said why.
  EXPECT_EQ(localRecords(dir_ / "node-b" / "audit.jsonl", "intent", cutTs), 0);
  EXPECT_EQ(count("SELECT count(*) FROM bw_audit WHERE node = 'node-b' AND type = 'intent'"), 0);
  ASSERT_TRUE(waitFor([&] {
    std::ifstream in(dir_ / "node-b" / "err");
    std::string all((std::istreambuf_iterator<char>(in)), {});
    return all.find("lease renewal failed") != std::string::npos;
  }));
  EXPECT_EQ(count("SELECT count(DISTINCT node) FROM bw_audit WHERE type = 'intent'"), 1);
}

TEST_F(Cluster, ThreeNodesShareEightOrgsThreeThreeTwo) {
  startNode("node-a");
  ASSERT_TRUE(waitFor([&] { return held("node-a") == kOrgs; }));
  startNode("node-b");
  startNode("node-c");
  ASSERT_TRUE(waitFor([&] {
    int a = held("node-a"), b = held("node-b"), c = held("node-c");
    return a + b + c == kOrgs && a <= 3 && b <= 3 && c <= 3;
  })) << held("node-a")
      << " " << held("node-b") << " " << held("node-c");
  auto ids = addStuck(5);
  ASSERT_TRUE(waitFor([&] { return allAborted(ids); }, 30s));
  expectNoJobActedOnTwice(ids);
  EXPECT_EQ(count("SELECT count(*) FROM (SELECT org FROM bw_audit WHERE type = 'intent' GROUP "
                  "BY org HAVING count(DISTINCT node) > 1) x"),
            0);
  EXPECT_EQ(count("SELECT count(DISTINCT node) FROM bw_audit WHERE type = 'intent'"), 3);
  EXPECT_EQ(count("SELECT count(*) FROM bw_audit WHERE type = 'intent'"), kOrgs * 5);
}

// A wall-clock step on one node (an NTP step, an operator's `date -s`) mid-run: node-b runs
// under libfaketime, whose offset the test rewrites while node-b acts: first 10 minutes ahead,
// then 10 minutes behind the real time (a 20-minute step back). CLOCK_MONOTONIC is left alone, as
// a real step leaves it. Leases are judged by the database's now() and requests by the monotonic
// clock, so no lease moves: the holders and epochs of the 4/4 split never change, every job is
// aborted once, every intent is settled. node-b's records carry its stepped clock (the proof that
// the step reached the daemon).
TEST_F(ClusterSlowOrg, AWallClockStepOnOneNodeMovesNoLeaseAndDoublesNothing) {
  const std::string lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
  ASSERT_TRUE(fs::exists(lib)) << lib << " is missing: scripts/deps.sh installs libfaketime";
  auto offset = dir_ / "faketime-offset";
  auto setOffset = [&](const std::string& o) {
    // Written whole and renamed, so node-b never reads half a line.
    std::ofstream(dir_ / "faketime-offset.new") << o << "\n";
    fs::rename(dir_ / "faketime-offset.new", offset);
  };
  setOffset("+0");
  const char* asan = std::getenv("ASAN_OPTIONS");
  std::vector<std::string> env{
      "LD_PRELOAD=" + lib, "FAKETIME_TIMESTAMP_FILE=" + offset.string(), "FAKETIME_NO_CACHE=1",
      "FAKETIME_DONT_FAKE_MONOTONIC=1",
      // An ASan build wants its runtime first in the library list; the preload comes first.
      std::string("ASAN_OPTIONS=") + (asan != nullptr ? std::string(asan) + ":" : "") +
          "verify_asan_link_order=0"};
  startNode("node-a");
  ASSERT_TRUE(waitFor([&] { return held("node-a") == kOrgs; }));
  startNode("node-b", 0, "", env);
  ASSERT_TRUE(waitFor([&] { return held("node-a") == 4 && held("node-b") == 4; }));
  const std::string leasesSql =
      "SELECT string_agg(org || ':' || holder || ':' || epoch, ',' ORDER BY org) FROM bw_leases";
  auto leases = pg_->query(leasesSql);
  ASSERT_EQ(leases.size(), 1u);
  // node-b's records stamped at least 5 minutes away from the database's clock.
  auto skewed = [&](const std::string& cmp, const std::string& when) {
    return count(
        "SELECT count(*) FROM bw_audit WHERE node = 'node-b' AND type = 'intent' AND "
        "ts::timestamptz " +
        cmp + " now() " + when + " interval '5 minutes'");
  };
  auto ids = addStuck(30);
  ASSERT_TRUE(waitFor([&] {
    return count("SELECT count(*) FROM bw_audit WHERE node = 'node-b' AND type = 'intent'") >= 6;
  }));
  EXPECT_EQ(skewed(">", "+"), 0);
  setOffset("+600");
  // The step forward reached node-b mid-pass: its next intents are stamped 10 minutes ahead.
  ASSERT_TRUE(waitFor([&] { return skewed(">", "+") >= 6; }, 30s)) << skewed(">", "+");
  setOffset("-600");
  auto more = addStuck(5);
  ASSERT_TRUE(waitFor([&] { return skewed("<", "-") >= 6; }, 30s)) << skewed("<", "-");
  ASSERT_TRUE(waitFor([&] { return allAborted(ids) && allAborted(more); }, 60s));
  expectNoJobActedOnTwice(ids);
  expectNoJobActedOnTwice(more);
  ASSERT_TRUE(waitFor([&] {
    return count(
               "SELECT count(*) FROM bw_audit i WHERE i.type = 'intent' AND NOT EXISTS "
               "(SELECT 1 FROM bw_audit r WHERE r.org = i.org AND r.type = 'result' AND "
               "r.intent_node = i.node AND r.intent_seq = i.file_seq AND r.seq > i.seq)") == 0;
  }));
  // No lease moved: the same holder and epoch for every org (an epoch only grows when a lease
  // changes hands), and both nodes still hold their four.
  EXPECT_EQ(pg_->query(leasesSql), leases);
  EXPECT_EQ(held("node-a"), 4);
  EXPECT_EQ(held("node-b"), 4);
  // Each org governed by one node; each job announced once and applied once across the trails.
  EXPECT_EQ(count("SELECT count(*) FROM (SELECT org FROM bw_audit WHERE type = 'intent' GROUP "
                  "BY org HAVING count(DISTINCT node) > 1) x"),
            0);
  EXPECT_EQ(count("SELECT count(*) FROM bw_audit WHERE type = 'intent'"), kOrgs * 35);
  EXPECT_EQ(count("SELECT count(*) FROM (SELECT org, record::json -> 'job' ->> 'id' FROM bw_audit "
                  "WHERE type = 'result' AND record::json ->> 'outcome' = 'applied' GROUP BY 1, "
                  "2 HAVING count(*) > 1) x"),
            0);
  EXPECT_EQ(count("SELECT count(*) FROM bw_audit WHERE type = 'result' AND record::json ->> "
                  "'outcome' = 'applied'"),
            kOrgs * 35);
  nodes_["node-a"]->signal(SIGTERM);
  nodes_["node-b"]->signal(SIGTERM);
  EXPECT_EQ(nodes_["node-a"]->wait(20s), 0);
  EXPECT_EQ(nodes_["node-b"]->wait(20s), 0);
  std::string out;
  EXPECT_EQ(
      runCli({"audit", "verify", "--config", (dir_ / "node-a" / "bulkwarden.yaml").string()}, out),
      0)
      << out;
  EXPECT_NE(out.find("; 0 open intent(s)"), std::string::npos) << out;
  for (const auto& n : {"node-a", "node-b"}) {
    auto report = audit::verifyFiles({(dir_ / n / "audit.jsonl").string()});
    EXPECT_TRUE(report.ok) << n << ": " << report.problem;
  }
}

// PostgreSQL restarted while both nodes act: no action goes out while it is down (no intent can
// be committed), the leases are taken again afterwards, and every job is still acted on once.
TEST_F(ClusterSlowOrg, PostgresRestartedUnderLoadLosesNothingAndDoublesNothing) {
  startNode("node-a");
  ASSERT_TRUE(waitFor([&] { return held("node-a") == kOrgs; }));
  startNode("node-b");
  ASSERT_TRUE(waitFor([&] { return held("node-a") == 4 && held("node-b") == 4; }));
  auto ids = addStuck(30);
  ASSERT_TRUE(
      waitFor([&] { return count("SELECT count(*) FROM bw_audit WHERE type = 'intent'") >= 20; }));
  auto logged = [&](const std::string& node, size_t from) {
    std::ifstream in(dir_ / node / "err");
    std::string all((std::istreambuf_iterator<char>(in)), {});
    return all.size() > from && all.find("lease renewal failed", from) != std::string::npos;
  };
  auto size = [&](const std::string& node) { return fs::file_size(dir_ / node / "err"); };
  auto fromA = size("node-a"), fromB = size("node-b");
  pg_->stop();
  std::string down = nowTs();
  // The outage lasts until both nodes have failed to renew twice (an event, not a sleep).
  ASSERT_TRUE(waitFor([&] { return logged("node-a", fromA) && logged("node-b", fromB); }));
  fromA = size("node-a");
  fromB = size("node-b");
  ASSERT_TRUE(waitFor([&] { return logged("node-a", fromA) && logged("node-b", fromB); }));
  std::string up = nowTs();
  pg_->start();
  // Nothing was announced, so nothing was sent, while the database was down.
  for (const auto& n : {"node-a", "node-b"}) {
    EXPECT_EQ(localRecords(dir_ / n / "audit.jsonl", "intent", down, up), 0) << n;
  }
  ASSERT_TRUE(waitFor([&] { return held("node-a") + held("node-b") == kOrgs; }));
  ASSERT_TRUE(waitFor([&] { return allAborted(ids); }, 60s));
  expectNoJobActedOnTwice(ids);
  ASSERT_TRUE(waitFor([&] {
    return count(
               "SELECT count(*) FROM bw_audit i WHERE i.type = 'intent' AND NOT EXISTS "
               "(SELECT 1 FROM bw_audit r WHERE r.org = i.org AND r.type = 'result' AND "
               "r.intent_node = i.node AND r.intent_seq = i.file_seq AND r.seq > i.seq)") == 0;
  }));
  std::string out;
  EXPECT_EQ(
      runCli({"audit", "verify", "--config", (dir_ / "node-a" / "bulkwarden.yaml").string()}, out),
      0)
      << out;
}

// One pass takes no lease: `run --once` refuses a cluster config (it would act on orgs another
// node governs) unless it only rehearses.
TEST_F(Cluster, RunOnceRefusesAClusterConfigUnlessDryRun) {
  auto ids = addStuck(1);
  auto cfg = config("node-a");
  std::string out;
  EXPECT_EQ(runCli({"run", "--once", "--config", cfg}, out), 78) << out;
  EXPECT_NE(out.find("takes no cluster lease"), std::string::npos) << out;
  EXPECT_EQ(sims_[0]->org().counters().requests, 0);
  EXPECT_EQ(runCli({"run", "--once", "--dry-run", "--config", cfg}, out), 0) << out;
  EXPECT_EQ(sims_[0]->org().state(ids[0][0]), "InProgress");
}

// The table is outside input to `audit verify`: rows that are not records, or that lie about
// their seq or org, are reported (exit 65), never crash it.
TEST_F(Cluster, VerifyReportsHostileRowsInTheTable) {
  std::string ci = pg_->conninfo();
  cluster::PgConnection db(ci, "", 5s);
  cluster::ensureSchema(db);
  cluster::LeaseManager leases(ci, "", cluster::LeaseOptions{"node-x", 10s, {"org-1"}});
  cluster::PgAuditSink sink(ci, "", leases);
  audit::Fields f;
  f.add("org", "org-1").add("note", "ok");
  sink.appendAs("decision", "run-1", f, 1);
  sink.appendAs("decision", "run-1", f, 2);
  EXPECT_TRUE(cluster::verifyTrail(db).ok);
  auto tamper = [&](const std::string& record) {
    db.exec("UPDATE bw_audit SET record = $1 WHERE org = 'org-1' AND seq = 2", {record});
    return cluster::verifyTrail(db);
  };
  for (const std::string& bad :
       {std::string("not json at all"), std::string(""), std::string("{\"hash\":\"x\"}"),
        std::string(5000, '{'),
        std::string("{\"seq\":\"two\"") + ",\"hash\":\"" + std::string(64, 'a') + "\"}"}) {
    auto c = tamper(bad);
    EXPECT_FALSE(c.ok) << bad.substr(0, 40);
    EXPECT_NE(c.problem.find("org 'org-1' seq 2"), std::string::npos) << c.problem;
  }
  // A row deleted from the middle, and a cut tail, are found too.
  db.exec("DELETE FROM bw_audit WHERE org = 'org-1' AND seq = 2");
  auto cut = cluster::verifyTrail(db);
  EXPECT_FALSE(cut.ok);
  EXPECT_NE(cut.problem.find("cut"), std::string::npos) << cut.problem;
}

}  // namespace
}  // namespace bulkwarden::testing
