// One bulkwarden per state directory (RELIABILITY.md B4): an exclusive flock(2) on
// `<state-dir>/bulkwarden.lock`, held for the life of the process (released by the kernel even on
// kill -9). A second instance sees who holds it and exits without touching the audit trail or the
// org. Not copyable; not shared between threads.
#pragma once

#include <memory>
#include <string>

namespace bulkwarden::app {

class InstanceLock {
 public:
  // The lock, or nullptr with `why` set (held by another process, or the folder is unusable).
  static std::unique_ptr<InstanceLock> acquire(const std::string& stateDir, std::string& why);
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

 private:
  explicit InstanceLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace bulkwarden::app
