#include "state/StateDir.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace bulkwarden::state {
namespace {

using Kind = StateError::Kind;

[[noreturn]] void failErrno(const std::string& what, const std::string& path, int err) {
  throw StateError(fmt::format("{} {}: {}", what, path, std::strerror(err)),
                   isTemporaryErrno(err) ? Kind::Temporary : Kind::Other);
}

// The checks shared by the folder and its files. `kind` is "state-dir" or "state file".
void checkOwnerAndMode(const struct stat& st, const std::string& kind, const std::string& path,
                       const char* chmodTo) {
  uid_t me = ::geteuid();
  if (st.st_uid != me) {
    throw StateError(
        fmt::format("{} {} belongs to uid {}, not to the user bulkwarden runs as (uid {}): that "
                    "user could plant links or rewrite it (chown {} {}, or set state-dir to a "
                    "folder of uid {})",
                    kind, path, st.st_uid, me, me, path, me),
        Kind::Unsafe);
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    throw StateError(fmt::format("{} {} has mode {:04o}: group or others may write to it "
                                 "(chmod {} {})",
                                 kind, path, st.st_mode & 07777, chmodTo, path),
                     Kind::Unsafe);
  }
}

void checkRegular(const struct stat& st, const std::string& path) {
  if (S_ISLNK(st.st_mode)) {
    throw StateError(fmt::format("state file {} is a symbolic link; bulkwarden never opens a link "
                                 "there (remove it: rm {})",
                                 path, path),
                     Kind::Unsafe);
  }
  if (!S_ISREG(st.st_mode)) {
    throw StateError(
        fmt::format("state file {} is not a regular file (remove it; bulkwarden recreates it)",
                    path),
        Kind::Unsafe);
  }
  checkOwnerAndMode(st, "state file", path, "600");
}

}  // namespace

bool isTemporaryErrno(int err) {
  switch (err) {
    case EROFS:
    case ENOSPC:
    case EDQUOT:
    case EAGAIN:
    case EINTR:
    case EBUSY:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ETXTBSY:
      return true;
    default:
      return false;
  }
}

StateDir StateDir::open(const std::string& path, bool create) {
  if (path.empty()) throw StateError("state-dir is empty", Kind::Unsafe);
  if (create) {
    // Parents as the umask allows (set at process start, at least 027); the folder itself 0700.
    auto parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      failErrno("cannot create state-dir", path, errno);
    }
  }
  // O_DIRECTORY: a link to a folder is followed (the config names this path on purpose), a link
  // to anything else fails. What matters is who may write in the folder reached.
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOTDIR) {
      throw StateError(fmt::format("state-dir {} is not a directory", path), Kind::Unsafe);
    }
    failErrno("cannot open state-dir", path, err);
  }
  StateDir dir(path, fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) failErrno("cannot stat state-dir", path, errno);
  checkOwnerAndMode(st, "state-dir", path, "700");
  return dir;
}

StateDir::StateDir(StateDir&& other) noexcept : path_(std::move(other.path_)), fd_(other.fd_) {
  other.fd_ = -1;
}

StateDir::~StateDir() {
  if (fd_ >= 0) ::close(fd_);
}

void StateDir::checkFile(const std::string& name) const {
  struct stat st {};
  if (::fstatat(fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    failErrno("cannot stat state file", pathOf(name), errno);
  }
  checkRegular(st, pathOf(name));
}

int StateDir::openFile(const std::string& name, int flags) const {
  // O_NONBLOCK: a FIFO planted under the name must not hang the open (it is refused below).
  int fd =
      ::openat(fd_, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
  if (fd < 0) {
    int err = errno;
    if (err == ELOOP) checkFile(name);  // throws the "symbolic link" message
    failErrno("cannot open state file", pathOf(name), err);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    failErrno("cannot stat state file", pathOf(name), err);
  }
  try {
    checkRegular(st, pathOf(name));
  } catch (...) {
    ::close(fd);
    throw;
  }
  // Back to blocking I/O for a regular file (O_NONBLOCK means nothing there, but keep it plain).
  int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) (void)::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

}  // namespace bulkwarden::state
