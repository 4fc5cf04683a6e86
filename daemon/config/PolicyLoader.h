// Policy files (README.md) -> policy::Policy values, with a file:line:col diagnostic for
// every problem. Used by loadConfig; also usable on its own (tests, tools). Stateless apart from
// the PolicySet being filled; not thread-safe while loading.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/Config.h"
#include "config/YamlDocument.h"
#include "policy/Policy.h"

namespace bulkwarden::config {

inline constexpr size_t kMaxPolicies = 200;

// Policies read so far across files, so that names are checked for uniqueness everywhere.
struct PolicySet {
  std::vector<policy::Policy> policies;
  std::map<std::string, policy::SourceLocation> names;  // name -> where first defined
  bool tooMany = false;                                 // the kMaxPolicies error has been reported
};

// Reads one policy file's text into `set`. `knownOrgs`: the org names a policy may name (nullptr:
// do not check). Problems go to `sink`; a policy with any problem is left out.
void loadPolicyText(const std::string& text, DiagnosticSink& sink,
                    const std::vector<std::string>* knownOrgs, PolicySet& set);

// An `exempt:` list (a policy's, or the config's global one) -> `out`, problems to `sink`.
void loadExempt(const YAML::Node& node, DiagnosticSink& sink, std::vector<policy::Exemption>& out);

// A warning for each exemption of `exempt` that has already expired at `now`: it exempts nothing.
void warnExpired(const std::vector<policy::Exemption>& exempt, model::Timestamp now,
                 std::vector<Diagnostic>& warnings);

// A warning when `p` deletes ingest jobs and its state filters allow UploadComplete: Salesforce
// deletes a queued job (cancelling its load), unlike a query job (docs/salesforce.md 14.8).
void warnDeleteQueued(const policy::Policy& p, std::vector<Diagnostic>& warnings);

// One policy file's text -> its policies, or ConfigError with every problem. `file` names the
// source in diagnostics.
std::vector<policy::Policy> parsePolicies(const std::string& yaml, const std::string& file,
                                          const std::vector<std::string>* knownOrgs = nullptr);

}  // namespace bulkwarden::config
