// Cluster mode (docs/scaling.md) against a real PostgreSQL started by the test (PgServer), real
// daemons (the binary) and eight simulated orgs: orgs spread over the nodes, each governed by one
// node at a time; a node killed with SIGKILL mid-pass loses nothing and doubles nothing; a node
// cut off from the database stops acting before its lease can expire; a node whose wall clock is
// stepped (libfaketime) moves no lease.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

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
      o.oauth.clientSecret = "cluster-client-secret";
      sims_.push_back(std::make_unique<sim::SimServer>(o));
      sims_.back()->start();
      writeFile(dir_ / ("token-" + std::to_string(i + 1)), sims_.back()->token() + "\n");
    }
    writeFile(dir_ / "client-secret", "cluster-client-secret\n");
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
           (clientCredentials_.count(node) != 0
                ? "    auth: { flow: client-credentials, client-id: " +
                      sim::SimOAuthOptions().clientId +
                      ", client-secret: { file: " + (dir_ / "client-secret").string() + " } }\n"
                : "    auth: { flow: access-token, access-token: { file: " +
                      (dir_ / ("token-" + std::to_string(i + 1))).string() + " } }\n");
    }
    c += "policies: [" + (dir_ / "policies.yaml").string() + "]\n";
    c += "audit-log: audit.jsonl\nstate-dir: state\nconcurrency: 4\n" + extra;
    std::string conninfo = pg_->conninfo(pgPort);
    if (!dbUser_.empty()) {
      conninfo.replace(conninfo.find("user=bulkwarden"), 15, "user=" + dbUser_);
    }
    c += "cluster:\n  postgres: { conninfo: \"" + conninfo + "\" }\n";
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
  // The fields of an intent to abort query job `job` of org-1.
  static audit::Fields intent(const std::string& job) {
    audit::Fields f;
    f.add("org", "org-1").add("policy", "p").add("action", "abort").add("mode", "enforce");
    f.add("job", audit::Fields().add("id", job).add("kind", "query"));
    return f;
  }
  // From failCommits() to letCommitsThrough(), every COMMIT of a row in the audit table fails (a
  // deferred constraint trigger raises at commit time): a commit the client must take as in doubt.
  void failCommits() {
    pg_->query(
        "CREATE OR REPLACE FUNCTION bw_test_fail() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the commit fails'; END $$");
    pg_->query(
        "CREATE CONSTRAINT TRIGGER bw_test_fail AFTER INSERT ON bw_audit DEFERRABLE INITIALLY "
        "DEFERRED FOR EACH ROW EXECUTE FUNCTION bw_test_fail()");
  }
  void letCommitsThrough() { pg_->query("DROP TRIGGER bw_test_fail ON bw_audit"); }
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
  std::string dbUser_;  // the role config() connects as; empty: the server's superuser
  // Nodes whose configs use the client-credentials flow (their own tokens, told apart from the
  // configured access token by the sims' request hooks); the others use the access token.
  std::set<std::string> clientCredentials_;
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

// The fence judges the lease when the intent is inserted, by clock_timestamp(), not by now()
// (the time its transaction began): a transaction that waited for the org's chain head (another
// append held it) must not commit an intent on a lease that has less than the margin left by
// then. Here the lease is set to end 1 ms after "the transaction's start + margin" while the
// append waits for the lock: enough by now(), too little by the time of the insert.
TEST_F(Cluster, TheFenceJudgesTheLeaseAtTheInsertNotAtTheTransactionStart) {
  std::string ci = pg_->conninfo();
  {
    cluster::PgConnection db(ci, "", 5s);
    cluster::ensureSchema(db);
  }
  // A long lease: no renewal comes between the steps below (they take milliseconds).
  cluster::LeaseManager leases(ci, "", cluster::LeaseOptions{"node-x", 60s, {"org-1"}});
  leases.prepare();
  cluster::PgAuditSink sink(ci, "", leases);
  leases.start();
  ASSERT_TRUE(waitFor([&] { return leases.epoch("org-1").has_value(); }));
  audit::Fields note;
  note.add("org", "org-1").add("note", "the chain head exists");
  sink.appendAs("decision", "run-1", note, 1);
  audit::Fields f;
  f.add("org", "org-1").add("policy", "p").add("action", "abort").add("mode", "enforce");
  f.add("job", audit::Fields().add("id", "750R0000000zlh9IAA").add("kind", "query"));
  cluster::PgConnection blocker(ci, "", 10s);
  blocker.exec("BEGIN");
  blocker.exec("SELECT seq FROM bw_audit_head WHERE org = 'org-1' FOR UPDATE");
  std::string refused;
  bool inserted = false;
  std::thread append([&] {
    try {
      sink.appendAs("intent", "run-1", f, 2);
      inserted = true;
    } catch (const audit::AuditError& e) {
      refused = e.what();
    }
  });
  const std::string waiting =
      "FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE "
      "'%bw_audit_head%FOR UPDATE%' AND pid <> pg_backend_pid()";
  ASSERT_TRUE(waitFor([&] { return count("SELECT count(*) " + waiting) == 1; }));
  blocker.exec("UPDATE bw_leases SET expires_at = (SELECT xact_start " + waiting +
               ") + interval '30 seconds' + interval '1 millisecond' WHERE org = 'org-1'");
  blocker.exec("COMMIT");
  append.join();
  EXPECT_FALSE(inserted) << "the fence took the lease's time left at the transaction's start";
  EXPECT_NE(refused.find("fence refused"), std::string::npos) << refused;
  EXPECT_EQ(count("SELECT count(*) FROM bw_audit WHERE type = 'intent'"), 0);
  leases.stop();
}

// An intent whose commit is in doubt (its COMMIT failed, or its reply was lost when PostgreSQL
// restarted: the client cannot tell the two apart) may be committed, yet its request is never
// sent. The node keeps the org, so no takeover would settle it: the org's open intents, this
// node's own included, are settled again (by GET) before its next pass. The test stands for the
// committed-but-unacknowledged intent by one appended normally and left open, then makes the next
// intent's COMMIT fail (a deferred constraint trigger raises at commit time).
TEST_F(Cluster, AnIntentWhoseCommitIsInDoubtIsSettledBeforeTheOrgsNextPass) {
  std::string ci = pg_->conninfo();
  {
    cluster::PgConnection db(ci, "", 5s);
    cluster::ensureSchema(db);
  }
  cluster::LeaseManager leases(ci, "", cluster::LeaseOptions{"node-x", 10s, {"org-1"}});
  leases.prepare();
  cluster::PgAuditSink sink(ci, "", leases);
  std::vector<std::vector<cluster::PgAuditSink::Open>> settled;
  leases.setSettle([&](const std::string& org) {
    settled.push_back(sink.openIntents(org));
    return true;
  });
  leases.start();
  ASSERT_TRUE(waitFor([&] { return leases.epoch("org-1").has_value(); }));
  EXPECT_EQ(leases.refuse("org-1"), std::nullopt);
  EXPECT_EQ(leases.refuse("org-1"), std::nullopt);
  ASSERT_EQ(settled.size(), 1u);  // once, when taken
  sink.appendAs("intent", "run-1", intent("750R0000000zlh9IAA"), 1);
  failCommits();
  EXPECT_THROW(sink.appendAs("intent", "run-1", intent("750R0000000zlhAIAQ"), 2),
               audit::AuditError);
  letCommitsThrough();
  // The next pass of the org settles first: the intent left open is this node's own.
  EXPECT_EQ(leases.refuse("org-1"), std::nullopt);
  ASSERT_EQ(settled.size(), 2u);
  ASSERT_EQ(settled[1].size(), 1u);
  EXPECT_EQ(settled[1][0].node, "node-x");
  EXPECT_EQ(settled[1][0].intent.jobId, "750R0000000zlh9IAA");
  EXPECT_EQ(leases.refuse("org-1"), std::nullopt);
  EXPECT_EQ(settled.size(), 2u);
  leases.stop();
}

// Results are matched to intents by the node and the local file's seq (`file_seq`). An intent
// whose shared commit is in doubt may be in the table under its seq, so the local trail takes
// that seq for the same intent, with a `not-sent` result: the node's next intent gets a new
// number, and no result of another job can be taken for this one's.
TEST_F(Cluster, AnIntentInDoubtKeepsItsSeqInTheLocalTrailWithANotSentResult) {
  std::string ci = pg_->conninfo();
  {
    cluster::PgConnection db(ci, "", 5s);
    cluster::ensureSchema(db);
  }
  cluster::LeaseManager leases(ci, "", cluster::LeaseOptions{"node-x", 10s, {"org-1"}});
  leases.prepare();
  cluster::PgAuditSink shared(ci, "", leases);
  leases.setSettle([](const std::string&) { return true; });
  leases.start();
  ASSERT_TRUE(waitFor([&] { return leases.epoch("org-1").has_value(); }));
  const auto file = (dir_ / "tee-audit.jsonl").string();
  audit::AuditLog local(file);
  cluster::TeeSink tee(local, shared, [&local] { return local.lastSeq(); });
  failCommits();
  EXPECT_THROW(
      tee.append("intent", "run-1", intent("750R0000000zlh9IAA"), audit::AuditSink::Sync::Durable),
      cluster::CommitInDoubt);
  letCommitsThrough();
  const uint64_t next =
      tee.append("intent", "run-1", intent("750R0000000zlhAIAQ"), audit::AuditSink::Sync::Durable);
  local.sync();
  auto records = auditObjects(file);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0]->getValue<std::string>("type"), "intent");
  EXPECT_EQ(records[1]->getValue<std::string>("type"), "result");
  EXPECT_EQ(records[1]->getValue<std::string>("outcome"), "not-sent");
  EXPECT_EQ(records[1]->getValue<uint64_t>("intent"), records[0]->getValue<uint64_t>("seq"));
  EXPECT_EQ(next, records[0]->getValue<uint64_t>("seq") + 2);
  // The shared trail's intent rows of this node never share a file_seq.
  EXPECT_EQ(count("SELECT count(*) FROM bw_audit WHERE type = 'intent' AND node = 'node-x'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM bw_audit WHERE type = 'intent' AND file_seq = " +
                  std::to_string(next)),
            1);
  leases.stop();
}

// A node cut off (or frozen) between two statements of a transaction must not keep its locks:
// the server ends a session idle in a transaction after the client's own timeout, so another
// node may lock the org's chain head soon after. (Before, it waited until TCP noticed the cut:
// the node that took the org could not settle or append to it.)
TEST_F(Cluster, ASessionLeftInATransactionLosesItsLocksAfterItsTimeout) {
  std::string ci = pg_->conninfo();
  {
    cluster::PgConnection db(ci, "", 5s);
    cluster::ensureSchema(db);
    db.exec("INSERT INTO bw_audit_head (org, seq, hash) VALUES ('org-1', 0, 'x')");
  }
  cluster::PgConnection frozen(ci, "", 300ms);
  frozen.exec("BEGIN");
  frozen.exec("SELECT seq FROM bw_audit_head WHERE org = 'org-1' FOR UPDATE");
  // `frozen` says nothing more. Another session waits for the row, with time to spare.
  cluster::PgConnection other(ci, "", 10s);
  const auto start = Steady::now();
  other.exec("BEGIN");
  EXPECT_EQ(other.exec("SELECT seq FROM bw_audit_head WHERE org = 'org-1' FOR UPDATE").rows(), 1);
  other.exec("COMMIT");
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - start);
  std::cout << "the row was free after " << waited.count() << " ms\n";
  EXPECT_LT(waited, 5s);
  // The frozen session is gone; its next statement fails (and it connects again after).
  EXPECT_THROW(frozen.exec("COMMIT"), cluster::PgError);
  EXPECT_EQ(frozen.exec("SELECT 1").get(0, 0), "1");
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

// The API budget across a move (issue #15): the ledger is shared in PostgreSQL, so an org that
// moves keeps its count. Two nodes each spend their four orgs' budget (20 calls a day, a pass a
// second) until it runs low; node-b stops and node-a takes its orgs: it counts node-b's calls
// before its first call on them, so no org ever gets more than 20 calls, neither by the ledger
// nor by the simulated org's own count of the requests it answered. (With a ledger per node,
// node-a would spend another budget on node-b's orgs.)
TEST_F(Cluster, AnOrgThatMovesNeverGetsMoreThanItsBudget) {
  constexpr int64_t kBudget = 20;
  const std::string extra = "api-budget: " + std::to_string(kBudget) + "\n";
  auto& a = startNode("node-a", 0, extra);
  ASSERT_TRUE(waitFor([&] { return held("node-a") == kOrgs; }));
  auto& b = startNode("node-b", 0, extra);
  ASSERT_TRUE(waitFor([&] { return held("node-a") == 4 && held("node-b") == 4; }));
  auto spentOf = [&](int org) {
    return count("SELECT coalesce(sum(calls), 0) FROM bw_api_calls WHERE org = 'org-" +
                 std::to_string(org) + "'");
  };
  auto answered = [&](int org) {
    return sims_[static_cast<size_t>(org - 1)]->org().counters().requests;
  };
  // Low (under a quarter left): passes are spaced to hours apart.
  ASSERT_TRUE(waitFor(
      [&] {
        for (int i = 1; i <= kOrgs; ++i) {
          if (answered(i) <= kBudget * 3 / 4) return false;
        }
        return true;
      },
      60s));
  b.signal(SIGTERM);
  EXPECT_EQ(b.wait(20s), 0);
  ASSERT_TRUE(waitFor([&] { return held("node-a") == kOrgs; }));
  // node-a has judged every org's pass by the budget since (spaced: the count it read is low).
  auto deferredAll = [&] {
    std::ifstream in(dir_ / "node-a" / "err");
    std::string log((std::istreambuf_iterator<char>(in)), {});
    for (int i = 1; i <= kOrgs; ++i) {
      if (log.find("org-" + std::to_string(i) +
                   " query-jobs: pass skipped, no call made: the API budget") ==
          std::string::npos) {
        return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(waitFor(deferredAll, 60s));
  for (int i = 1; i <= kOrgs; ++i) {
    EXPECT_LE(spentOf(i), kBudget) << "org-" << i;
    EXPECT_LE(answered(i), kBudget) << "org-" << i;
  }
  EXPECT_EQ(count("SELECT count(DISTINCT node) FROM bw_api_calls"), 2);
  a.signal(SIGTERM);
  EXPECT_EQ(a.wait(20s), 0);
}

// `plan` and `validate --connect` on a cluster config add their calls to the shared ledger, each
// call on its own, where whichever node holds the org counts them.
TEST_F(Cluster, PlanAndValidateConnectAddTheirCallsToTheSharedLedger) {
  {
    cluster::PgConnection db(pg_->conninfo(), "", 5s);
    cluster::ensureSchema(db);
  }
  auto cfg = config("node-a", 0, "api-budget: 1000\n");
  auto ledger = [&](int org) {
    return count(
        "SELECT coalesce(sum(calls), 0) FROM bw_api_calls WHERE node = 'node-a' AND "
        "org = 'org-" +
        std::to_string(org) + "'");
  };
  std::string out;
  EXPECT_EQ(runCli({"plan", "--config", cfg}, out), 0) << out;
  std::vector<int64_t> planned;
  for (int i = 1; i <= kOrgs; ++i) {
    const int64_t sent = sims_[static_cast<size_t>(i - 1)]->org().counters().requests;
    EXPECT_GT(sent, 0) << "org-" << i;
    EXPECT_GE(ledger(i), sent) << "org-" << i;
    planned.push_back(ledger(i));
  }
  EXPECT_EQ(runCli({"validate", "--connect", "--config", cfg}, out), 0) << out;
  for (int i = 1; i <= kOrgs; ++i) {
    const int64_t sent = sims_[static_cast<size_t>(i - 1)]->org().counters().requests;
    EXPECT_GE(ledger(i), sent) << "org-" << i;
    EXPECT_GT(ledger(i), planned[static_cast<size_t>(i - 1)]) << "org-" << i;
  }
}

class ClusterSlowOrg : public Cluster {
 protected:
  ClusterSlowOrg() { latency_ = 150ms; }
};

// SIGKILL of either node mid-pass (the first to join, then the second): the survivor takes the
// dead node's orgs as soon as their leases end (its lease thread wakes at the earliest foreign
// expires_at), so within the lease time of the death; it settles what the dead node left open
// by GET and finishes the work; no job gets two actions.
class ClusterKill : public ClusterSlowOrg, public ::testing::WithParamInterface<const char*> {};

TEST_P(ClusterKill, ANodeKilledMidPassHasItsOrgsTakenOverAtItsLeaseEndAndNothingDoubled) {
  const std::string victim = GetParam();
  const std::string survivor = victim == "node-a" ? "node-b" : "node-a";
  startNode("node-a");
  ASSERT_TRUE(waitFor([&] { return held("node-a") == kOrgs; }));
  startNode("node-b");
  ASSERT_TRUE(waitFor([&] { return held("node-a") == 4 && held("node-b") == 4; }));
  const std::string victimOrgs =
      "(SELECT org FROM bw_leases WHERE holder = '" + victim + "' AND expires_at > now())";
  auto orgs = pg_->query("SELECT string_agg(quote_literal(org), ',') FROM " + victimOrgs + " x");
  ASSERT_EQ(orgs.size(), 1u);
  auto ids = addStuck(30);
  // Mid-pass: the victim has announced some of its actions, not all.
  ASSERT_TRUE(waitFor([&] {
    return count("SELECT count(*) FROM bw_audit WHERE node = '" + victim +
                 "' AND type = 'intent'") >= 6;
  }));
  nodes_[victim]->signal(SIGKILL);
  auto killed = Steady::now();
  const std::string killedTs = nowTs();
  EXPECT_EQ(nodes_[victim]->wait(10s), 128 + SIGKILL);
  // When the victim's leases end (no renewal comes any more), by the database's clock.
  auto expiry = pg_->query(
      "SELECT (extract(epoch FROM max(expires_at)) * 1000)::bigint FROM bw_leases WHERE org IN (" +
      orgs[0] + ")");
  ASSERT_EQ(expiry.size(), 1u);
  ASSERT_TRUE(waitFor([&] { return held(survivor) == kOrgs; }, 10s));
  const auto takenAt = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  auto takeover = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - killed);
  // The survivor's first record on the victim's orgs after the kill (a settlement GET's result,
  // or an intent): its first action there.
  std::vector<std::string> first;
  ASSERT_TRUE(waitFor([&] {
    first = pg_->query("SELECT min(ts) FROM bw_audit WHERE node = '" + survivor + "' AND org IN (" +
                       orgs[0] + ") AND ts >= '" + killedTs + "'");
    return first.size() == 1 && !first[0].empty();
  }));
  auto acted = *model::parseTimestamp(first[0]) - *model::parseTimestamp(killedTs);
  const auto afterExpiry = takenAt - std::stoll(expiry[0]);
  std::cout << victim << " killed: its orgs taken after " << takeover.count() << " ms ("
            << afterExpiry << " ms after its leases ended), first action on them after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(acted).count()
            << " ms (lease 2s)\n";
  // Within the lease time of the death, plus one round of the lease thread and this poll; and
  // taken as soon as the leases ended (a renewal period is 667 ms: waking only then, as before,
  // takes them up to that much later).
  EXPECT_LT(takeover, 2000ms + 300ms);
  EXPECT_LT(afterExpiry, 300);
  ASSERT_TRUE(waitFor([&] { return allAborted(ids); }, 60s));
  expectNoJobActedOnTwice(ids);
  // Every intent settled: by its own result, or by the survivor's GET for those left open.
  ASSERT_TRUE(waitFor([&] {
    return count(
               "SELECT count(*) FROM bw_audit i WHERE i.type = 'intent' AND NOT EXISTS "
               "(SELECT 1 FROM bw_audit r WHERE r.org = i.org AND r.type = 'result' AND "
               "r.intent_node = i.node AND r.intent_seq = i.file_seq AND r.seq > i.seq)") == 0;
  }));
  std::cout << "intents of " << victim << " settled by " << survivor << ": "
            << count("SELECT count(*) FROM bw_audit WHERE node = '" + survivor +
                     "' AND intent_node = '" + victim + "'")
            << "\n";
  std::string out;
  EXPECT_EQ(
      runCli({"audit", "verify", "--config", (dir_ / survivor / "bulkwarden.yaml").string()}, out),
      0)
      << out;
}

INSTANTIATE_TEST_SUITE_P(EitherNode, ClusterKill, ::testing::Values("node-a", "node-b"),
                         [](const auto& param) {
                           return std::string(param.param) == "node-a" ? "TheFirstToJoin"
                                                                       : "TheSecondToJoin";
                         });

// Cross-node recovery itself: node-b dies (a failpoint, SIGKILL) right after an intent is
// committed to PostgreSQL and written to its file, before its request is sent. node-a takes the
// org, reads the job (still InProgress: the abort never went out), records `not-applied` for
// node-b's intent (settled by GET: `reconciled`, `observed_state`, `intent_node: node-b`), then
// aborts the job itself: one action, not two.
TEST_F(ClusterSlowOrg, AnIntentLeftUnsentByADeadNodeIsSettledByTheOtherByGet) {
  startNode("node-a");
  ASSERT_TRUE(waitFor([&] { return held("node-a") == kOrgs; }));
  startNode("node-b", 0, "", {"BULKWARDEN_FAILPOINT=after_intent_fsync:3"});
  ASSERT_TRUE(waitFor([&] { return held("node-a") == 4 && held("node-b") == 4; }));
  auto ids = addStuck(5);
  EXPECT_EQ(nodes_["node-b"]->wait(30s), 128 + SIGKILL);
  ASSERT_TRUE(waitFor([&] { return held("node-a") == kOrgs; }, 10s));
  ASSERT_TRUE(waitFor([&] { return allAborted(ids); }, 30s));
  expectNoJobActedOnTwice(ids);
  ASSERT_TRUE(waitFor([&] {
    return count(
               "SELECT count(*) FROM bw_audit i WHERE i.type = 'intent' AND NOT EXISTS "
               "(SELECT 1 FROM bw_audit r WHERE r.org = i.org AND r.type = 'result' AND "
               "r.intent_node = i.node AND r.intent_seq = i.file_seq AND r.seq > i.seq)") == 0;
  }));
  // node-b's intents settled by node-a's reads; those never sent as not-applied, then acted on
  // by node-a once.
  const std::string settledByA =
      "FROM bw_audit WHERE node = 'node-a' AND type = 'result' AND intent_node = 'node-b' AND "
      "record::json ->> 'reconciled' = 'true' AND record::json ->> 'observed_state' <> ''";
  EXPECT_GE(count("SELECT count(*) " + settledByA), 1);
  auto notApplied = pg_->query("SELECT org || ' ' || (record::json -> 'job' ->> 'id') " +
                               settledByA + " AND record::json ->> 'outcome' = 'not-applied'");
  ASSERT_GE(notApplied.size(), 1u) << "no intent of node-b was settled as never applied";
  for (const auto& line : notApplied) {
    auto space = line.find(' ');
    const std::string org = line.substr(0, space), job = line.substr(space + 1);
    const size_t i = std::stoul(org.substr(4)) - 1;
    EXPECT_EQ(sims_[i]->org().state(job), "Aborted") << line;
    EXPECT_EQ(sims_[i]->org().appliedActions(job), 1) << line;
    EXPECT_EQ(count("SELECT count(*) FROM bw_audit WHERE node = 'node-a' AND type = 'intent' AND "
                    "org = '" +
                    org + "' AND record::json -> 'job' ->> 'id' = '" + job + "'"),
              1)
        << line;
  }
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

// The cut mid-pass, timed at the wire: node-b (its own OAuth tokens, so that the sims tell its
// requests from node-a's) is cut off from PostgreSQL while its slow orgs' actions are in flight.
// Its last action request reaches the org, and its reply is due, before its lease ends by the
// database's clock (less the tenth of the lease the fence keeps for the clocks' rates); node-a's
// first request of any kind to those orgs after the cut comes after the lease ended; node-a
// finishes node-b's pass; no job gets two actions.
class ClusterCut : public ClusterSlowOrg {
 protected:
  struct Seen {
    size_t org;
    int64_t atMs;  // wall clock, when the sim received it
    std::string method;
    bool byA;
  };
  void watch() {
    for (size_t i = 0; i < sims_.size(); ++i) {
      const std::string tokenOfA = "Bearer " + sims_[i]->token();
      sims_[i]->org().setRequestHook([this, i, tokenOfA](const sim::SimRequest& r) {
        const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        std::lock_guard lock(seenMutex_);
        seen_.push_back(Seen{i, now, r.method, r.authorization == tokenOfA});
      });
    }
  }
  std::vector<Seen> seen() {
    std::lock_guard lock(seenMutex_);
    return seen_;
  }
  std::mutex seenMutex_;
  std::vector<Seen> seen_;
};

TEST_F(ClusterCut, ANodeCutOffMidPassSendsItsLastActionBeforeItsLeaseEndsAndTheOtherAfter) {
  clientCredentials_ = {"node-b"};
  watch();
  startNode("node-a");
  ASSERT_TRUE(waitFor([&] { return held("node-a") == kOrgs; }));
  TcpProxy proxy(pg_->port());
  startNode("node-b", proxy.port());
  ASSERT_TRUE(waitFor([&] { return held("node-a") == 4 && held("node-b") == 4; }));
  std::set<size_t> orgsOfB;
  for (const auto& org : pg_->query("SELECT org FROM bw_leases WHERE holder = 'node-b'")) {
    orgsOfB.insert(std::stoul(org.substr(4)) - 1);
  }
  ASSERT_EQ(orgsOfB.size(), 4u);
  auto ids = addStuck(30);
  // Mid-pass: node-b's first aborts have reached its orgs (intents are written ahead of their
  // requests, so the trail's count says less).
  auto abortsOfB = [&] {
    int n = 0;
    for (const auto& r : seen()) n += r.method == "PATCH" && !r.byA ? 1 : 0;
    return n;
  };
  ASSERT_TRUE(waitFor([&] { return abortsOfB() >= 3; }));
  proxy.cut();
  const auto cutMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  // node-b renews no more: its leases end at the expires_at they have now.
  auto expiry = pg_->query(
      "SELECT (extract(epoch FROM max(expires_at)) * 1000)::bigint FROM bw_leases WHERE holder "
      "= 'node-b'");
  ASSERT_EQ(expiry.size(), 1u);
  const int64_t endsMs = std::stoll(expiry[0]);
  ASSERT_TRUE(waitFor([&] { return held("node-a") == kOrgs; }, 10s));
  ASSERT_TRUE(waitFor([&] { return allAborted(ids); }, 60s));
  expectNoJobActedOnTwice(ids);
  int64_t lastWriteOfB = 0, firstOfA = INT64_MAX, firstWriteOfA = INT64_MAX;
  int writesOfB = 0, writesOfAOnB = 0;
  for (const auto& r : seen()) {
    if (orgsOfB.count(r.org) == 0) continue;
    const bool write = r.method == "PATCH";
    if (!r.byA && write) {
      lastWriteOfB = std::max(lastWriteOfB, r.atMs);
      ++writesOfB;
    }
    if (r.byA && r.atMs >= cutMs) {
      firstOfA = std::min(firstOfA, r.atMs);
      if (write) {
        firstWriteOfA = std::min(firstWriteOfA, r.atMs);
        ++writesOfAOnB;
      }
    }
  }
  std::cout << "cut at lease end - " << endsMs - cutMs << " ms; node-b's last abort reached its "
            << "org " << endsMs - lastWriteOfB << " ms before its lease ended; node-a's first "
            << "request there " << firstOfA - endsMs << " ms after, its first abort "
            << firstWriteOfA - endsMs << " ms after\n";
  EXPECT_GE(writesOfB, 3);  // as waited for before the cut
  EXPECT_GE(writesOfAOnB, 1) << "node-b's pass was not cut: node-a had nothing left to do";
  // Each abort of node-b started while the lease had the request deadline (0.4 x lease) plus a
  // tenth left; its reply (150 ms of latency after it arrived) came before the lease's end less
  // that tenth (200 ms).
  EXPECT_LT(lastWriteOfB + latency_.count(), endsMs - 200);
  EXPECT_GT(firstOfA, endsMs);
  EXPECT_GT(firstWriteOfA, endsMs);
  EXPECT_EQ(count("SELECT count(*) FROM bw_audit WHERE node = 'node-b' AND type = 'intent' AND "
                  "ts::timestamptz > to_timestamp(" +
                  std::to_string(endsMs) + " / 1000.0)"),
            0);
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
  // One of three killed: the other two share its orgs (four each at most) and act on new work
  // once.
  nodes_["node-c"]->signal(SIGKILL);
  EXPECT_EQ(nodes_["node-c"]->wait(10s), 128 + SIGKILL);
  ASSERT_TRUE(waitFor([&] {
    int a = held("node-a"), b = held("node-b");
    return a + b == kOrgs && a <= 4 && b <= 4;
  })) << held("node-a")
      << " " << held("node-b");
  auto more = addStuck(3);
  ASSERT_TRUE(waitFor([&] { return allAborted(more); }, 30s));
  expectNoJobActedOnTwice(ids);
  expectNoJobActedOnTwice(more);
  EXPECT_EQ(count("SELECT count(*) FROM bw_audit WHERE type = 'intent'"), kOrgs * 8);
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

// Least privilege (docs/scaling.md "Setting up the database"): the SQL block of the docs, run as
// written (the roles and the database renamed for this server), is all a node and an auditor
// need: a node governs its orgs as `bulkwarden` (here bw_node), `audit verify|show --config` run
// as `bulkwarden_auditor` (here bw_auditor), and neither may UPDATE, DELETE or TRUNCATE the trail.
TEST_F(Cluster, ANodeAndAnAuditorRunWithTheGrantsAboveAndCannotRewriteTheTrail) {
  std::ifstream in(std::string(BULKWARDEN_SOURCE_DIR) + "/docs/scaling.md");
  std::string doc((std::istreambuf_iterator<char>(in)), {});
  auto from = doc.find("```sql\nCREATE ROLE bulkwarden LOGIN");
  ASSERT_NE(from, std::string::npos) << "docs/scaling.md has no setup block";
  from = doc.find('\n', from) + 1;
  const std::string block = doc.substr(from, doc.find("```", from) - from);
  auto replaceAll = [](std::string text, const std::string& what, const std::string& with) {
    for (size_t at = text.find(what); at != std::string::npos;
         at = text.find(what, at + with.size())) {
      text.replace(at, what.size(), with);
    }
    return text;
  };
  std::string sql;
  std::istringstream lines(block);
  for (std::string line; std::getline(lines, line);) {
    line = line.substr(0, line.find("--"));
    if (line.rfind("\\c", 0) == 0 || line.rfind("CREATE DATABASE", 0) == 0) continue;
    sql += line + "\n";
  }
  sql = replaceAll(sql, "bulkwarden_auditor", "bw_auditor");
  sql = replaceAll(sql, "ROLE bulkwarden ", "ROLE bw_node ");
  sql = replaceAll(sql, "TO bulkwarden;", "TO bw_node;");
  sql = replaceAll(sql, "DATABASE bulkwarden", "DATABASE postgres");
  int statements = 0;
  for (size_t start = 0, end; (end = sql.find(';', start)) != std::string::npos; start = end + 1) {
    pg_->query(sql.substr(start, end - start));
    ++statements;
  }
  EXPECT_GE(statements, 15);
  EXPECT_EQ(pg_->query("SELECT string_agg(rolname || ':' || rolsuper, ',' ORDER BY rolname) FROM "
                       "pg_roles WHERE rolname IN ('bw_node', 'bw_auditor')"),
            std::vector<std::string>{"bw_auditor:false,bw_node:false"});
  // A node as bw_node: takes every lease, acts, gives them back at SIGTERM.
  dbUser_ = "bw_node";
  auto& a = startNode("node-a");
  ASSERT_TRUE(waitFor([&] { return held("node-a") == kOrgs; }));
  auto ids = addStuck(2);
  ASSERT_TRUE(waitFor([&] { return allAborted(ids); }, 30s));
  a.signal(SIGTERM);
  EXPECT_EQ(a.wait(20s), 0);
  EXPECT_EQ(count("SELECT count(*) FROM bw_nodes"), 0);  // its DELETE at stop was allowed
  EXPECT_EQ(count("SELECT count(*) FROM bw_audit WHERE type = 'intent'"), kOrgs * 2);
  // The auditor reads the trail.
  dbUser_ = "bw_auditor";
  const std::string auditorCfg = config("auditor");
  std::string out;
  EXPECT_EQ(runCli({"audit", "verify", "--config", auditorCfg}, out), 0) << out;
  EXPECT_NE(out.find("postgresql audit trail: OK"), std::string::npos) << out;
  EXPECT_EQ(runCli({"audit", "show", "--config", auditorCfg, "--format", "json"}, out), 0) << out;
  EXPECT_NE(out.find("\"node\":\"node-a\""), std::string::npos) << out;
  // Neither role can rewrite the trail (nor the auditor write to it).
  for (const std::string user : {"bw_node", "bw_auditor"}) {
    std::string ci = pg_->conninfo();
    ci.replace(ci.find("user=bulkwarden"), 15, "user=" + user);
    cluster::PgConnection db(ci, "", 5s);
    std::vector<std::string> refused = {"UPDATE bw_audit SET record = record",
                                        "DELETE FROM bw_audit", "TRUNCATE bw_audit"};
    if (user == "bw_auditor") {
      refused.push_back("INSERT INTO bw_audit SELECT * FROM bw_audit LIMIT 1");
      refused.push_back("UPDATE bw_audit_head SET seq = 0");
      refused.push_back("UPDATE bw_leases SET holder = 'auditor'");
    }
    for (const auto& stmt : refused) {
      try {
        db.exec(stmt);
        ADD_FAILURE() << user << " may: " << stmt;
      } catch (const cluster::PgError& e) {
        EXPECT_NE(std::string(e.what()).find("permission denied"), std::string::npos)
            << user << ": " << stmt << ": " << e.what();
      }
    }
  }
  EXPECT_EQ(count("SELECT count(*) FROM bw_audit WHERE type = 'intent'"), kOrgs * 2);
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
