// docs/reliability.md S2: the sweep of everything an end-to-end run wrote for secrets. Shared by
// the end-to-end fixture and the auth tests.
#pragma once

#include <filesystem>
#include <functional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/Child.h"

namespace bulkwarden::testing {

// Every file below `dir` (but those `isInput` says the test itself wrote) that holds text shaped
// like a secret (a bearer header, a Salesforce session id, a private key, a JWT assertion) or one
// of `secrets`; one line a finding. `swept` counts the files read.
inline std::vector<std::string> findSecrets(
    const std::filesystem::path& dir, const std::set<std::string>& secrets,
    const std::function<bool(const std::filesystem::path&)>& isInput, int& swept) {
  static const std::regex pattern(
      R"(Bearer |00D[0-9A-Za-z]{12,15}!|BEGIN .*PRIVATE KEY|assertion=)");
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || isInput(entry.path())) continue;
    const std::string text = Child::slurp(entry.path().string());
    std::smatch m;
    if (std::regex_search(text, m, pattern)) {
      found.push_back(entry.path().string() + " holds secret-looking text: " + m.str());
    }
    for (const auto& secret : secrets) {
      if (!secret.empty() && text.find(secret) != std::string::npos) {
        found.push_back(entry.path().string() + " holds a secret of " +
                        std::to_string(secret.size()) + " chars");
      }
    }
    ++swept;
  }
  return found;
}

}  // namespace bulkwarden::testing
