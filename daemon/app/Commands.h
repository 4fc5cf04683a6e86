// The subcommands behind the command line. Each returns an exit code (app/ExitCodes.h) and
// writes its errors itself.
#pragma once

#include <string>
#include <vector>

#include "engine/Pass.h"

namespace bulkwarden::app {

struct RunOptions {
  std::string configPath = "/etc/bulkwarden/bulkwarden.yaml";
  bool once = false;
  bool dryRun = false;
};

int runCommand(const RunOptions& options);
int validateCommand(const std::string& configPath);
int planCommand(const std::string& configPath, const std::string& format);
int auditVerifyCommand(const std::string& file);
int demoCommand(const std::vector<std::string>& args);

// The exit code of a set of passes: the worst thing that happened (audit trail failure 74,
// listing or action failure 69, else 0).
int exitCodeFor(const std::vector<engine::PassSummary>& summaries);

}  // namespace bulkwarden::app
