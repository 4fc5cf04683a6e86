// Exit codes (sysexits.h), as documented in the README and `bulkwarden --help`.
#pragma once

namespace bulkwarden::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 64;        // EX_USAGE: bad command line
inline constexpr int kExitDataErr = 65;      // EX_DATAERR: bad input data (a damaged audit log)
inline constexpr int kExitNoInput = 66;      // EX_NOINPUT: an input file is missing or unreadable
inline constexpr int kExitUnavailable = 69;  // EX_UNAVAILABLE: Salesforce unreachable or refusing
inline constexpr int kExitSoftware = 70;     // EX_SOFTWARE: internal error
inline constexpr int kExitIoErr = 74;        // EX_IOERR: the audit trail cannot be written
inline constexpr int kExitTempFail = 75;     // EX_TEMPFAIL: another instance holds the state-dir
inline constexpr int kExitConfig = 78;       // EX_CONFIG: configuration error

}  // namespace bulkwarden::app
