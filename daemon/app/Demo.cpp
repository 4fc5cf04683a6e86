// `bulkwarden demo`: the real engine, client and audit log against an in-process simulated org.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>

#include "app/Commands.h"
#include "app/Composition.h"
#include "app/ExitCodes.h"
#include "app/Runtime.h"
#include "audit/AuditLog.h"
#include "engine/Scheduler.h"
#include "log/Log.h"
#include "sim/SimServer.h"

namespace bulkwarden::app {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// Where the example policies are: next to the sources in a build tree, or installed.
std::optional<fs::path> findExamplePolicies() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("BULKWARDEN_POLICIES_DIR")) candidates.emplace_back(env);
  candidates.emplace_back(fs::path(BULKWARDEN_SOURCE_DIR) / "policies");
  candidates.emplace_back("/usr/local/share/bulkwarden/policies");
  candidates.emplace_back("/usr/share/bulkwarden/policies");
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::is_directory(c, ec)) return c;
  }
  return std::nullopt;
}

// A few thousand jobs: most finished or recent, some stuck for hours, a few that will finish
// just as bulkwarden tries to abort them.
void seedDemoOrg(sim::SimOrg& org) {
  std::mt19937 rng(20261129);
  auto between = [&](milliseconds lo, milliseconds hi) {
    std::uniform_int_distribution<int64_t> d(lo.count(), hi.count());
    return milliseconds(d(rng));
  };
  const char* objects[] = {"Account", "Contact", "Opportunity", "Case", "Lead", "Task"};
  auto add = [&](int n, const char* kind, const char* state, milliseconds lo, milliseconds hi,
                 bool moving, bool race = false) {
    std::string st = state;
    bool terminal = st == "JobComplete" || st == "Failed" || st == "Aborted";
    for (int i = 0; i < n; ++i) {
      sim::JobSeed s;
      s.kind = kind;
      s.state = state;
      s.object = objects[rng() % 6];
      s.age = between(lo, hi);
      if (terminal) {  // finished a little after it was created
        s.modifiedAgo = std::max(milliseconds(0), s.age - between(seconds(5), minutes(20)));
      }
      if (moving) s.finishAfter = between(minutes(1), minutes(20));
      s.finishesOnAbort = race;
      org.addJob(s);
    }
  };
  // Query jobs.
  add(1400, "query", "JobComplete", minutes(5), hours(24 * 6), false);
  add(60, "query", "Failed", hours(2), hours(24 * 5), false);
  add(40, "query", "Aborted", hours(1), hours(24 * 5), false);
  add(180, "query", "InProgress", seconds(10), minutes(20), true);
  add(60, "query", "UploadComplete", seconds(5), minutes(10), true);
  add(35, "query", "InProgress", hours(1), hours(9), false);         // stuck
  add(12, "query", "UploadComplete", minutes(45), hours(5), false);  // stuck in the queue
  add(3, "query", "InProgress", hours(2), hours(3), false, true);    // finishes as we abort
  // Ingest jobs.
  add(900, "ingest", "JobComplete", minutes(5), hours(24 * 6), false);
  add(40, "ingest", "Failed", hours(1), hours(24 * 5), false);
  add(90, "ingest", "InProgress", seconds(10), minutes(30), true);
  add(14, "ingest", "InProgress", hours(3), hours(11), false);  // stuck
  add(9, "ingest", "Open", hours(13), hours(23), false);        // forgotten uploads
  add(25, "ingest", "Open", minutes(1), hours(2), false);
}

class DemoListener : public engine::PassListener {
 public:
  void onDecision(const engine::PassSummary& s, const engine::Decision& d) override {
    if (d.policy->action != policy::Action::Report) return;
    std::lock_guard lock(mutex_);
    fmt::print("  {:<9} {:<6} {}  {:<11} {:<14} {}  [{}]\n", "reported",
               model::resourcePath(s.resource), d.job.id, d.job.object,
               model::toString(d.job.state), d.reason, d.policy->name);
    std::fflush(stdout);
  }
  void onResult(const engine::PassSummary& s, const engine::Decision& d) override {
    std::lock_guard lock(mutex_);
    // Deleting week-old finished jobs is the bulk of the work and the least interesting part:
    // show a few per policy, count the rest.
    if (d.policy->action == policy::Action::Delete && d.outcome == engine::Outcome::Applied &&
        ++deletesShown_[d.policy->name] > kDeletesShown) {
      return;
    }
    std::string verb;
    switch (d.outcome) {
      case engine::Outcome::Applied:
        verb = d.policy->action == policy::Action::Abort ? "aborted" : "deleted";
        break;
      case engine::Outcome::AlreadyTerminal:
        verb = "finished";  // it completed between the listing and the abort
        break;
      default:
        verb = std::string(engine::toString(d.outcome));
    }
    fmt::print("  {:<9} {:<6} {}  {:<11} {:<14} {}  [{}]\n", verb, model::resourcePath(s.resource),
               d.job.id, d.job.object, model::toString(d.job.state), d.reason, d.policy->name);
    if (d.outcome == engine::Outcome::AlreadyTerminal) {
      fmt::print(
          "            Salesforce said \"{}\": it finished on its own between the listing "
          "and the abort; recorded as already-terminal, not as a failure\n",
          d.error ? d.error->message : "");
    }
    if (d.policy->action == policy::Action::Delete &&
        deletesShown_[d.policy->name] == kDeletesShown) {
      fmt::print("  ... more deletes by {} go on quietly; the summary below counts them\n",
                 d.policy->name);
    }
    std::fflush(stdout);
  }

 private:
  static constexpr int kDeletesShown = 5;
  std::mutex mutex_;
  std::map<std::string, int> deletesShown_;
};

bool writeSecretFile(const fs::path& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

}  // namespace

int demoCommand(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      fmt::print(
          "bulkwarden demo: starts a simulated Salesforce org in this process (a few thousand\n"
          "query and ingest jobs, some stuck for hours), runs the example policies in enforce\n"
          "mode against it over real HTTP, and shows what it aborts, deletes and reports, and\n"
          "where the audit trail is. Nothing leaves this machine.\n");
      return kExitOk;
    }
    fmt::print(stderr, "bulkwarden demo: unknown option '{}'\n", a);
    return kExitUsage;
  }
  if (log::level() < log::Level::Warning) log::setLevel(log::Level::Warning);  // stdout tells it
  auto policies = findExamplePolicies();
  if (!policies) {
    fmt::print(stderr,
               "bulkwarden demo: cannot find the example policies; set BULKWARDEN_POLICIES_DIR\n");
    return kExitConfig;
  }
  char tmpl[] = "/tmp/bulkwarden-demo-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    fmt::print(stderr, "bulkwarden demo: cannot create a temporary folder\n");
    return kExitSoftware;
  }
  fs::path dir(tmpl);

  sim::SimOptions so;
  so.seed = 7;
  sim::SimServer server(so);
  seedDemoOrg(server.org());
  server.start();

  // The token goes to a 0600 file, the way a real deployment keeps it.
  fs::path tokenFile = dir / "access-token";
  if (!writeSecretFile(tokenFile, server.token() + "\n")) {
    fmt::print(stderr, "bulkwarden demo: cannot write {}\n", tokenFile.string());
    return kExitSoftware;
  }
  fs::path configFile = dir / "bulkwarden.yaml";
  {
    std::ofstream out(configFile);
    out << "# Written by `bulkwarden demo`.\n"
        << "orgs:\n"
        << "  - name: demo-org\n"
        << "    api-version: \"62.0\"\n"
        << "    instance-url: " << server.baseUrl() << "\n"
        << "    auth:\n"
        << "      flow: access-token\n"
        << "      access-token: { file: " << tokenFile.string() << " }\n"
        << "policies: [\"" << (*policies / "*.yaml").string() << "\"]\n"
        << "audit-log: " << (dir / "audit.jsonl").string() << "\n"
        << "state-dir: " << (dir / "state").string() << "\n"
        << "concurrency: 8\n";
  }

  // The same composition as `run --once` (audit trail with its anchor, state store, rate and
  // usage settings), with every policy forced to enforce: the demo acts for real.
  int code = kExitOk;
  auto c = Composer::clients(Mode::Demo, configFile.string(), false, code, [](config::Config& cfg) {
    for (auto& p : cfg.policies) p.mode = policy::Mode::Enforce;
  });
  if (!c) return code;
  // The state folder first: the audit anchor lives in it.
  if (!Composer::state(*c, code, nullptr, {}) || !Composer::audit(*c, code)) return code;
  Runtime* rt = c->rt.get();
  audit::AuditLog& auditLog = *c->auditLog;

  auto jobs = server.org().jobs();
  std::map<std::string, int> byState;
  for (const auto& j : jobs) byState[j.kind + " " + j.state]++;
  fmt::print("bulkwarden demo\n\nA simulated Salesforce org is serving at {} with {} jobs:\n",
             server.baseUrl(), jobs.size());
  for (auto& [k, n] : byState) fmt::print("  {:>5}  {}\n", n, k);
  fmt::print("\nPolicies (from {}, forced to enforce):\n", policies->string());
  for (const auto* p : rt->policies) fmt::print("  {:<28} {}\n", p->name, p->description);
  fmt::print("\nPass 1: listing every job, evaluating, acting ...\n");
  std::fflush(stdout);

  DemoListener listener;
  engine::Scheduler scheduler(rt->orgs, rt->policies, c->schedulerOptions(), auditLog, *rt->clock,
                              rt->stop, &listener);
  auto t0 = std::chrono::steady_clock::now();
  auto first = scheduler.runOnce();
  auto elapsed = std::chrono::steady_clock::now() - t0;

  fmt::print("\nSummary of pass 1 ({:.2f}s):\n", std::chrono::duration<double>(elapsed).count());
  for (const auto& s : first) fmt::print("  {}\n", engine::summaryLine(s));
  fmt::print(
      "\nPass 2, right after: nothing is left to abort or delete; the report policy records the "
      "same forgotten Open jobs again.\n");
  auto second = scheduler.runOnce();
  for (const auto& s : second) fmt::print("  {}\n", engine::summaryLine(s));

  auto report = audit::verifyFile(auditLog.path());
  fmt::print(
      "\nAudit trail: {}\n  {} records, hash chain {}. Check it yourself:\n"
      "  bulkwarden audit verify {}\n"
      "Config used: {}\n",
      auditLog.path(), report.records, report.ok ? "intact" : "BROKEN: " + report.problem,
      auditLog.path(), configFile.string());
  server.stop();
  return report.ok ? exitCodeFor(first) : kExitSoftware;
}

}  // namespace bulkwarden::app
