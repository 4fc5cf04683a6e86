// `bulkwarden validate --connect`: after the offline checks, logs in to every org, reads one page
// of its query jobs, and warns when the integration user lacks "Manage Data Integrations" (a
// warning, not an error: it can still abort or delete the jobs it created). Run once, on the
// calling thread.
#pragma once

#include <string>

namespace bulkwarden::app {

// 0 when every org answered; 69 (EX_UNAVAILABLE) when one could not be reached or refused;
// 78 when the config cannot be loaded or its secrets resolved.
int connectCheck(const std::string& configPath);

}  // namespace bulkwarden::app
