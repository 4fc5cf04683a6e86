// A file descriptor closed when it goes out of scope, and a write of a whole buffer that resumes
// after EINTR and short writes: the pieces shared by the small files bulkwarden keeps in its
// state directory (the notification outbox and marks, the rotated refresh tokens).
// Not thread-safe: one owner.
#pragma once

#include <errno.h>
#include <unistd.h>

#include <string_view>

namespace bulkwarden::model {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Gives the descriptor up (the caller closes it).
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// Writes all of `data`; false on an error (errno says which) or a write that wrote nothing.
inline bool writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace bulkwarden::model
