// The state directory and the files bulkwarden keeps in it (the instance lock, the SQLite store
// and its -wal/-shm/-journal): the folder must belong to the running user and be closed to group
// and others' writes, so that nobody else can plant a link or a file in it; each file is opened
// relative to the folder's descriptor with O_NOFOLLOW, created 0600, and refused unless it is a
// regular file of the running user that group and others cannot write. Errors name the path and
// the command that fixes it. Not thread-safe; one owner at a time (move-only).
#pragma once

#include <string>

#include "state/StateStore.h"

namespace bulkwarden::state {

class StateDir {
 public:
  // Opens the folder `path` (a link naming it is followed: systemd's StateDirectory= with
  // DynamicUser= is such a link), creating it 0700 when `create` and it is missing. Throws
  // StateError (Kind::Unsafe: not a folder, not the running user's, writable by group or others).
  static StateDir open(const std::string& path, bool create);
  ~StateDir();
  StateDir(StateDir&& other) noexcept;
  StateDir& operator=(StateDir&&) = delete;
  StateDir(const StateDir&) = delete;
  StateDir& operator=(const StateDir&) = delete;

  // Opens `name` in the folder with `flags` (O_CREAT makes it 0600), never through a link. Returns
  // the descriptor (the caller closes it). Throws StateError as checkFile does.
  int openFile(const std::string& name, int flags) const;
  // Checks `name` without opening it: absent, or a regular file of the running user that group
  // and others cannot write. Throws StateError (Kind::Unsafe) naming the file and the fix.
  void checkFile(const std::string& name) const;

  const std::string& path() const { return path_; }
  std::string pathOf(const std::string& name) const { return path_ + "/" + name; }

 private:
  StateDir(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_ = -1;
};

// Whether errno `err` names a condition that may clear by itself (a read-only or full file
// system, a transient shortage): bulkwarden exits 75 for those, so that systemd retries.
bool isTemporaryErrno(int err);

}  // namespace bulkwarden::state
