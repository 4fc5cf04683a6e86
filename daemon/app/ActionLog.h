// The journal's account of what a pass did: one log line per action taken (its job id, policy,
// org and outcome), one per decision only recorded (a report, or a dry run's "would abort"), and
// one line per pass for what was held back, however many jobs that was. The audit trail keeps
// the detail; this is what `journalctl -u bulkwarden` shows.
// Thread-safe: it holds no state, and log lines never interleave.
#pragma once

#include "engine/Pass.h"

namespace bulkwarden::app {

class ActionLog : public engine::PassListener {
 public:
  void onDecision(const engine::PassSummary& s, const engine::Decision& d) override;
  void onResult(const engine::PassSummary& s, const engine::Decision& d) override;
  void onPassEnd(const engine::PassSummary& s) override;
};

// The line for one decision or result (without the level), as logged; exposed for tests.
std::string actionLine(const engine::PassSummary& s, const engine::Decision& d, bool result);

}  // namespace bulkwarden::app
