// What an admin writes: a policy file. Any input ends in policies or a ConfigError with
// diagnostics; never a crash, a hang (alias bombs) or another exception type.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/Config.h"
#include "config/PolicyLoader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bulkwarden;
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto policies = config::parsePolicies(text, "fuzz.yaml");
    for (const auto& p : policies) {
      if (p.name.empty()) __builtin_trap();
    }
  } catch (const config::ConfigError& e) {
    if (e.diagnostics().empty()) __builtin_trap();  // an error must say what is wrong
  }
  return 0;
}
