// The cluster's tables in PostgreSQL (docs/scaling.md "Setting up the database"): nodes and
// their heartbeats, one lease row per org, the shared audit trail with its per-org chain head,
// and the API budget's ledger (cluster/PgLedgerStore.h).
// Stateless functions; the connection passed in is the caller's (not thread-safe).
#pragma once

#include <string>

#include "cluster/PgConnection.h"

namespace bulkwarden::cluster {

// The SQL that creates the tables (what `docs/scaling.md` asks a DBA to run, or what a user with
// CREATE on the schema lets the daemon run at first start).
const std::string& schemaSql();

// Creates the tables that are missing (checked first, so that a least-privileged user whose
// tables a DBA created never needs CREATE). Throws PgError.
void ensureSchema(PgConnection& db);

}  // namespace bulkwarden::cluster
