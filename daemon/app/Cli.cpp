#include "app/Cli.h"

#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "app/Commands.h"
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
  bulkwarden validate [--config FILE]                     check config and policies (like nginx -t)
  bulkwarden plan [--config FILE] [--format table|json]   read-only: what each policy would do now
  bulkwarden audit verify FILE                            check an audit log's hash chain
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
  69 Salesforce unavailable or refusing (run --once, plan), 70 internal error,
  74 the audit trail cannot be written, 75 another bulkwarden holds the state-dir lock,
  78 configuration error (with file:line:col)

Documentation: README.md and docs/ in the source tree, or /usr/share/doc/bulkwarden.
)";

int usageError(const std::string& message) {
  fmt::print(stderr, "bulkwarden: {}\nTry `bulkwarden --help`.\n", message);
  return kExitUsage;
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
  if (command == "audit") {
    if (args.size() == 2 && args[0] == "verify") return auditVerifyCommand(args[1]);
    return usageError("usage: bulkwarden audit verify FILE");
  }

  RunOptions run;
  std::string format = "table";
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
    } else if (a == "--dry-run" && command == "run") {
      run.dryRun = true;
    } else if (a == "--format" && command == "plan") {
      auto v = value("--format");
      if (!v || (*v != "table" && *v != "json")) return usageError("--format is table or json");
      format = *v;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    } else {
      return usageError(fmt::format("unknown option '{}' for `{}`", a, command));
    }
  }
  if (command == "run") return runCommand(run);
  if (command == "validate") return validateCommand(run.configPath);
  if (command == "plan") return planCommand(run.configPath, format);
  return usageError(fmt::format("unknown command '{}'", command));
}

}  // namespace

int main(int argc, char** argv) {
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
