// The subcommands behind the command line. Each returns an exit code (app/ExitCodes.h) and
// writes its errors itself.
#pragma once

#include <string>
#include <vector>

#include "audit/AuditSink.h"
#include "audit/Fields.h"
#include "config/Config.h"
#include "engine/Pass.h"

namespace bulkwarden::app {

struct RunOptions {
  std::string configPath = "/etc/bulkwarden/bulkwarden.yaml";
  bool once = false;
  bool dryRun = false;
};

int runCommand(const RunOptions& options);
int validateCommand(const std::string& configPath);
// `plan`: what each policy would do now, read-only (the state store is read, never written).
struct PlanOptions {
  std::string configPath = "/etc/bulkwarden/bulkwarden.yaml";
  std::string format = "table";  // table | json
  std::string policy;            // --policy: only this policy (empty: every one)
  std::string org;               // --org: only this org (empty: every one)
  // --detailed-exitcode: 2 when the daemon would send an abort or delete now, 0 when not.
  bool detailedExitcode = false;
};
int planCommand(const std::string& configPath, const std::string& format);
int planCommand(const PlanOptions& options);
// `audit verify FILE...`: one FILE: it and its rotated predecessors; several: exactly those.
// The config record's `policy_files` ({file: sha256 hex of its text as loaded}); beside it goes
// `policy_digest` ("sha256:" + config.policyDigest), so a decision traces to its policy text.
audit::Fields policyFileFields(const config::Config& config);
int auditVerifyCommand(const std::vector<std::string>& files);
// `audit verify --config FILE`: the trail the config names, against its anchor and audit-key.
int auditVerifyConfigCommand(const std::string& configPath);
// `audit accept --config FILE`: takes the trail as it is (cut or not) and moves the anchor to
// it, recording that in the trail. Refused (75) while the daemon holds the trail.
int auditAcceptCommand(const std::string& configPath);
int demoCommand(const std::vector<std::string>& args);

// The exit code of a set of passes: the worst thing that happened (audit trail failure 74,
// listing or action failure 69, else 0).
int exitCodeFor(const std::vector<engine::PassSummary>& summaries);
// The exit code for an audit trail that cannot be opened: 78 (a person must look), 75 (another
// writer, a read-only or full file system), 74 (cannot be written).
int exitCodeFor(const audit::AuditError& error, const std::string& path = {});

}  // namespace bulkwarden::app
