// The command line of README.md: parses the subcommand and runs it. Returns the exit
// code (sysexits.h).
//
// First of all, before any thread or file, main() adds 027 to the process umask (kUmaskFloor):
// whatever the caller's umask (0 included), nothing bulkwarden creates is writable by group or
// readable by others. Every file and folder is also created with an explicit mode (state files
// 0600, state-dir 0700, the audit file 0640 so that a log shipper's group may read it); the
// umask is the floor under folders created by std::filesystem (0750). A stricter umask (the
// unit's UMask=0077) is kept, not loosened.
#pragma once

#include <sys/types.h>

namespace bulkwarden::app {

inline constexpr mode_t kUmaskFloor = 027;

// Sets the umask to (current | kUmaskFloor); returns the new value.
mode_t restrictUmask();

int main(int argc, char** argv);

}  // namespace bulkwarden::app
