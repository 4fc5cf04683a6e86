// Digests that survive a crash (docs/notifications.md, "At least once, across crashes"). A pass's
// digests are built at its end from the decisions in memory; a kill -9 between its first action
// and that moment would lose them. So the state directory keeps a durable mark of the digests
// queued (DigestMarks, `notify-queued`), and at start the digests of passes whose records are
// in the audit trail but that were never queued are rebuilt from the trail's records
// (rebuildDigests) and queued then.
//
// Both read outside input (a file of the state directory, the trail): lines are capped, files
// bounded, anything malformed skipped. DigestMarks is thread-safe; rebuildDigests is a plain
// function.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "model/ThreadSafety.h"
#include "notify/Digest.h"

namespace bulkwarden::notify {

// Marks kept beyond this are compacted to the newest half (see DigestMarks::mark).
inline constexpr size_t kMaxMarks = 10'000;
// At start, at most this many bytes at the end of the trail are read to rebuild digests.
inline constexpr uint64_t kRebuildWindowBytes = 64ull * 1024 * 1024;

// `notify-queued` in the state directory (0600): which passes' digests were queued, by run id,
// org and policy, and from where in the trail a start must look for passes whose digests were
// not. Its text:
//   bulkwarden digest marks 1
//   since <seq>            every pass that started at or before this audit seq is settled
//   after-run <run>        (optional) passes whose run id sorts at or before it are settled
//   <run> <org> <policy>   one line per digest queued since
class DigestMarks {
 public:
  explicit DigestMarks(std::string dir);

  // Reads the file; false when there is none (or it is not one bulkwarden wrote: a link, not a
  // regular file of this user, over 4 MiB, a wrong first line), which then counts as none.
  bool load();
  bool exists() const;
  uint64_t since() const;
  std::string afterRun() const;
  bool queued(const std::string& run, const std::string& org, const std::string& policy) const;

  // Records that a pass's digest was queued (appended and synced). Beyond kMaxMarks lines the
  // file is rewritten with the newest half, `after-run` set to the newest run dropped.
  void mark(const std::string& run, const std::string& org, const std::string& policy);
  // Rewrites the file with `since` and no marks: every pass up to that seq is settled.
  void reset(uint64_t since);

 private:
  using Key = std::tuple<std::string, std::string, std::string>;  // run, org, policy
  bool rewrite() REQUIRES(mutex_);
  std::string path() const;

  std::string dir_;
  mutable model::Mutex mutex_;
  bool exists_ GUARDED_BY(mutex_) = false;
  uint64_t since_ GUARDED_BY(mutex_) = 0;
  std::string afterRun_ GUARDED_BY(mutex_);
  std::vector<Key> order_ GUARDED_BY(mutex_);  // oldest first
  std::set<Key> keys_ GUARDED_BY(mutex_);
};

struct RebuildOptions {
  uint64_t since = 0;    // only passes whose run-start has a greater seq
  std::string afterRun;  // and whose run id sorts after this ("" : any)
  uint64_t windowBytes = kRebuildWindowBytes;
  // Whether the digest of (run, org, policy) is wanted: a policy that notifies, not yet queued.
  std::function<bool(const std::string& run, const std::string& org, const std::string& policy)>
      wanted;
};

struct RebuildResult {
  std::vector<Digest> digests;  // in the order of the passes' run-start records
  uint64_t lastSeq = 0;         // the last seq read (0: none)
  bool windowCut = false;       // the window began after `since`: older passes were not read
  std::string error;            // a file could not be read (what was read is still used)
};

// Rebuilds the digests of passes from the trail's files (rotated first, the live file last; .gz
// files are not read): the last `windowBytes` of them, from the first whole line. A pass counts
// only when its run-start is in the window. A decision's outcome is its job's last result in
// that pass (or the result recovery wrote for the pass's intent later); an intent with no result
// is `unknown`; an enforced abort or delete with no intent `not-started`; a report or a dry run
// `recorded`. Held-back jobs come from the `held` records (their first ids, with no object or
// state), with the count of each reason.
RebuildResult rebuildDigests(const std::vector<std::string>& trailFiles,
                             const RebuildOptions& options);

}  // namespace bulkwarden::notify
