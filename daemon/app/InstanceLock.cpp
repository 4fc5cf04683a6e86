#include "app/InstanceLock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace bulkwarden::app {

std::unique_ptr<InstanceLock> InstanceLock::acquire(const std::string& stateDir, std::string& why) {
  std::error_code ec;
  std::filesystem::create_directories(stateDir, ec);
  std::string path = stateDir + "/bulkwarden.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    why = fmt::format("cannot open {}: {}", path, std::strerror(errno));
    return nullptr;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char holder[32] = {};
    ssize_t n = ::pread(fd, holder, sizeof holder - 1, 0);
    std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    why = err == EWOULDBLOCK
              ? fmt::format("lock held: another bulkwarden (pid {}) runs on state-dir {}", pid,
                            stateDir)
              : fmt::format("cannot lock {}: {}", path, std::strerror(err));
    ::close(fd);
    return nullptr;
  }
  std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, pid.data(), pid.size(), 0);
  return std::unique_ptr<InstanceLock>(new InstanceLock(fd));
}

InstanceLock::~InstanceLock() { ::close(fd_); }

}  // namespace bulkwarden::app
