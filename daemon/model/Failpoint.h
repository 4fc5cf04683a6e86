// Failpoints for crash tests: with BULKWARDEN_FAILPOINT=name (or name:N for the Nth time the
// point is reached), the process kills itself with SIGKILL at that point, as a power cut or an
// OOM kill would. Compiled in only when BULKWARDEN_FAILPOINTS is defined (dev and asan presets);
// in release builds failpoint() is an empty inline function. Thread-safe.
#pragma once

#include <string_view>

namespace bulkwarden::model {

#ifdef BULKWARDEN_FAILPOINTS
// True when this is the hit that should kill: the caller does its partial work, then calls
// crashNow(). failpoint() is failpointHit() + crashNow().
bool failpointHit(std::string_view name);
[[noreturn]] void crashNow();
inline void failpoint(std::string_view name) {
  if (failpointHit(name)) crashNow();
}
#else
inline bool failpointHit(std::string_view) { return false; }
[[noreturn]] inline void crashNow() { __builtin_trap(); }
inline void failpoint(std::string_view) {}
#endif

}  // namespace bulkwarden::model
