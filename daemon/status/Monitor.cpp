#include "status/Monitor.h"

#include <Poco/JSON/Object.h>
#include <prometheus/text_serializer.h>

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

namespace bulkwarden::status {

namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// Passes take from well under a second (idle org) to many minutes (100k jobs, slow org).
const prometheus::Histogram::BucketBoundaries kPassBuckets = {0.1, 0.25, 0.5, 1,   2.5, 5,
                                                              10,  30,   60,  120, 300, 900};
// An fdatasync on a healthy disk takes a few ms; hundreds of ms means trouble.
const prometheus::Histogram::BucketBoundaries kAuditBuckets = {
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

model::Timestamp nowMs() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

std::string resourceLabel(model::ResourceKind k) { return std::string(model::resourceName(k)); }

}  // namespace

Monitor::Monitor()
    : registry_(std::make_shared<prometheus::Registry>()),
      passes_(BuildCounter()
                  .Name("bulkwarden_passes_total")
                  .Help("Passes run, by org, resource and result (ok or failed)")
                  .Register(*registry_)),
      passDuration_(BuildHistogram()
                        .Name("bulkwarden_pass_duration_seconds")
                        .Help("Duration of a pass: listing, evaluation and actions")
                        .Register(*registry_)),
      lastPassTime_(BuildGauge()
                        .Name("bulkwarden_last_pass_timestamp_seconds")
                        .Help("Unix time at which the last pass of an org and resource ended")
                        .Register(*registry_)),
      jobsSeen_(BuildGauge()
                    .Name("bulkwarden_jobs_seen")
                    .Help("Jobs in the last complete listing, by org, resource and state")
                    .Register(*registry_)),
      skipped_(BuildCounter()
                   .Name("bulkwarden_records_skipped_total")
                   .Help("List records that could not be trusted and were skipped")
                   .Register(*registry_)),
      decisions_(BuildCounter()
                     .Name("bulkwarden_decisions_total")
                     .Help("Jobs a policy matched (audit decision records), by org, policy, mode")
                     .Register(*registry_)),
      actions_(BuildCounter()
                   .Name("bulkwarden_actions_total")
                   .Help("Aborts and deletes sent (audit result records), by outcome")
                   .Register(*registry_)),
      apiCalls_(BuildCounter()
                    .Name("bulkwarden_api_calls_total")
                    .Help("HTTP requests sent to Salesforce by passes, by org")
                    .Register(*registry_)),
      apiUsage_(BuildGauge()
                    .Name("bulkwarden_salesforce_api_usage")
                    .Help("Daily API requests used and allowed, as Salesforce last reported them "
                          "(Sforce-Limit-Info)")
                    .Register(*registry_)),
      auditLatency_(BuildHistogram()
                        .Name("bulkwarden_audit_write_seconds")
                        .Help("Time to append an audit record (durable: including fdatasync)")
                        .Register(*registry_)),
      errors_(BuildCounter()
                  .Name("bulkwarden_errors_total")
                  .Help("Errors by kind: Salesforce error classes, audit, config-reload")
                  .Register(*registry_)),
      reloads_(BuildCounter()
                   .Name("bulkwarden_config_reloads_total")
                   .Help("Configuration reloads (SIGHUP), by result")
                   .Register(*registry_)),
      ready_(BuildGauge()
                 .Name("bulkwarden_ready")
                 .Help("1 when /readyz answers 200")
                 .Register(*registry_)),
      info_(BuildGauge()
                .Name("bulkwarden_build_info")
                .Help("Always 1; the version in a label")
                .Register(*registry_)),
      callsByPurpose_(BuildCounter()
                          .Name("bulkwarden_api_calls_by_purpose_total")
                          .Help("Calls to Salesforce admitted by the org's API budget, by purpose "
                                "(list, follow-up, action, recovery, token, probe)")
                          .Register(*registry_)),
      budget_(BuildGauge()
                  .Name("bulkwarden_api_budget_calls")
                  .Help("The org's API budget over the rolling 24 h: limit, spent, available; "
                        "and allowance, the org's daily allowance when known")
                  .Register(*registry_)),
      budgetWarnings_(BuildCounter()
                          .Name("bulkwarden_api_budget_warnings_total")
                          .Help("Times the org's API budget became low or exhausted")
                          .Register(*registry_)),
      budgetDeferred_(BuildCounter()
                          .Name("bulkwarden_api_budget_deferred_total")
                          .Help("Passes, follow-ups and actions the API budget deferred")
                          .Register(*registry_)) {
  info_.Add({{"version", BULKWARDEN_VERSION}}).Set(1);
  snap_.started = nowMs();
  // Make the failure series exist from the start, so that rate() and alerts see a zero first.
  for (const char* k : {"audit", "config-reload"}) errors_.Add({{"kind", k}});
  reloads_.Add({{"result", "ok"}});
  reloads_.Add({{"result", "failed"}});
}

void Monitor::setConfig(const std::string& path, bool dryRun, const std::vector<std::string>& orgs,
                        const std::vector<const policy::Policy*>& policies) {
  std::vector<PolicyInfo> infos;
  for (const auto* p : policies) {
    PolicyInfo info;
    info.name = p->name;
    info.description = p->description;
    info.resource = resourceLabel(p->resource);
    info.action = policy::toString(p->action);
    info.mode = policy::toString(p->mode);
    if (p->schedule.cron) {
      info.cron = p->schedule.cron->text();
      info.timezone = p->schedule.zone ? p->schedule.zone->name() : "UTC";
      info.startingDeadline = p->schedule.startingDeadline;
    } else {
      info.every = p->schedule.every;
    }
    info.orgs = p->orgs;
    infos.push_back(std::move(info));
  }
  model::MutexLock lock(mutex_);
  snap_.configPath = path;
  snap_.dryRun = dryRun;
  snap_.orgs = orgs;
  snap_.policies = std::move(infos);
  // The new scheduler tells its own next passes as it starts.
  snap_.nextPass.clear();
  // Passes of orgs no longer configured would keep /readyz failing forever.
  for (auto it = snap_.lastPass.begin(); it != snap_.lastPass.end();) {
    bool kept = std::find(orgs.begin(), orgs.end(), it->first) != orgs.end();
    it = kept ? std::next(it) : snap_.lastPass.erase(it);
  }
  for (const auto& o : orgs) apiCalls_.Add({{"org", o}});
}

void Monitor::setConfigLoaded(bool loaded) {
  model::MutexLock lock(mutex_);
  snap_.configLoaded = loaded;
}

void Monitor::configReload(bool ok) {
  reloads_.Add({{"result", ok ? "ok" : "failed"}}).Increment();
  if (!ok) error("config-reload");
}

void Monitor::error(const std::string& kind) { errors_.Add({{"kind", kind}}).Increment(); }

void Monitor::onDecision(const engine::PassSummary& s, const engine::Decision& d) {
  decisions_
      .Add({{"org", s.org},
            {"policy", d.policy->name},
            {"mode", std::string(policy::toString(d.mode))}})
      .Increment();
}

void Monitor::onResult(const engine::PassSummary& s, const engine::Decision& d) {
  std::string action(policy::toString(d.policy->action));
  std::string outcome(engine::toString(d.outcome));
  actions_
      .Add({{"org", s.org}, {"policy", d.policy->name}, {"action", action}, {"outcome", outcome}})
      .Increment();
  ActionRecord r{nowMs(), s.org, d.policy->name, action, d.job.id, outcome, d.http};
  model::MutexLock lock(mutex_);
  snap_.recentActions.push_back(std::move(r));
  while (snap_.recentActions.size() > kRecentActions) snap_.recentActions.pop_front();
}

void Monitor::onSkipped(const engine::PassSummary& s, const salesforce::SkippedRecord&) {
  skipped_.Add({{"org", s.org}, {"resource", resourceLabel(s.resource)}}).Increment();
}

void Monitor::onPassEnd(const engine::PassSummary& s) {
  std::string resource = resourceLabel(s.resource);
  passes_.Add({{"org", s.org}, {"resource", resource}, {"result", s.ok() ? "ok" : "failed"}})
      .Increment();
  passDuration_.Add({{"org", s.org}, {"resource", resource}}, kPassBuckets)
      .Observe(static_cast<double>(s.duration.count()) / 1000.0);
  auto finished = nowMs();
  lastPassTime_.Add({{"org", s.org}, {"resource", resource}})
      .Set(static_cast<double>(finished.time_since_epoch().count()) / 1000.0);
  apiCalls_.Add({{"org", s.org}}).Increment(static_cast<double>(s.apiCalls));
  if (s.auditError) error("audit");
  model::MutexLock lock(mutex_);
  snap_.lastPass[s.org][resource] = PassRecord{s, finished};
}

void Monitor::onApiUsage(const std::string& org, int64_t used, int64_t max) {
  if (max <= 0) return;
  apiUsage_.Add({{"org", org}, {"kind", "used"}}).Set(static_cast<double>(used));
  apiUsage_.Add({{"org", org}, {"kind", "max"}}).Set(static_cast<double>(max));
}

void Monitor::onNextPass(const std::string& org, const std::string& policy, model::Timestamp next) {
  model::MutexLock lock(mutex_);
  snap_.nextPass[policy][org] = next;
}

bool PolicyInfo::appliesTo(const std::string& org) const {
  return orgs.empty() || std::find(orgs.begin(), orgs.end(), org) != orgs.end();
}

std::optional<model::Timestamp> Snapshot::nextPassOf(const std::string& org,
                                                     const std::string& resource) const {
  std::optional<model::Timestamp> out;
  for (const auto& p : policies) {
    if (p.resource != resource || !p.appliesTo(org)) continue;
    auto it = nextPass.find(p.name);
    if (it == nextPass.end()) continue;
    auto at = it->second.find(org);
    if (at != it->second.end() && (!out || at->second < *out)) out = at->second;
  }
  return out;
}

Poco::JSON::Array::Ptr policiesJson(const Snapshot& s) {
  Poco::JSON::Array::Ptr pols = new Poco::JSON::Array;
  for (const auto& p : s.policies) {
    Poco::JSON::Object::Ptr j = new Poco::JSON::Object;
    j->set("name", p.name);
    if (!p.description.empty()) j->set("description", p.description);
    j->set("resource", p.resource);
    j->set("action", p.action);
    j->set("mode", s.dryRun ? std::string("dry-run") : p.mode);
    Poco::JSON::Object::Ptr sched = new Poco::JSON::Object;
    if (!p.cron.empty()) {
      sched->set("cron", p.cron);
      sched->set("timezone", p.timezone);
      sched->set("starting_deadline", model::formatDuration(p.startingDeadline));
    } else {
      sched->set("every", model::formatDuration(p.every));
      j->set("every", model::formatDuration(p.every));  // as before, for interval policies
    }
    j->set("schedule", sched);
    if (auto it = s.nextPass.find(p.name); it != s.nextPass.end() && !it->second.empty()) {
      model::Timestamp first = model::Timestamp::max();
      for (const auto& [org, t] : it->second) first = std::min(first, t);
      j->set("next_pass", model::formatRfc3339(first));
    }
    Poco::JSON::Array::Ptr po = new Poco::JSON::Array;
    for (const auto& o : p.orgs) po->add(o);
    j->set("orgs", po);
    pols->add(j);
  }
  return pols;
}

void Monitor::onJobsListed(const std::string& org, model::ResourceKind kind,
                           const std::map<model::JobState, int64_t>& byState) {
  std::string resource = resourceLabel(kind);
  for (auto st : model::kAllJobStates) {
    auto it = byState.find(st);
    jobsSeen_
        .Add({{"org", org}, {"resource", resource}, {"state", std::string(model::toString(st))}})
        .Set(it == byState.end() ? 0.0 : static_cast<double>(it->second));
  }
}

void Monitor::onApiError(const std::string& /*org*/, std::string_view kind, int /*http*/,
                         std::string_view /*code*/) {
  error(std::string(kind));
}

void Monitor::onAuditWrite(audit::WriteKind kind, std::chrono::nanoseconds took, bool ok,
                           const std::string& err) {
  auditLatency_.Add({{"sync", std::string(audit::writeKindName(kind))}}, kAuditBuckets)
      .Observe(std::chrono::duration<double>(took).count());
  if (!ok) error("audit");
  model::MutexLock lock(mutex_);
  snap_.auditWritable = ok;
  snap_.auditError = ok ? "" : err;
}

Snapshot Monitor::snapshot() const {
  model::MutexLock lock(mutex_);
  return snap_;
}

std::vector<std::string> Monitor::notReadyReasons() const {
  std::vector<std::string> why;
  model::MutexLock lock(mutex_);
  if (!snap_.configLoaded) why.push_back("configuration not loaded");
  if (!snap_.auditWritable) why.push_back("audit trail not writable: " + snap_.auditError);
  for (const auto& [org, byResource] : snap_.lastPass) {
    for (const auto& [resource, p] : byResource) {
      if (!p.summary.ok()) why.push_back(fmt::format("last {} pass of {} failed", resource, org));
    }
  }
  return why;
}

void Monitor::setBudgets(std::vector<std::shared_ptr<const engine::ApiBudget>> budgets) {
  model::MutexLock lock(budgetMutex_);
  budgets_ = std::move(budgets);
}

void Monitor::refreshBudgets() const {
  model::MutexLock lock(budgetMutex_);
  for (const auto& b : budgets_) {
    const std::string& org = b->org();
    BudgetSeen& seen = budgetSeen_[org];
    if (seen.budget != b.get()) seen = BudgetSeen{b.get(), {}, {}};
    const auto calls = b->totals();
    for (size_t i = 0; i < calls.size(); ++i) {
      std::string purpose(salesforce::purposeName(static_cast<salesforce::CallPurpose>(i)));
      callsByPurpose_.Add({{"org", org}, {"purpose", purpose}})
          .Increment(static_cast<double>(std::max<int64_t>(calls[i] - seen.calls[i], 0)));
    }
    seen.calls = calls;
    const auto stats = b->stats();
    auto add = [](prometheus::Counter& c, int64_t now, int64_t before) {
      c.Increment(static_cast<double>(std::max<int64_t>(now - before, 0)));
    };
    add(budgetWarnings_.Add({{"org", org}}), stats.warnings, seen.stats.warnings);
    add(budgetDeferred_.Add({{"org", org}, {"what", "pass"}}), stats.passesDeferred,
        seen.stats.passesDeferred);
    add(budgetDeferred_.Add({{"org", org}, {"what", "follow-up"}}), stats.followUpsDeferred,
        seen.stats.followUpsDeferred);
    add(budgetDeferred_.Add({{"org", org}, {"what", "action"}}), stats.actionsDeferred,
        seen.stats.actionsDeferred);
    seen.stats = stats;
    budget_.Add({{"org", org}, {"kind", "limit"}}).Set(static_cast<double>(b->limit()));
    budget_.Add({{"org", org}, {"kind", "spent"}}).Set(static_cast<double>(b->spent()));
    budget_.Add({{"org", org}, {"kind", "available"}}).Set(static_cast<double>(b->available()));
    if (auto max = b->allowanceMax(); max > 0) {
      budget_.Add({{"org", org}, {"kind", "allowance"}}).Set(static_cast<double>(max));
    }
  }
}

std::string Monitor::metricsText() const {
  // The gauge reflects /readyz at the time of the scrape.
  ready_.Add({}).Set(notReadyReasons().empty() ? 1 : 0);
  refreshBudgets();
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace bulkwarden::status
