#include "model/Failpoint.h"

#ifdef BULKWARDEN_FAILPOINTS
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <string>

namespace bulkwarden::model {

bool failpointHit(std::string_view name) {
  static const std::string spec = [] {
    const char* env = std::getenv("BULKWARDEN_FAILPOINT");
    return std::string(env ? env : "");
  }();
  if (spec.empty() || spec.compare(0, name.size(), name) != 0) return false;
  long nth = 1;
  if (spec.size() > name.size()) {
    if (spec[name.size()] != ':') return false;
    nth = std::strtol(spec.c_str() + name.size() + 1, nullptr, 10);
  }
  static std::atomic<long> hits{0};
  return ++hits == nth;
}

void crashNow() {
  std::raise(SIGKILL);
  std::abort();  // not reached: SIGKILL cannot be caught
}

}  // namespace bulkwarden::model
#endif
