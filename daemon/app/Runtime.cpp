#include "app/Runtime.h"

#include "cluster/LeaseManager.h"

#include <fmt/format.h>
#include <sys/prctl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "log/Log.h"
#include "model/TestClock.h"
#include "salesforce/BulkClient.h"
#include "salesforce/OAuthTokenProvider.h"
#include "salesforce/TokenProvider.h"

namespace bulkwarden::app {
namespace {

config::ConfigError orgError(const config::OrgConfig& org, const std::string& message,
                             const policy::SourceLocation* where = nullptr) {
  return config::ConfigError({config::Diagnostic{
      where != nullptr ? *where : org.where, fmt::format("org {}: {}", org.name, message), ""}});
}

// Resolves the org's secrets and builds its token provider. No network: the first token is
// fetched by the first pass, so that an unreachable or refusing token endpoint makes that org's
// passes fail (with AUTH_* and a backoff) instead of stopping the daemon.
std::shared_ptr<salesforce::TokenProvider> makeTokenProvider(const config::OrgConfig& org,
                                                             int concurrency,
                                                             const std::string& stateDir,
                                                             const model::Clock& clock) {
  const config::AuthConfig& auth = org.auth;
  if (auth.flow == "access-token") {
    if (!auth.accessToken) throw orgError(org, "auth has no access-token");
    return std::make_shared<salesforce::AccessTokenProvider>(auth.accessToken->resolve());
  }
  salesforce::OAuthOptions o;
  o.label = org.name;
  o.loginUrl = auth.loginUrl;
  o.clientId = auth.clientId;
  o.username = auth.username;
  o.audience = auth.audience;
  o.errorBackoff = auth.errorBackoff;
  o.transport.caFile = org.caFile;
  o.transport.poolSize = static_cast<std::size_t>(std::max(1, concurrency));
  const policy::SourceLocation* where = nullptr;
  if (auth.flow == "jwt-bearer") {
    o.flow = salesforce::OAuthFlow::JwtBearer;
    if (!auth.privateKey) throw orgError(org, "flow jwt-bearer needs private-key");
    o.privateKeyPem = auth.privateKey->resolve();
    where = &auth.privateKey->where;
  } else if (auth.flow == "client-credentials") {
    o.flow = salesforce::OAuthFlow::ClientCredentials;
    if (!auth.clientSecret) throw orgError(org, "flow client-credentials needs client-secret");
    o.clientSecret = auth.clientSecret->resolve();
  } else if (auth.flow == "refresh-token") {
    o.flow = salesforce::OAuthFlow::RefreshToken;
    if (!auth.refreshToken) throw orgError(org, "flow refresh-token needs refresh-token");
    o.refreshToken = auth.refreshToken->resolve();
    if (auth.clientSecret) o.clientSecret = auth.clientSecret->resolve();
    // Rotated refresh tokens are kept in state-dir (docs/auth.md "Rotating refresh tokens").
    o.refreshTokenStore.emplace(stateDir, org.name);
  } else {
    throw orgError(org, fmt::format("unknown auth flow '{}'", auth.flow));
  }
  try {
    return std::make_shared<salesforce::OAuthTokenProvider>(std::move(o), &clock);
  } catch (const std::invalid_argument& e) {
    std::string source = where != nullptr ? " (" + auth.privateKey->describe() + ")" : "";
    throw orgError(org, fmt::format("{}{}", e.what(), source), where);
  }
}

// Tokens and keys live in this process's memory: keep them out of core dumps and away from
// ptrace by other processes of the same user (docs/reliability.md).
void protectSecretsInMemory() {
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    log::warning("prctl(PR_SET_DUMPABLE, 0) failed: {}; a core dump could hold tokens",
                 std::strerror(errno));
  }
}

}  // namespace

std::unique_ptr<Runtime> Runtime::create(config::Config cfg) {
  protectSecretsInMemory();
  auto rt = std::make_unique<Runtime>();
  rt->config = std::move(cfg);
#ifdef BULKWARDEN_FAILPOINTS
  // Soak tests only (model/TestClock.h): a clock as fast as the simulated org's.
  try {
    if (auto scaled = model::testClockFromEnvironment()) {
      rt->clock = std::move(scaled);
      log::warning("test build: the clock runs {} times faster than wall time",
                   std::getenv("BULKWARDEN_TEST_CLOCK_SCALE"));
    }
  } catch (const std::invalid_argument& e) {
    throw config::ConfigError({config::Diagnostic{{}, e.what(), ""}});
  }
#endif
  for (const auto& org : rt->config.orgs) {
    auto provider = makeTokenProvider(org, rt->config.concurrency, rt->config.stateDir, *rt->clock);
    salesforce::ClientOptions options;
    options.instanceUrl = org.instanceUrl;
    options.apiVersion = org.apiVersion;
    options.concurrency = rt->config.concurrency;
    options.caFile = org.caFile;
    options.checkApiVersion = true;  // GET /services/data/ before the first call
    options.clock = rt->clock.get();
    options.stop = &rt->stop;
    rt->budgets.push_back(std::make_shared<engine::ApiBudget>(
        org.name, org.apiBudget.value_or(rt->config.apiBudget), *rt->clock));
    options.gate = rt->budgets.back();
    if (rt->config.cluster) {
      // Every request ends before the fence's margin is used up (docs/scaling.md).
      options.requestDeadline = cluster::requestDeadline(rt->config.cluster->lease);
      options.connectTimeout = std::min(options.connectTimeout, options.requestDeadline);
      options.readTimeout = std::min(options.readTimeout, options.requestDeadline);
      // And no write goes out without the lease check just before it (cluster/PgAudit.h).
      options.writesNeedFence = true;
    }
    try {
      rt->clients.push_back(std::make_unique<salesforce::BulkClient>(options, provider));
    } catch (const std::invalid_argument& e) {
      throw orgError(org, e.what());
    }
    rt->orgs.push_back(engine::OrgTarget{org.name, rt->clients.back().get()});
  }
  for (const auto& p : rt->config.policies) rt->policies.push_back(&p);
  rt->auditOptions = auditOptionsFor(rt->config);
  return rt;
}

audit::AuditOptions auditOptionsFor(const config::Config& config) {
  audit::AuditOptions o;
  o.rotateBytes = config.auditRotateBytes;
  o.reserveBytes = config.auditReserveBytes;
  o.anchorPath = config.stateDir + "/audit.anchor";
  if (config.auditKey) o.key = config.auditKey->resolve();
  return o;
}

std::unique_ptr<config::Config> loadOrReport(const std::string& path) {
  try {
    auto config = std::make_unique<config::Config>(config::loadConfig(path));
    for (const auto& w : config->warnings) {
      fmt::print(stderr, "{}\n", log::outside(w.str(), log::kMaxLineBytes));
    }
    return config;
  } catch (const config::ConfigError& e) {
    // A diagnostic quotes the file's text: escaped, so that it is one line on the terminal.
    for (const auto& d : e.diagnostics()) {
      fmt::print(stderr, "{}\n", log::outside(d.str(), log::kMaxLineBytes));
    }
    fmt::print(stderr, "bulkwarden: {} configuration error{} in {}\n", e.diagnostics().size(),
               e.diagnostics().size() == 1 ? "" : "s", log::outside(path));
    return nullptr;
  }
}

}  // namespace bulkwarden::app
