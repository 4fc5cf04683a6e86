#include "app/InstanceLock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "app/ExitCodes.h"
#include "state/StateDir.h"

namespace bulkwarden::app {

std::unique_ptr<InstanceLock> InstanceLock::acquire(const std::string& stateDir, std::string& why,
                                                    int& exitCode) {
  const std::string name = "bulkwarden.lock";
  int fd = -1;
  try {
    auto dir = state::StateDir::open(stateDir, true);
    // No O_TRUNC: the file is emptied only once it is ours (locked, and checked as regular).
    fd = dir.openFile(name, O_RDWR | O_CREAT);
  } catch (const state::StateError& e) {
    why = e.what();
    exitCode = stateExitCode(e);
    return nullptr;
  }
  std::string path = stateDir + "/" + name;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char holder[32] = {};
    ssize_t n = ::pread(fd, holder, sizeof holder - 1, 0);
    std::string pid;
    for (ssize_t i = 0; i < n && holder[i] >= '0' && holder[i] <= '9'; ++i) pid += holder[i];
    if (pid.empty()) pid = "?";
    why = err == EWOULDBLOCK
              ? fmt::format("lock held: another bulkwarden (pid {}) runs on state-dir {}", pid,
                            stateDir)
              : fmt::format("cannot lock {}: {}", path, std::strerror(err));
    exitCode = kExitTempFail;
    ::close(fd);
    return nullptr;
  }
  std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, pid.data(), pid.size(), 0);
  return std::unique_ptr<InstanceLock>(new InstanceLock(fd));
}

InstanceLock::~InstanceLock() { ::close(fd_); }

}  // namespace bulkwarden::app
