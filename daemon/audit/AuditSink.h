// Where the engine writes its audit records. The concrete AuditLog writes a hash-chained JSON
// Lines file; tests may use another sink behind the same interface.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "audit/Fields.h"

namespace bulkwarden::audit {

// A record could not be written or synced. Whoever gets it must not send the action the record
// was meant to announce: no action without its audit record. The kind tells a caller at start
// which exit code fits (app/ExitCodes.h).
class AuditError : public std::runtime_error {
 public:
  enum class Kind {
    Io,       // the trail cannot be written (74)
    Refused,  // a person must look: unsafe file, damaged or cut trail (78)
    Busy,     // may clear by itself: another writer holds the trail, read-only file system (75)
  };
  explicit AuditError(const std::string& what, Kind kind = Kind::Io)
      : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

class AuditSink {
 public:
  enum class Sync {
    Buffered,  // written with write(2); synced later (decisions, intents written ahead, results)
    Durable,   // on stable storage (fdatasync) before append returns (config, recovery, run-end)
  };
  virtual ~AuditSink() = default;

  // Appends a record of `type` for pass `run` with the given fields; returns its seq. Throws
  // AuditError when it could not be written (or synced, for Durable). Thread-safe. The daemon
  // writes through audit::write and the typed records of audit/Records.h, which name the type
  // and render the fields; this is the seam beneath them.
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
