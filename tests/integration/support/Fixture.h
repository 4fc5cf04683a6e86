// An end-to-end fixture: a simulated org on loopback port 0, a temporary folder with a config,
// a token file and policy files, and helpers to run the real binary and read its audit trail.
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "AuditRecords.h"
#include "Eventually.h"
#include "sim/SimServer.h"
#include "support/Child.h"
#include "support/SecretSweep.h"

namespace bulkwarden::testing {

namespace fs = std::filesystem;

class EndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-e2e-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    sweepForSecrets();
    if (server_) server_->stop();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // docs/reliability.md S2: every run logs at debug level; afterwards no file it wrote (stdout,
  // stderr, the audit trail, the state store) may hold the token or anything shaped like a
  // secret.
  void sweepForSecrets() {
    if (!server_ || runs_ == 0) return;
    int swept = 0;
    auto isInput = [](const fs::path& p) {
      const std::string name = p.filename().string();
      return name == "token" || name == "bulkwarden.yaml" || name == "policies.yaml";
    };
    for (const auto& leak : findSecrets(dir_, {server_->token()}, isInput, swept)) {
      ADD_FAILURE() << leak;
    }
  }

  sim::SimServer& startSim(sim::SimOptions options = {}) {
    server_ = std::make_unique<sim::SimServer>(std::move(options));
    server_->start();
    return *server_;
  }
  sim::SimOrg& org() { return server_->org(); }

  // Adds `n` jobs of one kind, state and age to the simulated org; returns their ids.
  std::vector<std::string> addJobs(int n, const char* kind, const char* state,
                                   std::chrono::milliseconds age) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      sim::JobSeed s;
      s.kind = kind;
      s.state = state;
      s.age = age;
      ids.push_back(org().addJob(s));
    }
    return ids;
  }

  // Polls `done` until it holds or `timeout` passes; returns whether it holds.
  template <class Done>
  static bool waitFor(Done done, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    return bulkwarden::testing::eventually(done, timeout);
  }

  static void writeFile(const fs::path& path, const std::string& text, mode_t mode = 0600) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
    ::chmod(path.c_str(), mode);
  }

  // Writes the config and one policy file; returns the config path.
  std::string writeConfig(const std::string& policies, const std::string& token = "",
                          const std::string& extra = "") {
    writeFile(dir_ / "token", (token.empty() ? server_->token() : token) + "\n");
    writeFile(dir_ / "policies.yaml", policies);
    std::string cfg =
        "orgs:\n"
        "  - name: test-org\n"
        "    api-version: \"62.0\"\n"
        "    instance-url: " +
        server_->baseUrl() +
        "\n"
        "    auth:\n"
        "      flow: access-token\n"
        "      access-token: { file: token }\n"
        "policies: [policies.yaml]\n"
        "audit-log: audit.jsonl\n"
        "state-dir: state\n"
        "concurrency: 8\n" +
        extra;
    writeFile(dir_ / "bulkwarden.yaml", cfg);
    return (dir_ / "bulkwarden.yaml").string();
  }

  std::unique_ptr<Child> start(std::vector<std::string> args,
                               const std::vector<std::string>& env = {}) {
    ++runs_;
    args.insert(args.end(), {"--log-level", "debug"});  // the most verbose, for the sweep
    return std::make_unique<Child>(args, (dir_ / ("out" + std::to_string(runs_))).string(),
                                   (dir_ / ("err" + std::to_string(runs_))).string(), env);
  }
  // Runs the binary to completion; returns the exit code.
  int run(const std::vector<std::string>& args) {
    child_ = start(args);
    return child_->wait();
  }
  std::string err() const { return child_ ? child_->err() : ""; }
  std::string out() const { return child_ ? child_->out() : ""; }

  std::string auditPath() const { return (dir_ / "audit.jsonl").string(); }
  std::vector<Poco::JSON::Object::Ptr> audit(const std::string& type = "") const {
    return auditObjects(auditPath(), recordType(type));
  }

  fs::path dir_;
  std::unique_ptr<sim::SimServer> server_;
  std::unique_ptr<Child> child_;
  int runs_ = 0;
};

}  // namespace bulkwarden::testing
