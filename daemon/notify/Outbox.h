// The notifications not yet delivered, one small file each in the state directory
// (`notify-<seq>.msg`, 0600): written (and synced) before a delivery is tried, removed once the
// target accepted it, so that a digest survives a crash or a restart and is sent again then; a
// delivered digest is never sent again. Files there are treated as hostile: opened with
// O_NOFOLLOW, refused unless regular, the running user's and at most kMaxEntryBytes; at most
// kMaxEntries are loaded. Thread-safe (each call works on its own descriptors).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "model/ThreadSafety.h"

namespace bulkwarden::notify {

inline constexpr size_t kMaxEntryBytes = 256 * 1024;
inline constexpr size_t kMaxEntries = 1000;

struct OutboxEntry {
  std::string file;     // name in the state directory
  std::string target;   // the notification's name
  std::string payload;  // what is sent (webhook body; email: subject line, then the body)
};

class Outbox {
 public:
  explicit Outbox(std::string dir);

  // Writes the entry atomically (temporary file, fsync, rename, fsync of the folder). Returns
  // the file name, or nothing after logging why it could not be kept (it is still sent).
  std::optional<std::string> put(const std::string& target, const std::string& payload);
  // Every entry kept, oldest first (at most kMaxEntries); unreadable or unsafe files are skipped
  // with a warning and left alone.
  std::vector<OutboxEntry> load() const;
  void remove(const std::string& file) const;

 private:
  std::string dir_;
  model::Mutex mutex_;
  uint64_t next_ GUARDED_BY(mutex_) = 0;  // next sequence number, above every file seen
};

}  // namespace bulkwarden::notify
