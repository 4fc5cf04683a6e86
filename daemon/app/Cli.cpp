#include "app/Cli.h"

#include <Poco/Util/OptionException.h>
#include <Poco/Util/OptionProcessor.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>
#include <fmt/format.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "app/AuditQuery.h"
#include "app/Commands.h"
#include "app/ConnectCheck.h"
#include "app/ExitCodes.h"
#include "app/ScheduleCommand.h"
#include "app/Service.h"
#include "app/Signals.h"
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

constexpr const char* kRunUsage =
    R"(Usage: bulkwarden [run] [--config FILE] [--once] [--dry-run] [--log-level LEVEL]

The daemon: runs every policy on its schedule until SIGTERM (systemd: Type=notify, in the
foreground; --daemon is refused). SIGHUP reloads the configuration, SIGUSR1 reopens the audit log.
  --config FILE      configuration file (default /etc/bulkwarden/bulkwarden.yaml)
  --once             run every policy once, whatever its schedule, then exit (0, 69 or 74)
  --dry-run          force every policy into dry-run: decide and record, send nothing
)";

constexpr const char* kValidateUsage =
    R"(Usage: bulkwarden validate [--config FILE] [--connect]

Checks the configuration, the policies and every secret as `run` would read them (like nginx -t);
prints the policies.
  --connect  also log in to every org, read one page of its jobs, and warn when the user lacks
             "Manage Data Integrations" (it can then act only on the jobs it created)
Exit codes: 0 valid, 69 an org cannot be reached (--connect), 78 configuration error (with
file:line:col).
)";

constexpr const char* kPlanUsage =
    R"(Usage: bulkwarden plan [--config FILE] [--format table|json] [--policy NAME] [--org NAME]
                       [--detailed-exitcode]

Read-only: lists the jobs of every org and shows what each policy would do now. Writes nothing:
no audit record, no state (it reads the daemon's state store read-only).
  --policy NAME        only this policy
  --org NAME           only this org
  --format FMT         table (default) or json
  --detailed-exitcode  exit 2 when aborts or deletes would be sent, 0 when nothing would be
Exit codes: 0, 2 (--detailed-exitcode), 64 usage, 69 a listing failed, 78 configuration error.
)";

// The options of one subcommand, parsed with Util's OptionSet/OptionProcessor.
struct Parsed {
  std::map<std::string, std::string> options;  // full name -> value ("" for a flag)
  std::vector<std::string> positional;
};

Poco::Util::OptionSet optionsFor(const std::string& command) {
  using Poco::Util::Option;
  Poco::Util::OptionSet set;
  // Repeatable: the last one wins, as before OptionSet.
  set.addOption(Option("help", "h", "this subcommand's help").repeatable(true));
  set.addOption(Option("config", "c", "configuration file").argument("FILE").repeatable(true));
  if (command == "run") {
    set.addOption(Option("once", "", "one pass, then exit").repeatable(true));
    set.addOption(Option("dry-run", "", "force dry-run").repeatable(true));
  }
  if (command == "validate") {
    set.addOption(Option("connect", "", "also log in to every org").repeatable(true));
  }
  if (command == "plan") {
    set.addOption(Option("format", "", "table or json").argument("FMT").repeatable(true));
    set.addOption(Option("policy", "", "only this policy").argument("NAME").repeatable(true));
    set.addOption(Option("org", "", "only this org").argument("NAME").repeatable(true));
    set.addOption(Option("detailed-exitcode", "", "2 when actions would be sent").repeatable(true));
  }
  return set;
}

// Parses `args` against the command's OptionSet. OptionProcessor would take "--conf" for
// "--config" (a prefix) and "--config" as the last word as a missing argument of its own kind:
// names are checked exactly first, and every error becomes the one usage line of before.
std::optional<Parsed> parseOptions(const std::string& command, const std::vector<std::string>& args,
                                   int& code) {
  Poco::Util::OptionSet set = optionsFor(command);
  Poco::Util::OptionProcessor processor(set);
  processor.setUnixStyle(true);
  Parsed parsed;
  std::string pending;  // the option whose argument the next word is
  for (const auto& a : args) {
    if (pending.empty() && a.size() > 1 && a[0] == '-') {
      bool longForm = a.rfind("--", 0) == 0;
      std::string name = longForm ? a.substr(2, a.find('=') - 2) : a.substr(1);
      bool known = false;
      for (const auto& o : set) {
        known = known || (longForm ? o.fullName() == name : o.shortName() == name);
      }
      if (!known || (!longForm && name.size() != 1)) {
        code = usageError(fmt::format("unknown option '{}' for `{}`", a, command));
        return std::nullopt;
      }
    }
    std::string name;
    std::string value;
    try {
      if (!processor.process(a, name, value)) {
        parsed.positional.push_back(a);
        continue;
      }
    } catch (const Poco::Util::OptionException& e) {
      code = usageError(fmt::format("{} for `{}`", e.displayText(), command));
      return std::nullopt;
    }
    if (name.empty()) {  // an option whose argument is the next word
      pending = a;
      continue;
    }
    pending.clear();
    parsed.options[name] = value;
  }
  if (!pending.empty()) {
    code = usageError(pending == "--format" ? std::string("--format is table or json")
                      : pending == "--config" || pending == "-c"
                          ? std::string("--config needs a file")
                          : fmt::format("{} needs a value", pending));
    return std::nullopt;
  }
  return parsed;
}

// The command line split into a subcommand and its arguments, --log-level taken out.
struct CommandLine {
  std::string command = "run";
  std::vector<std::string> args;
  bool explicitCommand = false;
};

// ServerApplication::run forks into the background on --daemon anywhere on the line, before any
// option is parsed; bulkwarden runs in the foreground under systemd (Type=notify), so the three
// options ServerApplication adds on Unix (--daemon, --pidfile, --umask) are refused before it
// sees them. Returns the exit code (64) when one is there.
std::optional<int> refuseDaemonOptions(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    for (const char* refused : {"--daemon", "--pidfile", "--umask"}) {
      if (a == refused || a.rfind(std::string(refused) + "=", 0) == 0) {
        return usageError(fmt::format(
            "{} is not supported: bulkwarden runs in the foreground (systemd Type=notify)",
            refused));
      }
    }
  }
  return std::nullopt;
}

// Applies --log-level (accepted anywhere on the line) and splits off the subcommand; an exit code
// when the line is done with (--help, --version, a usage error).
std::optional<int> split(std::vector<std::string> args, CommandLine& line) {
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
  if (!args.empty() && args[0].rfind("--", 0) != 0) {
    line.command = args[0];
    line.explicitCommand = true;
    args.erase(args.begin());
  }
  line.args = std::move(args);
  return std::nullopt;
}

// bulkwarden as a Poco::Util::ServerApplication. Application's own option processing is switched
// off (defineOptions stops it): it knows one option set for the whole line, while every
// subcommand has its own and --log-level goes anywhere; main() receives the subcommand and its
// arguments and parses them with the subcommand's OptionSet. initialize() and uninitialize() hold
// the service's start-up and shut-down; main() waits for SIGTERM/SIGINT/SIGQUIT with
// waitForTerminationRequest while the supervising loop runs on a thread of its own. The other
// subcommands run in main() and return.
class ServerApp : public Poco::Util::ServerApplication {
 protected:
  void defineOptions(Poco::Util::OptionSet&) override { stopOptionsProcessing(); }

  void initialize(Poco::Util::Application& self) override {
    Poco::Util::ServerApplication::initialize(self);
    std::vector<std::string> args(argv().begin() + 1, argv().end());
    if (auto code = split(std::move(args), line_)) {
      done_ = *code;
      return;
    }
    if (line_.command != "run") return;
    int code = kExitOk;
    auto parsed = parseOptions("run", line_.args, code);
    if (!parsed) {
      done_ = code;
      return;
    }
    parsed_ = std::move(*parsed);
    if (parsed_.options.count("help") || !parsed_.positional.empty() ||
        parsed_.options.count("once")) {
      return;  // main() answers
    }
    RunOptions run = runOptions(parsed_);
    // glibc arenas: see runCommand.
    if (std::getenv("MALLOC_ARENA_MAX") == nullptr) ::mallopt(M_ARENA_MAX, 1);
    // Before any other thread: blocks HUP, USR1 (taken by its thread) and TERM, INT, QUIT (left
    // to waitForTerminationRequest) in this thread and so in every thread started after it.
    service_ = std::make_unique<Service>(run);
    signals_ = std::make_unique<SignalWatcher>(
        nullptr, [this] { service_->requestReload(); }, [this] { service_->requestReopen(); });
    if (int startCode = service_->startUp(); startCode != kExitOk) done_ = startCode;
  }

  void uninitialize() override {
    if (service_) service_->shutDown();
    signals_.reset();
    service_.reset();
    Poco::Util::ServerApplication::uninitialize();
  }

  int main(const std::vector<std::string>&) override {
    if (done_) return *done_;
    const std::string& command = line_.command;
    if (command == "sim") return sim::simCommand(line_.args);
    if (command == "demo") return demoCommand(line_.args);
    if (command == "schedule") return scheduleCommand(line_.args);
    if (command == "audit") return auditCommand(line_.args);
    if (command != "run" && command != "validate" && command != "plan") {
      return usageError(fmt::format("unknown command '{}'", command));
    }
    int code = kExitOk;
    if (command != "run") {
      auto parsed = parseOptions(command, line_.args, code);
      if (!parsed) return code;
      parsed_ = std::move(*parsed);
    }
    if (!parsed_.positional.empty()) {
      const std::string& word = parsed_.positional.front();
      // `bulkwarden --config x validate`: the subcommand came after a global option.
      static const std::vector<std::string_view> kCommands = {
          "run", "validate", "plan", "schedule", "audit", "sim", "demo"};
      if (std::find(kCommands.begin(), kCommands.end(), word) != kCommands.end()) {
        auto config = parsed_.options.find("config");
        return usageError(fmt::format(
            "unknown option '{}' for `{}` (subcommands come first: bulkwarden {}{})", word, command,
            word, config == parsed_.options.end() ? "" : " --config " + config->second));
      }
      return usageError(fmt::format("unknown option '{}' for `{}`", word, command));
    }
    if (parsed_.options.count("help")) {
      std::fputs(command == "run"    ? kRunUsage
                 : command == "plan" ? kPlanUsage
                                     : kValidateUsage,
                 stdout);
      return kExitOk;
    }
    RunOptions run = runOptions(parsed_);
    if (command == "validate") {
      int rc = validateCommand(run.configPath);
      return rc == kExitOk && parsed_.options.count("connect") ? connectCheck(run.configPath) : rc;
    }
    if (command == "plan") {
      std::string format = parsed_.options.count("format") ? parsed_.options["format"] : "table";
      if (format != "table" && format != "json") return usageError("--format is table or json");
      PlanOptions plan;
      plan.configPath = run.configPath;
      plan.format = format;
      if (auto it = parsed_.options.find("policy"); it != parsed_.options.end()) {
        plan.policy = it->second;
      }
      if (auto it = parsed_.options.find("org"); it != parsed_.options.end()) plan.org = it->second;
      plan.detailedExitcode = parsed_.options.count("detailed-exitcode") > 0;
      return planCommand(plan);
    }
    if (!service_) return runCommand(run);  // --once
    // The service: started by initialize(); supervised on a thread of its own while this one
    // waits for the termination request. A supervising loop that gives up (no configuration can
    // run) ends the wait with a SIGTERM to this process.
    std::atomic<int> supervised{kExitOk};
    std::thread supervisor([this, &supervised] {
      supervised = service_->supervise();
      // (ServerApplication::terminate() sends SIGINT, which waitForTerminationRequest leaves out
      // when POCO_ENABLE_DEBUGGER is set; SIGTERM it always waits for.)
      if (supervised != kExitOk) ::kill(::getpid(), SIGTERM);
    });
    waitForTerminationRequest();
    if (supervised == kExitOk) log::notice("stop requested: finishing the actions in flight");
    service_->requestStop();
    supervisor.join();
    return supervised;
  }

 private:
  static RunOptions runOptions(const Parsed& parsed) {
    RunOptions run;
    if (auto it = parsed.options.find("config"); it != parsed.options.end()) {
      run.configPath = it->second;
    }
    run.once = parsed.options.count("once") > 0;
    run.dryRun = parsed.options.count("dry-run") > 0;
    return run;
  }

  CommandLine line_;
  Parsed parsed_;
  std::optional<int> done_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<SignalWatcher> signals_;
};

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
  std::vector<std::string> args(argv, argv + argc);
  if (auto code = refuseDaemonOptions(args)) return *code;
  // Application's constructor installs POCO's handlers for SIGILL, SIGBUS, SIGSEGV and SIGSYS
  // (they abort() where no poco_try is set up): keep the crash handling the process had, so that
  // a crash is reported as what it is (and ASan's handler keeps working).
  std::map<int, struct sigaction> crash;
  for (int sig : {SIGILL, SIGBUS, SIGSEGV, SIGSYS}) ::sigaction(sig, nullptr, &crash[sig]);
  try {
    ServerApp app;
    for (auto& [sig, action] : crash) ::sigaction(sig, &action, nullptr);
    return app.run(args);
  } catch (const std::exception& e) {
    log::write(log::Level::Critical, fmt::format("internal error: {}", e.what()));
    return kExitSoftware;
  }
}

}  // namespace bulkwarden::app
