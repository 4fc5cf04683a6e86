// `audit show` and `audit summary`: read a trail (its rotated files and the live one), stream it
// record by record, filter and print. The trail is outside input: every string printed is
// escaped and capped, a line that is not a record is counted and skipped, and memory is bounded
// by the number of distinct (org, policy, action, outcome) groups kept (kMaxGroups).
// Not thread-safe (a command runs on the main thread).
#pragma once

#include <string>
#include <vector>

namespace bulkwarden::app {

// The most distinct groups `audit summary` counts apart; the rest are counted as "(other)".
inline constexpr size_t kMaxGroups = 10'000;

// `audit show|summary` with the arguments after the subcommand. Returns the exit code: 0, 64 bad
// usage, 66 a file missing or unreadable, 78 a config that cannot be loaded.
int auditQueryCommand(const std::string& sub, const std::vector<std::string>& args);

}  // namespace bulkwarden::app
