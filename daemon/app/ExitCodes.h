// Exit codes (sysexits.h), as documented in the README, docs/operations.md and `bulkwarden
// --help`. The rule for start-up failures: 75 for what may clear by itself (another instance
// holds the lock, a port in use, a read-only or full file system), so that systemd retries;
// 78 only for what a person must fix (the config, an unsafe state-dir), which the unit's
// RestartPreventExitStatus= does not retry.
#pragma once

#include <string>

#include "state/StateStore.h"

namespace bulkwarden::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 64;        // EX_USAGE: bad command line
inline constexpr int kExitDataErr = 65;      // EX_DATAERR: bad input data (a damaged audit log)
inline constexpr int kExitNoInput = 66;      // EX_NOINPUT: an input file is missing or unreadable
inline constexpr int kExitUnavailable = 69;  // EX_UNAVAILABLE: Salesforce unreachable or refusing
inline constexpr int kExitSoftware = 70;     // EX_SOFTWARE: internal error
inline constexpr int kExitIoErr = 74;        // EX_IOERR: the audit trail cannot be written
inline constexpr int kExitTempFail = 75;     // EX_TEMPFAIL: try again later (see above)
inline constexpr int kExitConfig = 78;       // EX_CONFIG: configuration error

// A state-dir problem: 78 unsafe (a person must fix it), 75 temporary (a read-only or full file
// system), 74 any other I/O error.
int stateExitCode(const state::StateError& e);

// The audit log at `path` could not be opened at start: 75 when its file system is read-only or
// full (found with statvfs on the file or its nearest existing folder), else 74.
int auditOpenExitCode(const std::string& path);

}  // namespace bulkwarden::app
