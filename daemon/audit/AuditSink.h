// Where the engine writes its audit records. The concrete AuditLog writes a hash-chained JSON
// Lines file; tests may use another sink behind the same interface.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "audit/Fields.h"

namespace bulkwarden::audit {

// A record could not be written or synced. Whoever gets it must not send the action the record
// was meant to announce: no action without its audit record.
class AuditError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class AuditSink {
 public:
  enum class Sync {
    Buffered,  // written with write(2); synced later (decisions, intents written ahead, results)
    Durable,   // on stable storage (fdatasync) before append returns (config, recovery, run-end)
  };
  virtual ~AuditSink() = default;

  // Appends a record of `type` for pass `run` with the given fields; returns its seq. Throws
  // AuditError when it could not be written (or synced, for Durable). Thread-safe.
  virtual uint64_t append(std::string_view type, std::string_view run, const Fields& fields,
                          Sync sync) = 0;
  // Makes everything appended so far durable. Throws AuditError.
  virtual void sync() = 0;
  // Makes every record up to `seq` durable; a sink that can tell skips the work when a sync
  // already covered it. Throws AuditError.
  virtual void syncThrough(uint64_t seq) {
    (void)seq;
    sync();
  }
};

}  // namespace bulkwarden::audit
