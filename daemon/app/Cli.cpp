#include "app/Cli.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/AuditQuery.h"
#include "app/Commands.h"
#include "app/ConnectCheck.h"
#include "app/ExitCodes.h"
#include "app/ScheduleCommand.h"
#include "log/Log.h"
#include "sim/SimCommand.h"

namespace bulkwarden::app {
namespace {

constexpr const char* kUsage =
    R"(bulkwarden governs Salesforce Bulk API 2.0 jobs from YAML policies.

Usage:
  bulkwarden [run] [--config FILE] [--once] [--dry-run]   the daemon; --once: one pass, then exit
  bulkwarden validate [--config FILE] [--connect]         check config and policies (like nginx -t);
                                                          --connect: also log in to every org
  bulkwarden plan [--config FILE] [--format table|json] [--policy NAME] [--org NAME]
                  [--detailed-exitcode]   read-only: what each policy would do now
                  (--detailed-exitcode: 0 nothing to do, 2 aborts or deletes would be sent)
  bulkwarden audit verify FILE...                         check a trail: FILE and its rotated files
  bulkwarden audit verify --config FILE                   the trail the config names, against its
                                                          anchor in state-dir (and audit-key)
  bulkwarden audit accept --config FILE                   accept the trail as it is (after a cut)
  bulkwarden audit show [--config FILE | FILE] [filters]  the trail's records: --job --policy
                                                          --org --since --outcome --format
  bulkwarden audit summary [--config FILE | FILE]         counts by org, policy, action, outcome
  bulkwarden schedule [--config FILE] [--from ISO] [--count N] [--format table|json]
                                                          next pass times (see `schedule --help`)
  bulkwarden demo                                         the daemon against a built-in simulated org
  bulkwarden sim [--listen 127.0.0.1:0] [options]         serve a simulated org (see `sim --help`)
  bulkwarden --help | --version

Options:
  --config FILE      configuration file (default /etc/bulkwarden/bulkwarden.yaml)
  --once             run every policy once, then exit
  --dry-run          force every policy into dry-run: decide and record, send nothing
  --format FMT       plan output: table (default) or json
  --log-level LEVEL  debug, info (default), notice, warning, error

Exit codes (sysexits.h):
  0 success, 64 usage error, 65 bad input data (audit verify found a damaged log),
  66 audit verify: a file is missing or unreadable,
  69 Salesforce unavailable or refusing (run --once, plan), 70 internal error,
  74 the audit trail cannot be written, 75 temporary: another bulkwarden holds the
  state-dir lock or the audit trail, the http port is in use, a read-only or full file system,
  78 configuration error (with file:line:col), an unusable secret, an unsafe state-dir, or
  an audit trail a person must look at (unsafe file, behind its anchor)

Documentation: README.md and docs/ in the source tree, or /usr/share/doc/bulkwarden.
)";

int usageError(const std::string& message) {
  fmt::print(stderr, "bulkwarden: {}\nTry `bulkwarden --help`.\n", message);
  return kExitUsage;
}

constexpr const char* kAuditUsage =
    R"(Usage:
  bulkwarden audit verify FILE...            FILE and its rotated files (FILE.000000000001,
                                             logrotate's FILE.1, FILE.2.gz) as one trail; several
                                             FILEs: exactly those
  bulkwarden audit verify --config FILE      the trail the config names, checked against its
                                             anchor (state-dir/audit.anchor) and audit-key
  bulkwarden audit accept --config FILE      take the trail as it is now (after a cut you know
                                             of): moves the anchor, recorded in the trail
  bulkwarden audit show [--config FILE | FILE] [--job ID] [--policy NAME] [--org NAME]
                        [--since 24h|ISO] [--outcome O] [--format text|json]
  bulkwarden audit summary [--config FILE | FILE] [--since 24h|ISO] [--format text|json]
                                             (`audit show --help`)

Exit codes: 0 intact, 65 altered or cut, 66 a file missing or unreadable, 75 the trail is in
use (accept), 78 configuration error.
)";

int auditCommand(const std::vector<std::string>& args) {
  auto usage = [](const std::string& message) {
    fmt::print(stderr, "bulkwarden: {}\n{}", message, kAuditUsage);
    return kExitUsage;
  };
  if (args.empty()) return usage("audit needs a subcommand");
  const std::string& sub = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (sub == "show" || sub == "summary") return auditQueryCommand(sub, rest);
  for (const auto& a : rest) {
    if (a == "--help" || a == "-h") {
      std::fputs(kAuditUsage, stdout);
      return kExitOk;
    }
  }
  std::optional<std::string> config;
  std::vector<std::string> files;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == "--config" || rest[i] == "-c") {
      if (i + 1 >= rest.size()) return usage("--config needs a file");
      config = rest[++i];
    } else if (rest[i].rfind("--config=", 0) == 0) {
      config = rest[i].substr(9);
    } else if (rest[i].rfind("--", 0) == 0) {
      return usage(fmt::format("unknown option '{}' for `audit {}`", rest[i], sub));
    } else {
      files.push_back(rest[i]);
    }
  }
  if (sub == "verify") {
    if (config && !files.empty()) return usage("give FILE... or --config FILE, not both");
    if (config) return auditVerifyConfigCommand(*config);
    if (files.empty()) return usage("audit verify needs FILE... or --config FILE");
    return auditVerifyCommand(files);
  }
  if (sub == "accept") {
    if (!config || !files.empty()) return usage("audit accept takes --config FILE");
    return auditAcceptCommand(*config);
  }
  return usage(fmt::format("unknown audit subcommand '{}'", sub));
}

int dispatch(std::vector<std::string> args) {
  // --log-level is accepted anywhere on the line.
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--log-level") {
      if (i + 1 >= args.size()) return usageError("--log-level needs a value");
      auto level = log::parseLevel(args[i + 1]);
      if (!level) return usageError(fmt::format("unknown log level '{}'", args[i + 1]));
      log::setLevel(*level);
      args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
      --i;
    }
  }
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (!args.empty() && args[0] == "--version") {
    fmt::print("bulkwarden {}\n", BULKWARDEN_VERSION);
    return kExitOk;
  }
  std::string command = "run";
  if (!args.empty() && args[0].rfind("--", 0) != 0) {
    command = args[0];
    args.erase(args.begin());
  }

  if (command == "sim") return sim::simCommand(args);
  if (command == "demo") return demoCommand(args);
  if (command == "schedule") return scheduleCommand(args);
  if (command == "audit") return auditCommand(args);

  RunOptions run;
  std::string format = "table";
  PlanOptions plan;
  bool connect = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      (void)name;
      return args[++i];
    };
    if (a == "--config" || a == "-c") {
      auto v = value("--config");
      if (!v) return usageError("--config needs a file");
      run.configPath = *v;
    } else if (a.rfind("--config=", 0) == 0) {
      run.configPath = a.substr(9);
    } else if (a == "--once" && command == "run") {
      run.once = true;
    } else if (a == "--connect" && command == "validate") {
      connect = true;  // app/ConnectCheck.h
    } else if (a == "--dry-run" && command == "run") {
      run.dryRun = true;
    } else if (a == "--format" && command == "plan") {
      auto v = value("--format");
      if (!v || (*v != "table" && *v != "json")) return usageError("--format is table or json");
      format = *v;
    } else if ((a == "--policy" || a == "--org") && command == "plan") {
      auto v = value(a.c_str());
      if (!v) return usageError(fmt::format("{} needs a name", a));
      (a == "--policy" ? plan.policy : plan.org) = *v;
    } else if (a == "--detailed-exitcode" && command == "plan") {
      plan.detailedExitcode = true;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    } else {
      // `bulkwarden --config x validate`: the subcommand came after a global option.
      static const std::vector<std::string_view> kCommands = {
          "run", "validate", "plan", "schedule", "audit", "sim", "demo"};
      if (std::find(kCommands.begin(), kCommands.end(), a) != kCommands.end()) {
        return usageError(fmt::format(
            "unknown option '{}' for `{}` (subcommands come first: bulkwarden {}{})", a, command, a,
            run.configPath == RunOptions{}.configPath ? "" : " --config " + run.configPath));
      }
      return usageError(fmt::format("unknown option '{}' for `{}`", a, command));
    }
  }
  if (command == "run") return runCommand(run);
  if (command == "validate") {
    const int rc = validateCommand(run.configPath);
    return rc == kExitOk && connect ? connectCheck(run.configPath) : rc;
  }
  if (command == "plan") {
    plan.configPath = run.configPath;
    plan.format = format;
    return planCommand(plan);
  }
  return usageError(fmt::format("unknown command '{}'", command));
}

}  // namespace

mode_t restrictUmask() {
  mode_t current = ::umask(kUmaskFloor);
  mode_t next = current | kUmaskFloor;
  ::umask(next);
  return next;
}

int main(int argc, char** argv) {
  restrictUmask();
  // A write past RLIMIT_FSIZE must fail with EFBIG (handled: fail closed), not kill the process.
  std::signal(SIGXFSZ, SIG_IGN);
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return dispatch(std::move(args));
  } catch (const std::exception& e) {
    log::write(log::Level::Critical, fmt::format("internal error: {}", e.what()));
    return kExitSoftware;
  }
}

}  // namespace bulkwarden::app
