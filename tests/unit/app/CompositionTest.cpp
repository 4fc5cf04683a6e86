// The composition root (app/Composition.h): what each mode builds from one config. No network:
// clients are built, never called.
#include "app/Composition.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "app/ExitCodes.h"

namespace bulkwarden::app {
namespace {

namespace fs = std::filesystem;

class Composition : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-composition-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    write(dir_ / "token", "tok\n");
    write(dir_ / "policies.yaml", R"(policies:
  - name: watch-old
    resource: query-jobs
    schedule: { every: 1h }
    filters:
      - state: InProgress
    action: report
)");
    write(dir_ / "bulkwarden.yaml", R"(orgs:
  - name: test-org
    api-version: "62.0"
    instance-url: http://127.0.0.1:9
    auth:
      flow: access-token
      access-token: { file: token }
policies: [policies.yaml]
audit-log: audit.jsonl
state-dir: state
concurrency: 3
)");
  }
  void TearDown() override { fs::remove_all(dir_); }
  static void write(const fs::path& p, const std::string& text) {
    std::ofstream(p) << text;
    ::chmod(p.c_str(), 0600);
  }
  std::string config() const { return (dir_ / "bulkwarden.yaml").string(); }
  // Builds every part the mode has; the exit code of the first that fails.
  std::unique_ptr<app::Composition> build(Mode mode, bool dryRun, int& code) {
    auto c = Composer::clients(mode, config(), dryRun, code);
    if (!c) return nullptr;
    if (mode == Mode::Demo) {
      if (!Composer::state(*c, code, nullptr, {}) || !Composer::audit(*c, code)) return nullptr;
    } else if (!Composer::audit(*c, code) || !Composer::state(*c, code, nullptr, {})) {
      return nullptr;
    }
    return c;
  }
  fs::path dir_;
};

TEST_F(Composition, PlanCreatesNeitherTheAuditFileNorTheStateStore) {
  int code = 0;
  auto c = build(Mode::Plan, false, code);
  ASSERT_NE(c, nullptr) << code;
  EXPECT_EQ(c->auditLog, nullptr);
  ASSERT_NE(c->sink, nullptr);
  ASSERT_NE(c->state, nullptr);
  EXPECT_TRUE(c->dryRun);  // whatever the flags say
  EXPECT_TRUE(c->schedulerOptions().dryRun);
  c->sink->append("decision", "x", audit::Fields(), audit::AuditSink::Sync::Durable);
  c.reset();
  EXPECT_FALSE(fs::exists(dir_ / "audit.jsonl"));
  EXPECT_FALSE(fs::exists(dir_ / "state"));
}

TEST_F(Composition, PlanReadsTheStateStoreReadOnlyAndWritesNothing) {
  int code = 0;
  {
    auto once = build(Mode::Once, false, code);
    ASSERT_NE(once, nullptr) << code;
    once->state->recordPass("org", "p", model::Timestamp{} + std::chrono::hours(1));
  }
  ASSERT_TRUE(fs::exists(dir_ / "state" / "state.sqlite"));
  auto before = fs::last_write_time(dir_ / "state" / "state.sqlite");
  {
    auto plan = build(Mode::Plan, false, code);
    ASSERT_NE(plan, nullptr);
    ASSERT_NE(plan->state, nullptr);
    // What the daemon recorded is what plan sees.
    EXPECT_EQ(plan->state->lastPass("org", "p"), model::Timestamp{} + std::chrono::hours(1));
  }
  EXPECT_EQ(fs::last_write_time(dir_ / "state" / "state.sqlite"), before);
  EXPECT_FALSE(fs::exists(dir_ / "state" / "state.sqlite-journal"));
}

TEST_F(Composition, DemoHasAStateStoreAndAnAnchoredTrail) {
  int code = 0;
  auto c = build(Mode::Demo, false, code);
  ASSERT_NE(c, nullptr) << code;
  ASSERT_NE(c->auditLog, nullptr);
  EXPECT_EQ(c->sink, c->auditLog.get());
  ASSERT_NE(c->state, nullptr);
  EXPECT_EQ(c->schedulerOptions().state, c->state.get());
  EXPECT_TRUE(fs::exists(dir_ / "state" / "state.sqlite"));
  EXPECT_TRUE(fs::exists(dir_ / "audit.jsonl"));
  // The trail has the options of the others: its anchor in state-dir.
  c->auditLog->append("config", "startup", audit::Fields(), audit::AuditSink::Sync::Durable);
  EXPECT_TRUE(fs::exists(dir_ / "state" / "audit.anchor"));
}

TEST_F(Composition, OnceTakesTheConfigsSettingsAndTheDryRunFlag) {
  int code = 0;
  auto c = build(Mode::Once, true, code);
  ASSERT_NE(c, nullptr) << code;
  auto so = c->schedulerOptions();
  EXPECT_TRUE(so.dryRun);
  EXPECT_EQ(so.concurrency, 3);
  EXPECT_EQ(so.state, c->state.get());
  EXPECT_DOUBLE_EQ(so.apiUsageShare, c->rt->config.apiUsageShare);
  ASSERT_EQ(c->rt->orgs.size(), 1u);
  auto wet = Composer::clients(Mode::Once, config(), false, code);
  ASSERT_NE(wet, nullptr);
  EXPECT_FALSE(wet->dryRun);
}

TEST_F(Composition, AReloadReusesTheTrailAndTheStoreOfTheSameFiles) {
  int code = 0;
  auto first = build(Mode::Service, false, code);
  ASSERT_NE(first, nullptr) << code;
  auto next = Composer::clients(Mode::Service, config(), false, code);
  ASSERT_NE(next, nullptr);
  ASSERT_TRUE(Composer::audit(*next, code, first->auditLog));
  ASSERT_TRUE(Composer::state(*next, code, first->state, first->rt->config.stateDir));
  EXPECT_EQ(next->auditLog, first->auditLog);  // one writer per file
  EXPECT_EQ(next->state, first->state);
}

TEST_F(Composition, ErrorsGiveTheirExitCodes) {
  int code = 0;
  write(dir_ / "token", "");  // an empty secret: a configuration error
  EXPECT_EQ(Composer::clients(Mode::Plan, config(), false, code), nullptr);
  EXPECT_EQ(code, kExitConfig);
  code = 0;
  EXPECT_EQ(Composer::clients(Mode::Once, (dir_ / "none.yaml").string(), false, code), nullptr);
  EXPECT_EQ(code, kExitConfig);
  write(dir_ / "token", "tok\n");
  // The audit log is a folder: it cannot be opened.
  fs::create_directories(dir_ / "audit.jsonl");
  auto c = Composer::clients(Mode::Once, config(), false, code);
  ASSERT_NE(c, nullptr);
  code = 0;
  EXPECT_FALSE(Composer::audit(*c, code));
  EXPECT_NE(code, 0);
}

}  // namespace
}  // namespace bulkwarden::app
