#include "app/ActionLog.h"

#include <fmt/format.h>

#include "log/Log.h"

namespace bulkwarden::app {

namespace {
// Lines that carry an outside string (a job id, an org's error message) quote it through
// log::outside; a policy or org name comes from the config, which is outside too.
std::string q(std::string_view text) { return log::outside(text); }
}  // namespace

std::string actionLine(const engine::PassSummary& s, const engine::Decision& d, bool result) {
  std::string_view action = policy::toString(d.policy->action);
  std::string verb;
  if (d.policy->action == policy::Action::Report) {
    verb = "report";
  } else if (d.mode == policy::Mode::DryRun) {
    verb = fmt::format("would {}", action);
  } else {
    verb = std::string(action);
  }
  std::string line =
      fmt::format("{} {} policy={} org={} outcome={}", verb, q(d.job.id), q(d.policy->name),
                  q(s.org), result ? engine::toString(d.outcome) : "recorded");
  if (result && d.error) line += fmt::format(" error={}", q(d.error->message));
  return line;
}

void ActionLog::onDecision(const engine::PassSummary& s, const engine::Decision& d) {
  // An enforced abort or delete is logged once, with its outcome, by onResult.
  if (d.policy->action != policy::Action::Report && d.mode == policy::Mode::Enforce) return;
  log::notice("{}", actionLine(s, d, false));
}

void ActionLog::onResult(const engine::PassSummary& s, const engine::Decision& d) {
  bool bad = d.outcome == engine::Outcome::Failed || d.outcome == engine::Outcome::Unknown;
  if (bad) {
    log::warning("{}", actionLine(s, d, true));
  } else {
    log::notice("{}", actionLine(s, d, true));
  }
}

void ActionLog::onPassEnd(const engine::PassSummary& s) {
  // Held-back jobs may be thousands: one line says how many; the `held` records name them.
  if (s.held > 0) {
    log::notice(
        "org={} held back {} job(s) (exempt, over a limit or outside a window); see "
        "`bulkwarden audit show --outcome held`",
        q(s.org), s.held);
  }
}

}  // namespace bulkwarden::app
