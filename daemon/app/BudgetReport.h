// What `validate` and `plan` print of the API budget: per org, the calls a day the loaded
// policies are projected to cost (their schedules times the pages of the last listing kept in
// state, plus the follow-up reads, actions and other calls of the last 24 hours in the budget's
// ledger), next to the budget and the org's daily allowance when known. Pure but for printing.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "config/Config.h"
#include "state/StateStore.h"

namespace bulkwarden::app {

struct CallProjection {
  std::string org;
  int64_t queryPasses = 0, ingestPasses = 0;  // scheduled passes a day, per resource
  int queryPages = 1, ingestPages = 1;        // pages per listing (1 when never listed)
  bool pagesKnown = false;
  int64_t listCalls = 0;   // passes x pages
  int64_t recent = 0;      // follow-up reads, actions, tokens, probes in the last 24 h
  int64_t total = 0;       // listCalls + recent
  int64_t budget = 0;      // calls a day the budget allows
  std::string budgetText;  // "10% of the daily allowance"
  int64_t allowance = 0;   // the org's daily allowance as last reported; 0: not known
  int64_t configured = 0;  // a fixed api-budget above the allowance (then budget = allowance)
  bool over() const { return total > budget; }
};

// `state` may be null (nothing known yet). Throws nothing: a state store that cannot be read
// counts as empty.
std::vector<CallProjection> projectCalls(const config::Config& config, state::StateStore* state,
                                         model::Timestamp now);
// One line per org, then a warning line for each projection over its budget.
void printProjections(const std::vector<CallProjection>& projections, std::FILE* out);

}  // namespace bulkwarden::app
