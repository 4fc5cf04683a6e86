#include "cluster/Schema.h"

namespace bulkwarden::cluster {

const std::string& schemaSql() {
  static const std::string sql = R"(CREATE TABLE IF NOT EXISTS bw_nodes (
  node text PRIMARY KEY,
  heartbeat timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS bw_leases (
  org text PRIMARY KEY,
  holder text NOT NULL,
  epoch bigint NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS bw_audit_head (
  org text PRIMARY KEY,
  seq bigint NOT NULL,
  hash text NOT NULL
);
CREATE TABLE IF NOT EXISTS bw_audit (
  org text NOT NULL,
  seq bigint NOT NULL,
  ts text NOT NULL,
  node text NOT NULL,
  file_seq bigint NOT NULL,
  type text NOT NULL,
  intent_node text,
  intent_seq bigint,
  record text NOT NULL,
  PRIMARY KEY (org, seq)
);
CREATE INDEX IF NOT EXISTS bw_audit_intents ON bw_audit (org, intent_node, intent_seq);
CREATE TABLE IF NOT EXISTS bw_api_calls (
  org text NOT NULL,
  slot bigint NOT NULL,
  purpose text NOT NULL,
  node text NOT NULL,
  minute bigint NOT NULL,
  calls bigint NOT NULL,
  PRIMARY KEY (org, slot, purpose, node)
);
)";
  return sql;
}

namespace {
void createMissing(PgConnection& db) {
  auto r = db.exec(
      "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename IN "
      "('bw_nodes', 'bw_leases', 'bw_audit_head', 'bw_audit', 'bw_api_calls')");
  if (r.get(0, 0) == "5") return;
  // A simple query (no parameters) may hold several statements; exec sends it with
  // PQsendQueryParams, which takes one, so they go one by one.
  const std::string& all = schemaSql();
  size_t start = 0;
  while (start < all.size()) {
    size_t end = all.find(";\n", start);
    if (end == std::string::npos) break;
    db.exec(all.substr(start, end - start));
    start = end + 2;
  }
}
}  // namespace

void ensureSchema(PgConnection& db) {
  try {
    createMissing(db);
  } catch (const PgError&) {
    // Two nodes starting together may race on CREATE TABLE IF NOT EXISTS (a unique violation in
    // the catalog): the other one created them; check again.
    createMissing(db);
  }
}

}  // namespace bulkwarden::cluster
