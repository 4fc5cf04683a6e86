#include "app/BudgetReport.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "engine/ApiBudget.h"
#include "log/Log.h"
#include "salesforce/CallGate.h"

namespace bulkwarden::app {

namespace {

// Scheduled passes of one resource in the next 24 h: policies of a resource that are due at the
// same moment share one listing, so the distinct tick times are counted. Bounded: at most a tick
// a second is possible (the smallest interval), and the set is capped beyond that.
int64_t passesPerDay(const std::vector<const policy::Policy*>& policies, model::Timestamp now) {
  constexpr size_t kMaxTicks = 200'000;
  std::set<model::Timestamp> ticks;
  const auto end = now + std::chrono::hours(24);
  for (const auto* p : policies) {
    model::Timestamp t = now;
    while (ticks.size() < kMaxTicks) {
      auto next = p->schedule.nextAfter(t);
      if (!next || *next > end || *next <= t) break;
      t = *next;
      ticks.insert(t);
    }
  }
  return static_cast<int64_t>(ticks.size());
}

std::string commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

}  // namespace

std::vector<CallProjection> projectCalls(const config::Config& config, state::StateStore* state,
                                         model::Timestamp now) {
  std::vector<CallProjection> out;
  const int64_t minute = now.time_since_epoch().count() / 60'000;
  for (const auto& org : config.orgs) {
    CallProjection p;
    p.org = org.name;
    std::vector<const policy::Policy*> query, ingest;
    for (const auto& pol : config.policies) {
      if (!pol.appliesTo(org.name)) continue;
      (pol.resource == model::ResourceKind::Query ? query : ingest).push_back(&pol);
    }
    p.queryPasses = passesPerDay(query, now);
    p.ingestPasses = passesPerDay(ingest, now);
    if (state) {
      try {
        // Pages from the state store are believed within the listing cap (1,000 jobs a page).
        auto pages = [&](model::ResourceKind kind) -> std::optional<int> {
          auto v = state->orgFact(org.name, engine::pagesFact(kind));
          if (!v || *v < 1) return std::nullopt;
          return static_cast<int>(std::min<int64_t>(*v, 1'000'000));
        };
        if (auto q = pages(model::ResourceKind::Query)) p.queryPages = *q, p.pagesKnown = true;
        if (auto i = pages(model::ResourceKind::Ingest)) p.ingestPages = *i, p.pagesKnown = true;
        if (auto a = state->orgFact(org.name, std::string(engine::kAllowanceFact)); a && *a > 0) {
          p.allowance = *a;
        }
        // The calls of the last 24 h that are not scheduled listings: follow-up reads and
        // actions as recently as they came, tokens and probes.
        for (const auto& b : state->callsSince(org.name, minute - engine::kBudgetWindow.count())) {
          if (b.purpose != salesforce::purposeName(salesforce::CallPurpose::List)) {
            p.recent += std::clamp<int64_t>(b.calls, 0, int64_t{1} << 40);
          }
        }
      } catch (const state::StateError& e) {
        log::warning("cannot read the state store for {}'s projection: {}", org.name, e.what());
      }
    }
    p.listCalls = p.queryPasses * p.queryPages + p.ingestPasses * p.ingestPages;
    p.total = p.listCalls + p.recent;
    const model::BudgetSpec spec = org.apiBudget.value_or(config.apiBudget);
    p.budgetText = spec.describe();
    if (spec.calls > 0) {
      p.budget = spec.calls;
      if (p.allowance > 0 && spec.calls > p.allowance) {
        // More than the org has: the daemon caps it at the allowance (engine/ApiBudget.h).
        p.configured = spec.calls;
        p.budget = p.allowance;
      }
    } else {
      const int64_t base = p.allowance > 0 ? p.allowance : engine::kSmallestDailyAllowance;
      p.budget = std::max<int64_t>(
          static_cast<int64_t>(static_cast<double>(base) * spec.percent / 100.0), 1);
    }
    out.push_back(std::move(p));
  }
  return out;
}

void printProjections(const std::vector<CallProjection>& projections, std::FILE* out) {
  if (projections.empty()) return;
  fmt::print(out,
             "API calls a day (projected from the schedules, the last listings and the last "
             "24 h):\n");
  for (const auto& p : projections) {
    std::string allowance =
        p.allowance > 0 ? fmt::format("allowance {}", commas(p.allowance))
                        : fmt::format("allowance not known yet{}",
                                      p.budgetText.find('%') != std::string::npos
                                          ? fmt::format(", taken as {}",
                                                        commas(engine::kSmallestDailyAllowance))
                                          : "");
    fmt::print(out,
               "  {}: {} projected = {} list (query {} passes x {} page{}, ingest {} x {}{}) + {} "
               "other in the last 24 h; budget {} ({}); {}\n",
               log::outside(p.org, 200), commas(p.total), commas(p.listCalls),
               commas(p.queryPasses), p.queryPages, p.queryPages == 1 ? "" : "s",
               commas(p.ingestPasses), p.ingestPages, p.pagesKnown ? "" : "; pages never listed",
               commas(p.recent), commas(p.budget), p.budgetText, allowance);
  }
  for (const auto& p : projections) {
    if (p.configured <= 0) continue;
    fmt::print(out,
               "  warning: {}: api-budget {} calls a day is above the org's whole daily allowance "
               "of {} (as last reported): bulkwarden caps it at the allowance, which every other "
               "integration of the org shares; set a smaller budget or a percentage\n",
               log::outside(p.org, 200), commas(p.configured), commas(p.allowance));
  }
  for (const auto& p : projections) {
    if (!p.over()) continue;
    fmt::print(out,
               "  warning: {}: the projected {} calls a day exceed the API budget of {}: passes "
               "will be spaced out and follow-ups deferred; lengthen the schedules or raise "
               "api-budget\n",
               log::outside(p.org, 200), commas(p.total), commas(p.budget));
  }
}

}  // namespace bulkwarden::app
