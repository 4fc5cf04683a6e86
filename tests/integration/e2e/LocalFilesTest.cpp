// What a local user or a careless operator can do to the files bulkwarden keeps: a link planted
// at the lock or the state store, a state-dir open to others or of another user, a caller's umask
// of 0, secrets that `validate` must see as `run` does, and start-up failures that clear by
// themselves (a port in use, a read-only audit file system) exiting 75 so that systemd retries.
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cstdlib>
#include <functional>
#include <regex>

#include "support/Fixture.h"

namespace bulkwarden::testing {
namespace {

class LocalFiles : public EndToEnd {
 protected:
  static constexpr const char* kPolicies = R"(policies:
  - name: watch
    resource: query-jobs
    schedule: { every: 1h }
    filters:
      - state: InProgress
    action: report
)";

  fs::path state() const { return dir_ / "state"; }
  static mode_t modeOf(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  }
  // A file outside the state-dir that a planted link points at.
  fs::path victim() {
    writeFile(dir_ / "victim", "precious\n", 0644);
    return dir_ / "victim";
  }
};

TEST_F(LocalFiles, ALinkAtTheLockIsRefusedAndItsTargetLeftAlone) {
  startSim();
  auto config = writeConfig(kPolicies);
  ASSERT_EQ(::mkdir(state().c_str(), 0700), 0);
  fs::create_symlink(victim(), state() / "bulkwarden.lock");
  EXPECT_EQ(run({"run", "--once", "--config", config}), 78) << err();
  EXPECT_EQ(Child::slurp(victim()), "precious\n");
  EXPECT_NE(err().find((state() / "bulkwarden.lock").string() + " is a symbolic link"),
            std::string::npos)
      << err();
  EXPECT_EQ(org().counters().lists, 0);
}

TEST_F(LocalFiles, LinksAtTheStateStoreAndItsWalAreRefusedAndTheirTargetsLeftAlone) {
  startSim();
  auto config = writeConfig(kPolicies);
  for (const char* name :
       {"state.sqlite", "state.sqlite-wal", "state.sqlite-shm", "state.sqlite-journal"}) {
    SCOPED_TRACE(name);
    fs::remove_all(state());
    ASSERT_EQ(::mkdir(state().c_str(), 0700), 0);
    fs::create_symlink(victim(), state() / name);
    EXPECT_EQ(run({"run", "--once", "--config", config}), 78) << err();
    EXPECT_EQ(Child::slurp(victim()), "precious\n");
    EXPECT_NE(err().find((state() / name).string() + " is a symbolic link"), std::string::npos)
        << err();
    EXPECT_EQ(modeOf(victim()), 0644u);
  }
}

TEST_F(LocalFiles, AStateDirWritableByOthersIsRefusedSayingHowToFixIt) {
  startSim();
  auto config = writeConfig(kPolicies);
  ASSERT_EQ(::mkdir(state().c_str(), 0700), 0);
  ASSERT_EQ(::chmod(state().c_str(), 0777), 0);
  EXPECT_EQ(run({"run", "--once", "--config", config}), 78) << err();
  EXPECT_NE(err().find("state-dir " + state().string() + " has mode 0777"), std::string::npos)
      << err();
  EXPECT_NE(err().find("chmod 700 " + state().string()), std::string::npos) << err();
  EXPECT_FALSE(fs::exists(state() / "bulkwarden.lock"));
  EXPECT_EQ(org().counters().lists, 0);
}

TEST_F(LocalFiles, AStateDirOfAnotherUserIsRefusedSayingHowToFixIt) {
  startSim();
  std::string stateDir;
  if (::geteuid() == 0) {
    ASSERT_EQ(::mkdir(state().c_str(), 0700), 0);
    ASSERT_EQ(::chown(state().c_str(), 65534, 65534), 0);  // nobody
    stateDir = state().string();
  } else {
    stateDir = "/";  // root's, and never written: the check comes first
  }
  auto config = writeConfig(kPolicies, "", "state-dir: " + stateDir + "\n");
  std::string text = Child::slurp(config);
  text = std::regex_replace(text, std::regex("state-dir: state\n"), "");
  writeFile(config, text);
  EXPECT_EQ(run({"run", "--once", "--config", config}), 78) << err();
  EXPECT_NE(err().find("state-dir " + stateDir + " belongs to uid"), std::string::npos) << err();
  EXPECT_NE(err().find("chown"), std::string::npos) << err();
  EXPECT_EQ(org().counters().lists, 0);
}

TEST_F(LocalFiles, WithAUmaskOfZeroFilesAre0600AndFolders0700) {
  startSim();
  auto config = writeConfig(kPolicies, "", "");
  mode_t old = ::umask(0);  // the child inherits it
  int code = run({"run", "--once", "--config", config});
  ::umask(old);
  ASSERT_EQ(code, 0) << err();
  EXPECT_EQ(modeOf(state()), 0700u);
  for (const auto& entry : fs::directory_iterator(state())) {
    EXPECT_EQ(modeOf(entry.path()), 0600u) << entry.path();
  }
  EXPECT_TRUE(fs::exists(state() / "state.sqlite"));
  // The audit file is the audit log's own (0640 at most); never writable by group or others.
  EXPECT_EQ(modeOf(auditPath()) & 027u, 0u) << std::oct << modeOf(auditPath());
}

// `validate` reads every secret as `run` would and names the reference's file:line:col.
TEST_F(LocalFiles, ValidateRefusesEachBadSecretWithItsLocation) {
  startSim();
  struct Case {
    const char* name;
    std::string secret;                            // the YAML of the reference
    std::function<void(const fs::path&)> prepare;  // makes the file at dir_/secret
    std::vector<std::string> env;
    const char* expect;
  };
  auto file = [](const char* text, mode_t mode) {
    return [text, mode](const fs::path& p) { writeFile(p, text, mode); };
  };
  std::vector<Case> cases{
      {"mode 0644", "{ file: secret }", file("tok\n", 0644), {}, "too open"},
      {"mode 0640", "{ file: secret }", file("tok\n", 0640), {}, "too open"},
      {"missing", "{ file: secret }", [](const fs::path&) {}, {}, "No such file"},
      {"empty", "{ file: secret }", file("", 0600), {}, "is empty"},
      {"only a newline", "{ file: secret }", file("\n\r\n", 0600), {}, "is empty"},
      {"a directory",
       "{ file: secret }",
       [](const fs::path& p) { ASSERT_EQ(::mkdir(p.c_str(), 0700), 0); },
       {},
       "directory"},
      {"a fifo",
       "{ file: secret }",
       [](const fs::path& p) { ASSERT_EQ(::mkfifo(p.c_str(), 0600), 0); },
       {},
       "not a regular file"},
      {"env unset", "{ env: BW_TEST_UNSET_SECRET }", [](const fs::path&) {}, {}, "not set"},
      {"env empty",
       "{ env: BW_TEST_EMPTY_SECRET }",
       [](const fs::path&) {},
       {"BW_TEST_EMPTY_SECRET="},
       "is empty"},
      {"credential absent",
       "{ credential: sf-token }",
       [](const fs::path&) {},
       {"CREDENTIALS_DIRECTORY=/nonexistent-bw-creds"},
       "no such credential"},
  };
  if (::geteuid() == 0) {
    cases.push_back({"another user's",
                     "{ file: secret }",
                     [](const fs::path& p) {
                       writeFile(p, "tok\n", 0600);
                       ASSERT_EQ(::chown(p.c_str(), 65534, 65534), 0);
                     },
                     {},
                     "belongs to uid 65534"});
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    fs::remove_all(dir_ / "secret");
    c.prepare(dir_ / "secret");
    std::string cfg =
        "orgs:\n"
        "  - name: test-org\n"
        "    instance-url: " +
        server_->baseUrl() +
        "\n"
        "    auth:\n"
        "      flow: access-token\n"
        "      access-token: " +
        c.secret +
        "\n"
        "policies: []\n"
        "audit-log: audit.jsonl\n"
        "state-dir: state\n";
    writeFile(dir_ / "bulkwarden.yaml", cfg);
    child_ = start({"validate", "--config", (dir_ / "bulkwarden.yaml").string()}, c.env);
    EXPECT_EQ(child_->wait(), 78) << err();
    std::regex where(R"(bulkwarden\.yaml:6:\d+: )");
    EXPECT_TRUE(std::regex_search(err(), where)) << err();
    EXPECT_NE(err().find(c.expect), std::string::npos) << err();
    EXPECT_EQ(out().find("OK"), std::string::npos) << out();
  }
  // A good file passes.
  fs::remove_all(dir_ / "secret");
  writeFile(dir_ / "secret", "tok\n", 0600);
  EXPECT_EQ(run({"validate", "--config", (dir_ / "bulkwarden.yaml").string()}), 0) << err();
}

TEST_F(LocalFiles, ValidateOutsideSystemdSaysWhereACredentialComesFrom) {
  startSim();
  std::string cfg =
      "orgs:\n"
      "  - name: test-org\n"
      "    instance-url: " +
      server_->baseUrl() +
      "\n"
      "    auth:\n"
      "      flow: access-token\n"
      "      access-token: { credential: sf-token }\n"
      "policies: []\n"
      "audit-log: audit.jsonl\n"
      "state-dir: state\n";
  writeFile(dir_ / "bulkwarden.yaml", cfg);
  ::unsetenv("CREDENTIALS_DIRECTORY");
  EXPECT_EQ(run({"validate", "--config", (dir_ / "bulkwarden.yaml").string()}), 0) << err();
  EXPECT_NE(err().find("bulkwarden.yaml:6:"), std::string::npos) << err();
  EXPECT_NE(err().find("LoadCredential="), std::string::npos) << err();
  EXPECT_NE(err().find("systemd-run -p LoadCredential=sf-token:"), std::string::npos) << err();
  // `run` says the same, and exits 78.
  EXPECT_EQ(run({"run", "--once", "--config", (dir_ / "bulkwarden.yaml").string()}), 78);
  EXPECT_NE(err().find("LoadCredential"), std::string::npos) << err();
}

TEST_F(LocalFiles, APortInUseAtStartExits75) {
  startSim();
  // Bound with SO_REUSEPORT too: the daemon must still fail, not share the port.
  Poco::Net::ServerSocket busy;
  busy.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true, true);
  busy.listen();
  std::string listen = "127.0.0.1:" + std::to_string(busy.address().port());
  auto config = writeConfig(kPolicies, "", "http: { listen: \"" + listen + "\" }\n");
  EXPECT_EQ(run({"run", "--config", config}), 75) << err();
  EXPECT_NE(err().find(listen), std::string::npos) << err();
  EXPECT_TRUE(audit().empty());
}

// The audit folder on a read-only mount (a private mount namespace; as root, or through a user
// namespace otherwise): `run` and `run --once` exit 75, for systemd to retry.
TEST_F(LocalFiles, AReadOnlyAuditFileSystemAtStartExits75) {
  startSim();
  const char* unshare = ::geteuid() == 0 ? "unshare -m" : "unshare -rm";
  if (std::system((std::string(unshare) + " true >/dev/null 2>&1").c_str()) != 0) {
    GTEST_SKIP() << "`" << unshare << "` does not work here: no private mount namespace";
  }
  fs::create_directories(dir_ / "ro");
  auto config = writeConfig(kPolicies, "", "");
  std::string text = Child::slurp(config);
  text =
      std::regex_replace(text, std::regex("audit-log: audit.jsonl"), "audit-log: ro/audit.jsonl");
  writeFile(config, text);
  for (std::string mode : {"", "--once"}) {
    SCOPED_TRACE("run " + mode);
    std::string errFile = (dir_ / "ro-err").string();
    std::string cmd = std::string(unshare) + " sh -c 'mount --bind " + (dir_ / "ro").string() +
                      " " + (dir_ / "ro").string() + " && mount -o remount,bind,ro " +
                      (dir_ / "ro").string() + " && exec " + binaryPath() + " run " + mode +
                      " --config " + config + "' 2>" + errFile + " >/dev/null";
    int status = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(status));
    std::string errText = Child::slurp(errFile);
    if (errText.find("mount:") != std::string::npos) GTEST_SKIP() << errText;
    EXPECT_EQ(WEXITSTATUS(status), 75) << errText;
    EXPECT_NE(errText.find("audit"), std::string::npos) << errText;
  }
  EXPECT_FALSE(fs::exists(dir_ / "ro" / "audit.jsonl"));
}

}  // namespace
}  // namespace bulkwarden::testing
