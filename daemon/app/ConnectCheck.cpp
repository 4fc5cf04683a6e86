#include "app/ConnectCheck.h"

#include <fmt/format.h>

#include "app/Composition.h"
#include "app/ExitCodes.h"
#include "app/Runtime.h"
#include "log/Log.h"
#include "salesforce/BulkClient.h"
#include "salesforce/Permissions.h"
#include "state/StateStore.h"

namespace bulkwarden::app {
namespace {

// Thrown from the page sink to stop a listing after its first page: --connect reads one page.
struct FirstPageRead {};

std::string shown(std::string_view s) { return log::outside(s, log::kMaxLineBytes); }

}  // namespace

int connectCheck(const std::string& configPath) {
  std::unique_ptr<Runtime> rt;
  try {
    // Loaded again without printing: validate has already printed its warnings.
    rt = Runtime::create(config::loadConfig(configPath));
  } catch (const config::ConfigError& e) {
    for (const auto& d : e.diagnostics()) fmt::print(stderr, "{}\n", shown(d.str()));
    return kExitConfig;
  }
  // Its calls count against the API budget like the daemon's: in the ledger, and refused when
  // the budget is spent.
  auto store = ledgerState(rt->config, readOnlyState(rt->config));
  try {
    for (const auto& b : rt->budgets) b->attach(*store);
  } catch (const state::StateError& e) {
    fmt::print(stderr, "cannot read the API budget's ledger: {}\n", shown(e.what()));
    return kExitUnavailable;
  }
  int rc = kExitOk;
  for (size_t i = 0; i < rt->config.orgs.size(); ++i) {
    const auto& org = rt->config.orgs[i];
    auto* client = dynamic_cast<salesforce::BulkClient*>(rt->clients[i].get());
    if (client == nullptr) continue;
    size_t jobs = 0;
    salesforce::Result<salesforce::ListStats> listed = salesforce::ListStats{};
    try {
      listed = client->list(model::ResourceKind::Query, [&jobs](salesforce::Page&& page) {
        jobs = page.jobs.size();
        throw FirstPageRead{};
      });
    } catch (const FirstPageRead&) {
      // one page read: the login and the listing work
    }
    if (!listed.ok()) {
      fmt::print(stderr, "{}: org {}: cannot connect: {}\n", shown(org.where.str()),
                 shown(org.name), shown(listed.error().describe()));
      rc = kExitUnavailable;
      continue;
    }
    fmt::print("{}: connected to {}: {} query job(s) on the first page\n", shown(org.name),
               shown(client->instanceUrl()), jobs);
    auto permission = salesforce::checkManageDataIntegrations(*client, org.apiVersion);
    if (!permission.ok()) {
      fmt::print(stderr,
                 "{}: note: org {}: could not learn whether the integration user holds \"Manage "
                 "Data Integrations\": {}\n",
                 shown(org.where.str()), shown(org.name), shown(permission.error().describe()));
    } else if (!permission.value().manageDataIntegrations) {
      fmt::print(stderr,
                 "{}: warning: org {}: the integration user {} lacks \"Manage Data "
                 "Integrations\": it can abort or delete only the jobs it created; other users' "
                 "jobs will be recorded not-permitted (grant it with a permission set)\n",
                 shown(org.where.str()), shown(org.name), shown(permission.value().userId));
    }
  }
  return rc;
}

}  // namespace bulkwarden::app
