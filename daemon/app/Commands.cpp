#include "app/Commands.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>
#include <fmt/format.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <iostream>
#include <map>
#include <tuple>

#include "app/ActionLog.h"
#include "app/BudgetReport.h"
#include "app/Composition.h"
#include "app/ExitCodes.h"
#include "app/InstanceLock.h"
#include "app/OpenIntents.h"
#include "app/Runtime.h"
#include "app/ScheduleCommand.h"
#include "app/Service.h"
#include "app/Signals.h"
#include "audit/AuditLog.h"
#include "audit/Records.h"
#include "cluster/ClusterNode.h"
#include "config/YamlDocument.h"
#include "engine/Pass.h"
#include "engine/Scheduler.h"
#include "log/Log.h"
#include "state/SqliteStateStore.h"

namespace bulkwarden::app {

int exitCodeFor(const std::vector<engine::PassSummary>& summaries) {
  int code = kExitOk;
  for (const auto& s : summaries) {
    if (s.auditError) return kExitIoErr;
    if (!s.listingComplete) code = kExitUnavailable;
    for (auto& [o, n] : s.outcomes) {
      if (n > 0 && (o == engine::Outcome::Failed || o == engine::Outcome::Unknown ||
                    o == engine::Outcome::Refused || o == engine::Outcome::StillActive ||
                    o == engine::Outcome::NotPermitted)) {
        code = kExitUnavailable;
      }
    }
  }
  return code;
}

audit::Fields policyFileFields(const config::Config& config) {
  audit::Fields files;
  for (size_t i = 0; i < config.policyFiles.size() && i < config.policyFileDigests.size(); ++i) {
    files.add(config.policyFiles[i], config.policyFileDigests[i]);
  }
  return files;
}

int exitCodeFor(const audit::AuditError& error, const std::string& path) {
  switch (error.kind()) {
    case audit::AuditError::Kind::Refused:
      return kExitConfig;
    case audit::AuditError::Kind::Busy:
      return kExitTempFail;
    case audit::AuditError::Kind::Io:
      break;
  }
  // An I/O error on a read-only or full file system may clear by itself (75); others are 74.
  return path.empty() ? kExitIoErr : auditOpenExitCode(path);
}

namespace {

// A string from outside (the org's listing, a policy, the audit file) as printed: control
// characters escaped, secrets masked, capped, so that it can neither move the terminal's cursor
// nor pass for a line of its own.
std::string shown(std::string_view text) { return log::outside(text); }

}  // namespace

int runCommand(const RunOptions& options) {
  // glibc gives each thread that allocates its own arena (up to 8 per core); the pass's worker
  // threads would leave a dozen behind, 3 MB of an idle daemon's resident memory. Actions wait
  // on the network, not on malloc, so one arena costs nothing measurable (MALLOC_ARENA_MAX in the
  // environment still wins).
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) ::mallopt(M_ARENA_MAX, 1);
  if (!options.once) return Service(options).run();
  model::StopSignal stop;
  SignalWatcher signals([&stop] { stop.request(); }, nullptr);  // before any other thread
  int code = kExitOk;
  auto c = Composer::clients(Mode::Once, options.configPath, options.dryRun, code);
  if (!c) return code;
  Runtime* rt = c->rt.get();
  if (rt->config.cluster && !options.dryRun) {
    // One pass takes no lease: it would act on orgs another node governs (docs/scaling.md).
    log::error(
        "{}: run --once takes no cluster lease; with cluster: use `bulkwarden run`, or "
        "--dry-run",
        options.configPath);
    return kExitConfig;
  }
  std::string why;
  int lockCode = kExitTempFail;
  auto lock = InstanceLock::acquire(rt->config.stateDir, why, lockCode);
  if (!lock) {
    log::error("{}", why);
    return lockCode;
  }
  if (!Composer::audit(*c, code)) return code;
  audit::AuditLog* audit = c->auditLog.get();
  try {
    recoverOpenIntents(*rt, *audit);
  } catch (const audit::AuditError& e) {
    log::error("{}", e.what());
    return kExitIoErr;
  }
  bool dryRun = c->dryRun;
  try {
    std::string names;
    for (const auto* p : rt->policies) names += (names.empty() ? "" : ",") + p->name;
    audit::write(*audit, "startup",
                 audit::ConfigRecord{rt->config.path, static_cast<int64_t>(rt->orgs.size()), names,
                                     dryRun, BULKWARDEN_VERSION, rt->config.policyDigest,
                                     policyFileFields(rt->config)});
  } catch (const audit::AuditError& e) {
    log::error("{}", e.what());
    return kExitIoErr;
  }
  if (!Composer::state(*c, code, nullptr, {})) return code;
  const model::Clock& clock = *rt->clock;
  ActionLog actionLog;  // one journal line per action and report
  // The signal thread started before the clients: its stop request is passed on to theirs (until
  // the clients are gone).
  struct Forward {
    const model::StopSignal& from;
    int id;
    ~Forward() { from.unsubscribe(id); }
  } forward{stop, stop.subscribe([rt] { rt->stop.request(); })};
  if (stop.requested()) rt->stop.request();
  engine::Scheduler scheduler(rt->orgs, rt->policies, c->schedulerOptions(), *audit, clock,
                              rt->stop, &actionLog);
  log::info("{} org(s), {} polic{}{}; audit trail {}", rt->orgs.size(), rt->policies.size(),
            rt->policies.size() == 1 ? "y" : "ies", dryRun ? ", dry-run forced" : "",
            audit->path());
  // --once runs every policy now, whatever its schedule: say which it runs outside of it.
  for (const auto& note : outsideScheduleNotes(rt->policies, clock.now())) log::warning("{}", note);
  return exitCodeFor(scheduler.runOnce());
}

int validateCommand(const std::string& configPath) {
  auto config = loadOrReport(configPath);
  if (!config) return kExitConfig;
  // Every secret is checked as `run` would read it (existence, type, owner, mode, not empty),
  // without printing or keeping it. A credential can only be checked where systemd provides it
  // (the unit's ExecStartPre= has $CREDENTIALS_DIRECTORY); run by hand, it is named, not failed,
  // so that `validate && systemctl reload` keeps working on the packaged config.
  const char* credDir = std::getenv("CREDENTIALS_DIRECTORY");
  bool haveCredentials = credDir != nullptr && *credDir != '\0';
  std::vector<config::Diagnostic> problems;
  for (const config::SecretRef* ref : config::secretRefs(*config)) {
    if (ref->source == config::SecretRef::Source::Credential && !haveCredentials) {
      fmt::print(stderr,
                 "{}: note: {} not checked: credentials come from systemd's LoadCredential= "
                 "($CREDENTIALS_DIRECTORY is not set); to check it: systemd-run -p "
                 "LoadCredential={}:/path/to/secret --pipe --wait bulkwarden validate --config {} "
                 "(docs/operations.md)\n",
                 shown(ref->where.str()), shown(ref->describe()), shown(ref->name),
                 shown(configPath));
      continue;
    }
    try {
      ref->check();
    } catch (const config::ConfigError& e) {
      problems.insert(problems.end(), e.diagnostics().begin(), e.diagnostics().end());
    }
  }
  if (!problems.empty()) {
    for (const auto& d : problems) fmt::print(stderr, "{}\n", shown(d.str()));
    fmt::print(stderr, "bulkwarden: {} secret{} cannot be used in {}\n", problems.size(),
               problems.size() == 1 ? "" : "s", shown(configPath));
    return kExitConfig;
  }
  fmt::print("{}: OK: {} org(s), {} polic{} from {} file(s)\n", shown(configPath),
             config->orgs.size(), config->policies.size(),
             config->policies.size() == 1 ? "y" : "ies", config->policyFiles.size());
  for (const auto& p : config->policies) {
    std::string when = p.schedule.cron
                           ? fmt::format("cron \"{}\" {}", shown(p.schedule.cron->text()),
                                         shown(p.schedule.zone ? p.schedule.zone->name() : "UTC"))
                           : "every " + model::formatDuration(p.schedule.every);
    fmt::print("  {:<32} {:<11} {:<7} {:<7} {}  {}\n", shown(p.name),
               model::resourceName(p.resource), policy::toString(p.action),
               policy::toString(p.mode), when, log::outside(p.where.str(), log::kMaxLineBytes));
  }
  // The API budget: what the policies are projected to cost a day, per org (issue 15).
  printProjections(projectCalls(*config, readOnlyState(*config).get(), model::SystemClock().now()),
                   stdout);
  return kExitOk;
}

namespace {

// The kind of a held-back reason, for `plan --format json`: what an operator can do about it
// differs (wait for a window, raise a limit, remove an exemption, fix a filter).
std::string_view heldKind(std::string_view held) {
  if (held.rfind("deferred by on-limit: cap", 0) == 0) return "cap";
  if (held.rfind("over its limit", 0) == 0) return "limit";
  if (held.rfind("outside the policy's windows", 0) == 0) return "window";
  if (held.rfind("exempted by", 0) == 0) return "exempt";
  if (held.rfind("undecided", 0) == 0) return "undecided";
  return "other";
}

// 1419 -> "1,419": totals an operator reads at a glance.
std::string withCommas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string_view wouldVerb(policy::Action action) {
  switch (action) {
    case policy::Action::Abort:
      return "would be aborted";
    case policy::Action::Delete:
      return "would be deleted";
    case policy::Action::Report:
      return "would be reported";
  }
  return "would be acted on";
}

}  // namespace

int planCommand(const std::string& configPath, const std::string& format) {
  PlanOptions options;
  options.configPath = configPath;
  options.format = format;
  return planCommand(options);
}

int planCommand(const PlanOptions& options) {
  // Read-only: no audit record, the state read read-only (Composition.h, Mode::Plan).
  int code = kExitOk;
  auto c = Composer::clients(Mode::Plan, options.configPath, true, code);
  if (!c) return code;
  Composer::audit(*c, code);
  Composer::state(*c, code, nullptr, {});
  code = kExitOk;
  Runtime* rt = c->rt.get();
  const std::string& format = options.format;
  // Filters name what exists: a typo must not read as "nothing to do".
  if (!options.policy.empty()) {
    std::vector<std::string_view> names;
    for (const auto* p : rt->policies) names.push_back(p->name);
    if (std::find(names.begin(), names.end(), options.policy) == names.end()) {
      auto near = config::closest(options.policy, names);
      fmt::print(stderr, "bulkwarden plan: no policy named '{}'{}\n", shown(options.policy),
                 near ? fmt::format(" (did you mean '{}'?)", shown(*near)) : "");
      return kExitUsage;
    }
  }
  if (!options.org.empty()) {
    std::vector<std::string_view> names;
    for (const auto& o : rt->orgs) names.push_back(o.name);
    if (std::find(names.begin(), names.end(), options.org) == names.end()) {
      auto near = config::closest(options.org, names);
      fmt::print(stderr, "bulkwarden plan: no org named '{}'{}\n", shown(options.org),
                 near ? fmt::format(" (did you mean '{}'?)", shown(*near)) : "");
      return kExitUsage;
    }
  }
  audit::AuditSink& audit = *c->sink;
  const model::Clock& clock = *rt->clock;
  const model::StopSignal& stop = rt->stop;
  state::StateStore* stateStore = c->state.get();
  bool wouldSend = false;
  std::map<policy::Action, int64_t> totals;
  int64_t heldTotal = 0;
  Poco::JSON::Array::Ptr jsonPasses = new Poco::JSON::Array;
  // The table lists policies by name, then org, then job id, whatever the load or listing order.
  struct Section {
    std::string policy;
    std::string org;
    const policy::Policy* p = nullptr;
    std::vector<engine::Decision> decisions;
  };
  std::vector<Section> sections;
  std::vector<std::string> headers;
  std::vector<size_t> orgIndex(rt->orgs.size());
  for (size_t i = 0; i < orgIndex.size(); ++i) orgIndex[i] = i;
  std::sort(orgIndex.begin(), orgIndex.end(),
            [&](size_t a, size_t b) { return rt->orgs[a].name < rt->orgs[b].name; });
  for (size_t oi : orgIndex) {
    const auto& org = rt->orgs[oi];
    if (!options.org.empty() && org.name != options.org) continue;
    for (auto resource : {model::ResourceKind::Query, model::ResourceKind::Ingest}) {
      engine::PassOptions po;
      po.org = org.name;
      po.resource = resource;
      po.dryRun = true;  // read-only, whatever the policies say
      po.maxJobsPerListing = rt->config.maxJobsPerListing;
      for (const auto* p : rt->policies) {
        if (!options.policy.empty() && p->name != options.policy) continue;
        if (p->resource == resource && p->appliesTo(org.name)) po.policies.push_back(p);
      }
      if (po.policies.empty()) continue;
      po.runId = "plan";
      po.state = stateStore;
      engine::Pass pass(po, *org.jobs, audit, clock, stop);
      auto summary = pass.run();
      if (!summary.listingComplete) code = kExitUnavailable;
      std::map<std::string, std::vector<const engine::Decision*>> byPolicy;
      for (const auto& d : pass.decisions()) byPolicy[d.policy->name].push_back(&d);
      for (auto& [name, ds] : byPolicy) {
        std::stable_sort(ds.begin(), ds.end(),
                         [](const auto* a, const auto* b) { return a->job.id < b->job.id; });
      }
      auto policiesByName = po.policies;
      std::stable_sort(policiesByName.begin(), policiesByName.end(),
                       [](const auto* a, const auto* b) { return a->name < b->name; });
      for (const auto* p : policiesByName) {
        for (const auto* d : byPolicy[p->name]) {
          if (!d->held.empty()) {
            ++heldTotal;
            continue;
          }
          ++totals[p->action];
          if (p->action != policy::Action::Report && p->mode == policy::Mode::Enforce &&
              !rt->config.dryRun) {
            wouldSend = true;
          }
        }
      }
      if (format == "json") {
        Poco::JSON::Object::Ptr jp = new Poco::JSON::Object;
        jp->set("org", org.name);
        jp->set("resource", std::string(model::resourceName(resource)));
        jp->set("jobs_seen", summary.jobsSeen);
        jp->set("listing_complete", summary.listingComplete);
        if (summary.listingError) jp->set("error", summary.listingError->describe());
        Poco::JSON::Array::Ptr pols = new Poco::JSON::Array;
        for (const auto* p : policiesByName) {
          Poco::JSON::Object::Ptr pj = new Poco::JSON::Object;
          pj->set("policy", p->name);
          pj->set("action", std::string(policy::toString(p->action)));
          pj->set("mode", std::string(policy::toString(p->mode)));
          Poco::JSON::Array::Ptr jobs = new Poco::JSON::Array;
          int64_t acting = 0, held = 0;
          for (const auto* d : byPolicy[p->name]) {
            Poco::JSON::Object::Ptr jj = new Poco::JSON::Object;
            // Every listed field, as Salesforce spells it; the four below keep their old form.
            for (auto field : model::kAllJobFields) {
              jj->set(std::string(model::fieldName(field)), d->job.text(field));
            }
            jj->set("id", d->job.id);
            jj->set("state", std::string(model::toString(d->job.state)));
            jj->set("object", d->job.object);
            jj->set("createdDate", model::formatSalesforce(d->job.createdDate));
            jj->set("reason", d->reason);
            if (!d->held.empty()) {
              jj->set("held", d->held);
              Poco::JSON::Object::Ptr hb = new Poco::JSON::Object;
              hb->set("reason", d->held);
              hb->set("kind", std::string(heldKind(d->held)));
              jj->set("held_back", hb);
              ++held;
            } else {
              ++acting;
            }
            if (!d->alsoMatched.empty()) {
              Poco::JSON::Array::Ptr also = new Poco::JSON::Array;
              for (const auto& n : d->alsoMatched) also->add(n);
              jj->set("also_matched", also);
            }
            jobs->add(jj);
          }
          pj->set("jobs", jobs);
          pj->set("would", acting);
          pj->set("held", held);
          pols->add(pj);
        }
        jp->set("policies", pols);
        Poco::JSON::Array::Ptr limited = new Poco::JSON::Array;
        for (const auto& l : summary.limited) limited->add(l);
        jp->set("limited", limited);
        jsonPasses->add(jp);
        continue;
      }
      headers.push_back(fmt::format("{} {}: {} jobs listed{}\n", shown(org.name),
                                    model::resourceName(resource), summary.jobsSeen,
                                    summary.listingComplete
                                        ? ""
                                        : "; LISTING FAILED, nothing would be done: " +
                                              shown(summary.listingError->describe())));
      for (const auto& l : summary.limited) {
        bool capped = l.find(", capped to ") != std::string::npos;
        headers.push_back(
            fmt::format("  LIMIT {}: {}\n", shown(l),
                        capped ? "acts on the oldest, defers the rest" : "acts on nothing"));
      }
      for (const auto* p : policiesByName) {
        Section sec{p->name, org.name, p, {}};
        for (const auto* d : byPolicy[p->name]) sec.decisions.push_back(*d);
        sections.push_back(std::move(sec));
      }
    }
  }
  if (format == "json") {
    // Every character outside ASCII as \uXXXX: C1 controls, U+2028 and stray bytes from the org
    // cannot reach a terminal raw, and the output stays valid JSON.
    Poco::JSON::Stringifier::stringify(jsonPasses, std::cout, 2, -1,
                                       Poco::JSON_WRAP_STRINGS | Poco::JSON_ESCAPE_UNICODE);
    std::cout << "\n";
  } else {
    for (const auto& h : headers) fmt::print("{}", h);
    std::stable_sort(sections.begin(), sections.end(), [](const Section& a, const Section& b) {
      return std::tie(a.policy, a.org) < std::tie(b.policy, b.org);
    });
    for (const auto& sec : sections) {
      size_t held = 0;
      for (const auto& d : sec.decisions) held += d.held.empty() ? 0 : 1;
      fmt::print("{} on {} ({}, {}): {} job(s) {}, {} held back\n", shown(sec.policy),
                 shown(sec.org), policy::toString(sec.p->action), policy::toString(sec.p->mode),
                 sec.decisions.size() - held, wouldVerb(sec.p->action), held);
      for (const auto& d : sec.decisions) {
        fmt::print("    {}  {:<14} {:<12} {}{}\n", shown(d.job.id), model::toString(d.job.state),
                   shown(d.job.object),
                   d.held.empty() ? "" : "HELD (" + shown(d.held) + "): ", shown(d.reason));
      }
    }
    fmt::print("total: {} abort, {} delete, {} report; {} held back\n",
               withCommas(totals[policy::Action::Abort]),
               withCommas(totals[policy::Action::Delete]),
               withCommas(totals[policy::Action::Report]), withCommas(heldTotal));
  }
  // The projected calls a day per org, after the plan (on stderr with --format json, which
  // keeps stdout one JSON document).
  printProjections(projectCalls(rt->config, stateStore, clock.now()),
                   format == "json" ? stderr : stdout);
  if (code == kExitOk && options.detailedExitcode && wouldSend) return 2;
  return code;
}

namespace {

// Prints a verify report; returns the exit code (0 intact, 65 altered, 66 a file unreadable).
int printReport(const std::string& name, const std::vector<std::string>& files,
                const audit::VerifyReport& report, const std::vector<std::string>& unchecked) {
  for (const auto& u : unchecked) {
    fmt::print(stderr,
               "{}: NOT CHECKED: {} (compressed in a form bulkwarden cannot read; decompress it "
               "beside the others to check it)\n",
               name, u);
  }
  if (!report.ok) {
    fmt::print(stderr, "{}: {} at {}: {}\n", shown(name),
               report.unreadable ? "UNREADABLE" : "BROKEN",
               report.firstBadSeq ? fmt::format("seq {}", *report.firstBadSeq)
                                  : fmt::format("line {}", report.firstBadLine),
               shown(report.problem));
    return report.unreadable ? kExitNoInput : kExitDataErr;
  }
  fmt::print("{}: OK: {} records in {} file{}, seq {}..{}, hash chain intact{}\n", shown(name),
             report.records, files.size(), files.size() == 1 ? "" : "s", report.firstSeq,
             report.lastSeq, report.macs > 0 ? fmt::format(", {} macs match", report.macs) : "");
  if (!report.openIntents.empty()) {
    std::string seqs;
    for (auto s : report.openIntents) seqs += (seqs.empty() ? "" : ", ") + std::to_string(s);
    fmt::print("{}: {} intent(s) without a result (the process stopped mid-action): seq {}\n",
               shown(name), report.openIntents.size(), seqs);
  }
  return kExitOk;
}

bool missing(const std::string& file) {
  struct stat st {};
  if (::lstat(file.c_str(), &st) == 0) return false;
  fmt::print(stderr, "{}: cannot read: {}\n", file, std::strerror(errno));
  return true;
}

}  // namespace

int auditVerifyCommand(const std::vector<std::string>& files) {
  if (files.empty()) return kExitUsage;
  for (const auto& f : files) {
    if (missing(f)) return kExitNoInput;
  }
  std::vector<std::string> trail = files;
  std::vector<std::string> unchecked;
  if (files.size() == 1) trail = audit::trailFiles(files[0], &unchecked);
  auto report = audit::verifyFiles(trail);
  return printReport(files.size() == 1 ? files[0] : files.back(), trail, report, unchecked);
}

int auditVerifyConfigCommand(const std::string& configPath) {
  auto config = loadOrReport(configPath);
  if (!config) return kExitConfig;
  // Cluster mode: the shared trail in PostgreSQL is the one of record (docs/scaling.md).
  if (config->cluster) return cluster::verifyClusterTrail(*config->cluster);
  audit::AuditOptions options;
  try {
    options = auditOptionsFor(*config);
  } catch (const config::ConfigError& e) {
    for (const auto& d : e.diagnostics()) fmt::print(stderr, "{}\n", d.str());
    return kExitConfig;
  }
  const std::string& path = config->auditLog;
  if (missing(path)) return kExitNoInput;
  std::optional<audit::Anchor> anchor;
  try {
    anchor = audit::readAnchor(options.anchorPath, options.key);
  } catch (const audit::AuditError& e) {
    fmt::print(stderr, "{}: BROKEN: {}\n", path, e.what());
    return kExitDataErr;
  }
  if (!anchor) {
    fmt::print(stderr,
               "{}: BROKEN: its anchor {} is missing: a cut tail or head cannot be found. The "
               "daemon creates it when it opens the trail; if it never ran with this version, "
               "start it once (or run `bulkwarden audit accept --config {}`)\n",
               path, options.anchorPath, configPath);
    return kExitDataErr;
  }
  if (anchor->trail != path) {
    fmt::print(stderr,
               "{}: BROKEN: its anchor {} names another trail ({}); run `bulkwarden audit accept "
               "--config {}` to anchor this one\n",
               path, options.anchorPath, anchor->trail, configPath);
    return kExitDataErr;
  }
  if (!options.key.empty() && !anchor->authenticated) {
    fmt::print(stderr,
               "{}: BROKEN: its anchor {} carries no mac, though audit-key is set: it was "
               "written before the key (start the daemon once) or forged\n",
               path, options.anchorPath);
    return kExitDataErr;
  }
  std::vector<std::string> unchecked;
  auto files = audit::trailFiles(path, &unchecked);
  audit::VerifyOptions vo;
  vo.key = options.key;
  vo.anchor = &*anchor;
  auto report = audit::verifyFiles(files, vo);
  int code = printReport(path, files, report, unchecked);
  if (code == kExitOk) {
    fmt::print("{}: matches its anchor {} (seq {}..{}){}\n", path, options.anchorPath,
               anchor->firstSeq, anchor->lastSeq,
               options.key.empty() ? "; no audit-key: a rewrite by someone who can also write the "
                                     "anchor would not show"
                                   : "; every mac matches audit-key");
  }
  return code;
}

int auditAcceptCommand(const std::string& configPath) {
  auto config = loadOrReport(configPath);
  if (!config) return kExitConfig;
  audit::AuditOptions options;
  try {
    options = auditOptionsFor(*config);
  } catch (const config::ConfigError& e) {
    for (const auto& d : e.diagnostics()) fmt::print(stderr, "{}\n", d.str());
    return kExitConfig;
  }
  options.acceptAnchor = true;
  try {
    // Takes the trail's lock (refused while the daemon runs), records the acceptance, and the
    // record's sync moves the anchor.
    audit::AuditLog log(config->auditLog, options);
    fmt::print("{}: anchor {}: {}; the trail now ends at seq {}\n", config->auditLog,
               options.anchorPath, log.anchorNote().empty() ? "already agreed" : log.anchorNote(),
               log.lastSeq());
  } catch (const audit::AuditError& e) {
    fmt::print(stderr, "bulkwarden: {}\n", e.what());
    return exitCodeFor(e);
  }
  return kExitOk;
}

}  // namespace bulkwarden::app
