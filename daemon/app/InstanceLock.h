// One bulkwarden per state directory (docs/reliability.md B4): an exclusive flock(2) on
// `<state-dir>/bulkwarden.lock`, held for the life of the process (released by the kernel even on
// kill -9). A second instance sees who holds it and exits without touching the audit trail or the
// org. The folder and the file are checked first (state/StateDir.h): a link at the lock's name,
// a folder or file of another user or writable by others is refused, and nothing is truncated or
// written before the lock is held on a file that passed. Not copyable; not shared between threads.
#pragma once

#include <memory>
#include <string>

namespace bulkwarden::app {

class InstanceLock {
 public:
  // The lock, or nullptr with `why` set and `exitCode` the code to exit with: 75 (held by
  // another process, or a file system that may recover), 78 (an unsafe folder or file a person
  // must fix), 74 (any other I/O error).
  static std::unique_ptr<InstanceLock> acquire(const std::string& stateDir, std::string& why,
                                               int& exitCode);
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

 private:
  explicit InstanceLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace bulkwarden::app
