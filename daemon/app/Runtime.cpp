#include "app/Runtime.h"

#include <fmt/format.h>

#include "log/Log.h"
#include "salesforce/BulkClient.h"
#include "salesforce/TokenProvider.h"

namespace bulkwarden::app {

std::unique_ptr<Runtime> Runtime::create(config::Config cfg) {
  auto rt = std::make_unique<Runtime>();
  rt->config = std::move(cfg);
  for (const auto& org : rt->config.orgs) {
    if (!org.auth.accessToken) {
      throw config::ConfigError({config::Diagnostic{
          org.where, fmt::format("org {}: auth has no access-token", org.name), ""}});
    }
    auto provider =
        std::make_shared<salesforce::AccessTokenProvider>(org.auth.accessToken->resolve());
    salesforce::ClientOptions options;
    options.instanceUrl = org.instanceUrl;
    options.apiVersion = org.apiVersion;
    options.concurrency = rt->config.concurrency;
    try {
      rt->clients.push_back(std::make_unique<salesforce::BulkClient>(options, provider));
    } catch (const std::invalid_argument& e) {
      throw config::ConfigError(
          {config::Diagnostic{org.where, fmt::format("org {}: {}", org.name, e.what()), ""}});
    }
    rt->orgs.push_back(engine::OrgTarget{org.name, rt->clients.back().get()});
  }
  for (const auto& p : rt->config.policies) rt->policies.push_back(&p);
  return rt;
}

std::unique_ptr<config::Config> loadOrReport(const std::string& path) {
  try {
    return std::make_unique<config::Config>(config::loadConfig(path));
  } catch (const config::ConfigError& e) {
    for (const auto& d : e.diagnostics()) fmt::print(stderr, "{}\n", d.str());
    fmt::print(stderr, "bulkwarden: {} configuration error{} in {}\n", e.diagnostics().size(),
               e.diagnostics().size() == 1 ? "" : "s", path);
    return nullptr;
  }
}

}  // namespace bulkwarden::app
