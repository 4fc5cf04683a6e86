// Told how each audit write went (the daemon's status::Monitor: write latency, /readyz), so that
// metering needs no wrapper around the sink. AuditLog calls it for each append, sync and
// syncThrough from the thread that made the call (a pass's worker or action thread, the
// write-ahead flusher, the service thread); implementations must be thread-safe and quick (the
// caller may hold no lock of the log while calling, but it waits).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace bulkwarden::audit {

enum class WriteKind {
  Buffered,  // an append with Sync::Buffered
  Durable,   // an append with Sync::Durable, fdatasync included
  Sync,      // a later sync() or syncThrough()
};

// "buffered", "durable", "sync": the `sync` label of bulkwarden_audit_write_seconds.
constexpr std::string_view writeKindName(WriteKind k) {
  switch (k) {
    case WriteKind::Buffered:
      return "buffered";
    case WriteKind::Durable:
      return "durable";
    case WriteKind::Sync:
      return "sync";
  }
  return "sync";
}

class WriteObserver {
 public:
  virtual ~WriteObserver() = default;
  // `error`: the AuditError's text when !ok, else empty.
  virtual void onAuditWrite(WriteKind kind, std::chrono::nanoseconds took, bool ok,
                            const std::string& error) = 0;
};

}  // namespace bulkwarden::audit
