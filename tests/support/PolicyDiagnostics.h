// Test support shared by the policy loader's unit tests: the diagnostics a policy text gets, and
// the head of a minimal valid policy to which a test appends the keys under test.
#pragma once

#include <string>
#include <vector>

#include "config/PolicyLoader.h"

namespace bulkwarden::testing {

// One policy with everything required; a test appends a line or two at four spaces' indent.
inline const std::string kPolicyHead =
    "policies:\n"
    "  - name: p\n"
    "    resource: query-jobs\n"
    "    action: abort\n"
    "    filters: [ { state: InProgress } ]\n";

// Every diagnostic parsing `yaml` (as file "p.yaml") gives; empty when it loads.
inline std::vector<config::Diagnostic> policyErrors(
    const std::string& yaml, const std::vector<std::string>* orgs = nullptr) {
  try {
    config::parsePolicies(yaml, "p.yaml", orgs);
  } catch (const config::ConfigError& e) {
    return e.diagnostics();
  }
  return {};
}

}  // namespace bulkwarden::testing
