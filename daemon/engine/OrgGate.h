// Whether this process may run a pass for an org now. In cluster mode (docs/scaling.md) only
// the node holding the org's lease may; alone, every org is always open (no gate at all).
// Implementations are called from every org's scheduler thread: they must be thread-safe.
#pragma once

#include <optional>
#include <string>

namespace bulkwarden::engine {

class OrgGate {
 public:
  virtual ~OrgGate() = default;
  // nullopt: a pass of `org` may start; otherwise why not (one line, logged with the skip).
  // May block for a while to settle what a previous holder of the org left open.
  virtual std::optional<std::string> refuse(const std::string& org) = 0;
};

}  // namespace bulkwarden::engine
