// Cluster mode's parts for one configuration (docs/scaling.md): the lease manager (the engine's
// OrgGate), the PostgreSQL audit trail teed with the local file, and each org's client fenced by
// the lease. app/ builds one per generation when the config has `cluster:`.
// Not thread-safe to build; once started, the parts it hands out are thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "audit/AuditLog.h"
#include "cluster/LeaseManager.h"
#include "cluster/PgAudit.h"
#include "config/Config.h"
#include "engine/ApiBudget.h"

namespace bulkwarden::cluster {

class ClusterNode {
 public:
  // Connects, creates missing tables and the lease rows of `orgs`. Throws PgError (the database
  // cannot be used) or config::ConfigError (the password secret cannot be read).
  ClusterNode(const config::ClusterConfig& config, std::vector<std::string> orgs);
  ~ClusterNode();

  // The sink the engine writes to: the database trail (fenced), then `local`.
  audit::AuditSink& tee(audit::AuditLog& local);
  // `org`'s client, refusing actions once the lease may end before they do. Kept by the node.
  salesforce::BulkJobs& fenced(const std::string& org, salesforce::BulkJobs& inner);
  engine::OrgGate& gate() { return *leases_; }
  // The orgs' API budgets (before start()): a taken org's budget reads the shared ledger again
  // (cluster/PgLedgerStore.h) before the org's first call here, the settlement GETs included, so
  // that it counts every call the previous holder made.
  void budgets(const std::vector<std::shared_ptr<engine::ApiBudget>>& budgets);
  LeaseManager& leases() { return *leases_; }

  // Starts taking and renewing leases; a taken org's first pass settles its open intents with
  // the fenced client of that org.
  void start();
  // Stops renewing and gives every lease back (call after the scheduler has stopped).
  void stop();

 private:
  std::unique_ptr<LeaseManager> leases_;
  std::unique_ptr<PgAuditSink> shared_;
  std::unique_ptr<TeeSink> tee_;
  std::map<std::string, std::unique_ptr<FencedJobs>> fenced_;
  std::map<std::string, std::shared_ptr<engine::ApiBudget>> budgets_;  // set before start()
};

// `audit verify --config` with `cluster:`: checks the database trail, prints a report as the
// file verify does, returns 0, 65 (altered) or 69 (the database cannot be read).
int verifyClusterTrail(const config::ClusterConfig& config);
// A copy of the database trail in a private temporary folder (0700), removed with this object:
// what `audit show|summary --config` read in cluster mode. Not thread-safe.
class TempTrail {
 public:
  TempTrail() = default;
  ~TempTrail();
  TempTrail(const TempTrail&) = delete;
  TempTrail& operator=(const TempTrail&) = delete;
  // Exports the trail; empty, or why it could not.
  std::string fill(const config::ClusterConfig& config);
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

// `audit show|summary --config` with `cluster:`: writes the database trail, in time order, to
// `path` (created 0600); returns empty or why it could not.
std::string exportClusterTrail(const config::ClusterConfig& config, const std::string& path);

}  // namespace bulkwarden::cluster
