// The daemon's configuration (README.md): orgs, where policies live, the audit log, the
// state directory, concurrency, dry-run. Loaded once, then read-only (safe to share).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/BudgetSpec.h"
#include "model/Time.h"
#include "policy/Policy.h"

namespace bulkwarden::config {

// One problem found while loading: where, what, and how to fix it.
struct Diagnostic {
  policy::SourceLocation where;
  std::string message;
  std::string hint;         // may be empty
  std::string str() const;  // "file:line:col: message (hint)"
};

// Thrown by loadConfig with every problem found, not only the first.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

// A secret's source; the value is read only when needed and never printed.
struct SecretRef {
  enum class Source { File, Credential, Env };
  Source source = Source::Env;
  std::string name;  // the path, the credential name or the variable name
  policy::SourceLocation where;

  // Reads the secret (trailing newline trimmed). Throws ConfigError naming the source, never the
  // value: a missing file or variable, an empty value, a file readable by group or others.
  std::string resolve() const;
  // Checks what resolve() would read, as resolve() would, without keeping the value (reading only
  // up to the first byte that is not a newline). Throws ConfigError as resolve() does.
  void check() const;
  std::string describe() const;  // "file /etc/x", "credential sf-token", "env SF_TOKEN"
};

// How bulkwarden logs in to one org (docs/auth.md). Which fields are set depends on the flow.
struct AuthConfig {
  std::string flow = "access-token";  // access-token | jwt-bearer | client-credentials |
                                      // refresh-token
  // Base URL of the token endpoint (+ /services/oauth2/token). jwt-bearer and refresh-token:
  // default https://login.salesforce.com. client-credentials: the My Domain URL, default the
  // org's instance-url.
  std::string loginUrl;
  std::string audience;  // jwt-bearer `aud`; empty: derived from login-url
  std::string clientId;
  std::string username;  // jwt-bearer `sub`
  std::optional<SecretRef> accessToken;
  std::optional<SecretRef> privateKey;    // jwt-bearer: PEM RSA private key
  std::optional<SecretRef> clientSecret;  // client-credentials (required), refresh-token (optional)
  std::optional<SecretRef> refreshToken;
  // After the token endpoint failed (refused the login, or could not be reached), no token
  // request is made for this long; the org's passes fail meanwhile.
  std::chrono::milliseconds errorBackoff{5 * 60 * 1000};
};

struct OrgConfig {
  std::string name;
  std::string apiVersion = "62.0";
  std::string instanceUrl;  // https://..., or http:// on a loopback address only; may be empty
                            // for flows whose token response names it
  std::string caFile;       // extra CA bundle (PEM) for https, besides the system CAs
  AuthConfig auth;
  // `api-budget` of this org; none: the top-level one.
  std::optional<model::BudgetSpec> apiBudget;
  policy::SourceLocation where;
};

// One entry of `notifications:` (docs/notifications.md): where a policy's per-pass digest goes.
struct NotificationConfig {
  enum class Kind { Webhook, Email };
  enum class Format { Slack, Json };
  std::string name;
  Kind kind = Kind::Webhook;
  // webhook: the URL as written (https, or http on a loopback host), or a secret holding it.
  std::string url;
  std::optional<SecretRef> urlSecret;
  Format format = Format::Json;
  // email
  std::string smtpHost;
  int smtpPort = 587;
  bool starttls = true;
  std::string caFile;  // extra CA bundle (PEM) for STARTTLS, besides the system CAs
  std::string from;
  std::vector<std::string> to;
  std::string username;  // empty: no AUTH
  std::optional<SecretRef> password;
  policy::SourceLocation where;
};

// `cluster:` (docs/scaling.md): several nodes share the orgs through leases in PostgreSQL, and the
// audit trail is also written there. Absent: one node, files and SQLite.
struct ClusterConfig {
  std::string conninfo;               // libpq connection string, without the password
  std::optional<SecretRef> password;  // the database user's password; none: conninfo/.pgpass
  std::string node;                   // this node's name; default: the host name
  model::Duration lease = std::chrono::seconds(15);  // per-org lease, renewed every lease/3
  policy::SourceLocation where;
};

struct HttpConfig {
  std::string listen = "127.0.0.1:9464";
};

struct Config {
  std::string path;  // the config file as given
  std::vector<OrgConfig> orgs;
  std::vector<std::string> policyFiles;  // globs expanded, in order
  // SHA-256 (hex) of each policy file's text as loaded, in policyFiles' order; and the digest of
  // them all: SHA-256 of the lines "<hex>  <file>\n" in load order (what `sha256sum FILES`
  // prints), recorded in the audit `config` record so a decision traces to its policy text.
  std::vector<std::string> policyFileDigests;
  std::string policyDigest;
  std::vector<policy::Policy> policies;
  std::vector<NotificationConfig> notifications;  // `notifications:`, in file order
  std::string auditLog;  // relative paths are made absolute against the config file's folder
  std::string stateDir;
  std::optional<HttpConfig> http;
  int concurrency = 8;
  // `workers`: threads that run the passes of every org (engine::SchedulerOptions::workers);
  // 0: from the CPU count.
  int workers = 0;
  // `max-jobs-per-listing`: a listing with more distinct jobs is stopped and its pass acts on
  // nothing (engine::kDefaultMaxJobsPerListing).
  int64_t maxJobsPerListing = 200'000;
  bool dryRun = false;
  double actionsPerMinute = 0;  // `action-rate`: per org; 0: no cap
  // `audit-rotate-size`: rotate the audit log past this many bytes; 0: never (use logrotate and
  // SIGUSR1). `audit-reserve`: below this much free space no new action starts.
  uint64_t auditRotateBytes = 0;
  uint64_t auditReserveBytes = 16ull << 20;
  // `audit-key`: each audit record also carries an HMAC-SHA256 under this secret
  // (docs/reliability.md); absent: none.
  std::optional<SecretRef> auditKey;
  // `api-usage-limit`: above this share of the daily API allowance no new pass starts.
  double apiUsageShare = 0.9;
  // `api-budget`: the calls a day bulkwarden may spend per org (engine/ApiBudget.h), unless the
  // org sets its own; default 10% of the org's daily allowance (docs/operations.md).
  model::BudgetSpec apiBudget;
  // `limit-pause`: how long an org is left alone after 403 REQUEST_LIMIT_EXCEEDED.
  model::Duration limitPause = std::chrono::hours(1);
  // `exempt:` at the top level: exemptions applying to every policy. loadConfig also appends
  // them to each policy's own `exempt` (after the policy's), so the engine sees one list.
  std::vector<policy::Exemption> exempt;
  // Problems that do not stop the config from loading (an exemption already expired when
  // loaded), with file:line:col; printed by validate, plan and run.
  std::vector<Diagnostic> warnings;
  // `follow-up-precision`: age-threshold crossings this close together are read in one
  // follow-up (docs/performance.md); 0 to 1m.
  model::Duration followUpPrecision = std::chrono::seconds(1);
  std::optional<ClusterConfig> cluster;  // `cluster:`; none: one node
};

// Every secret reference of the config, in file order: each org's auth secrets, then each
// notification's URL or password, then the cluster's database password. A new secret
// setting (an audit key...) must be listed here, so that `validate` checks it.
std::vector<const SecretRef*> secretRefs(const Config& config);

// Why `url` is not a usable webhook URL (https, or http on a loopback host), or nothing. The
// message never repeats the URL (it may be a secret).
std::optional<std::string> webhookUrlProblem(const std::string& url);

// Loads the config file and every policy file it names. Throws ConfigError with file:line:col
// for every problem found.
Config loadConfig(const std::string& path);

}  // namespace bulkwarden::config
