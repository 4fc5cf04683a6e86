// The audit trail (docs/design.md section 4, docs/reliability.md): one JSON object a line,
// appended to a file opened O_APPEND, never rewritten. Every record carries a contiguous `seq`,
// `ts` (UTC, milliseconds), `run`, `type`, `prev` and `hash`: hash = SHA-256 of the record's text
// up to (not including) `,"hash":`, which contains `prev`, the previous record's hash. So any
// edit, deletion or reordering breaks the chain at the first record touched.
//
// Durable appends and syncThrough use group commit: concurrent callers share one fdatasync, and
// each returns only once a sync that covers its own record has completed (at once, when one
// already has).
//
// Fail closed: after a failed write or sync the log refuses every record (so no action goes out
// unrecorded) until a retry, at most once per retryInterval, reopens the file on a new descriptor,
// cuts any torn tail and writes a `recovery` record; then it resumes by itself. Intents are also
// refused while the file system has less than reserveBytes free, so that results of requests
// already in flight can still be written. Rotation by size renames the file to
// `<path>.<first seq, 12 digits>` and carries the chain into the new file; old files are never
// deleted. reopen() (SIGUSR1, after logrotate moved the file) continues the chain in a new file.
//
// Local attackers (docs/reliability.md, "The audit trail against a local attacker"): the file, its
// lock and the anchor are opened O_NOFOLLOW and refused unless owned by this user and not
// writable by group or others; folders are created 0700, files 0640 (the anchor and lock 0600)
// whatever the umask. One writer per trail: `<path>.lock` is flock()ed for the log's lifetime.
// A file is never cut unless its last complete line is a valid record, and a torn tail longer
// than a record can be (kMaxRecordBytes) is refused, not cut. The anchor (optional, in
// state-dir) remembers the trail's first and last record so that a cut is found; with a key,
// each record also carries `mac` = HMAC-SHA256(key, hash).
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/AuditSink.h"
#include "audit/WriteObserver.h"
#include "model/Time.h"

namespace bulkwarden::audit {

inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// No record is longer than this (a longer one is refused); so neither is a torn tail.
inline constexpr uint64_t kMaxRecordBytes = uint64_t{1} << 20;

struct AuditOptions {
  uint64_t rotateBytes = 0;   // rotate when the file would grow past this; 0: never
  uint64_t reserveBytes = 0;  // refuse intents below this much free space; 0: no reserve
  std::chrono::milliseconds retryInterval{1000};  // after a failure, how often to try again
  // The anchor file (state-dir/audit.anchor); empty: none. The log refuses to open a trail that
  // ends before the anchor's last record (or disagrees with it) unless acceptAnchor is set, in
  // which case it records an `anchor-accepted` record and moves the anchor.
  std::string anchorPath;
  bool acceptAnchor = false;
  // The anchor follows the syncs of intents at most this often; every other durable record
  // (config, run-end, recovery) moves it at once, and so does a clean close.
  std::chrono::milliseconds anchorInterval{1000};
  std::string key;  // HMAC key (`audit-key`); empty: records carry no `mac`
};

// The anchor: what the trail held at its last checkpoint, kept outside the trail's folder.
struct Anchor {
  std::string trail;  // the live file's path
  uint64_t firstSeq = 0;
  std::string firstHash;
  uint64_t lastSeq = 0;
  std::string lastHash;
  bool authenticated = false;  // carried a mac that matched the key given to readAnchor
};

// Reads an anchor file (O_NOFOLLOW, owned by this user, at most 4 KiB). nullopt when there is
// none. Throws AuditError (Refused) when it is unsafe or damaged, or, given a key, when its mac
// is present and does not match.
std::optional<Anchor> readAnchor(const std::string& path, const std::string& key = "");

class AuditLog : public AuditSink {
 public:
  using ClockFn = std::function<model::Timestamp()>;

  // Opens (creating the file, mode 0640, and its folder if missing) and continues the chain from
  // the last record. A torn last line (no newline: the process died mid-write) is cut off and a
  // `recovery` record says how many bytes went. Throws AuditError if the file cannot be opened
  // or its last complete record is not a valid audit record.
  explicit AuditLog(std::string path, ClockFn clock = nullptr);
  AuditLog(std::string path, AuditOptions options, ClockFn clock = nullptr);
  ~AuditLog() override;
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Each call is timed and told to the observer, if any (setObserver).
  uint64_t append(std::string_view type, std::string_view run, const Fields& fields,
                  Sync sync) override;
  void sync() override;
  void syncThrough(uint64_t seq) override;

  // Told how each later append, sync and syncThrough went (audit/WriteObserver.h); nullptr: none.
  // The observer must outlive the log or be replaced first. Thread-safe.
  void setObserver(WriteObserver* observer) { observer_.store(observer); }
  WriteObserver* observer() const { return observer_.load(); }

  // Closes and reopens the file at path() (logrotate moved it away): the chain goes on in the new
  // file. Throws AuditError.
  void reopen();

  const std::string& path() const { return path_; }
  uint64_t lastSeq() const;
  // Empty while records can be written; otherwise why not (the log is failed closed).
  std::string failure() const;
  // Bytes cut off a torn tail when the file was opened (0 when it ended cleanly).
  uint64_t recoveredBytes() const { return recoveredBytes_; }
  // What the anchor check did at open: empty when the anchor agreed; otherwise a sentence
  // ("created", "accepted: ..."), also recorded in the trail.
  const std::string& anchorNote() const { return anchorNote_; }

 private:
  uint64_t appendRecord(std::string_view type, std::string_view run, const Fields& fields,
                        Sync sync);
  void syncAll();
  void syncRecordsThrough(uint64_t seq);
  // Runs `write` and tells the observer how long it took and whether it threw AuditError.
  template <class F>
  auto observed(WriteKind kind, F write) -> decltype(write());
  // `checkpoint`: move the anchor after this sync whatever the interval.
  void syncUpTo(std::unique_lock<std::mutex>& lock, uint64_t seq, bool checkpoint = false);
  // Opens path_, cuts a torn tail, loads seq_ and prevHash_ from the last record (keeping the
  // in-memory chain when the file is new and empty). Returns the bytes cut off. Throws.
  uint64_t openFile();
  // Compares the trail with the anchor at open; throws AuditError (Refused) when the trail is
  // behind it, unless accepting. Returns the fields of the record to write, if any.
  std::optional<Fields> checkAnchor();
  void writeAnchor(uint64_t seq, const std::string& hash, uint64_t headSeq,
                   const std::string& headHash);
  void continueFromRotated();
  void closeAll();
  void fail(std::string why);
  void tryRecover(std::unique_lock<std::mutex>& lock);
  void rotate(std::unique_lock<std::mutex>& lock);
  std::string format(uint64_t seq, std::string_view type, std::string_view run,
                     const Fields& fields, std::string& hash) const;
  void writeLine(const std::string& line);

  std::string path_;
  std::string name_;  // the file name inside dirFd_
  AuditOptions options_;
  ClockFn clock_;
  int fd_ = -1;
  int dirFd_ = -1;   // the trail's folder: every open and rename is relative to it
  int lockFd_ = -1;  // <path>.lock, flock()ed while this log lives
  int anchorDirFd_ = -1;
  std::string anchorName_;
  std::string anchorNote_;
  uint64_t headSeq_ = 0;  // the trail's first record, as the anchor names it
  std::string headHash_;
  uint64_t anchoredSeq_ = 0;  // the last seq the anchor names (written by the syncing thread)
  std::chrono::steady_clock::time_point lastAnchor_{};
  uint64_t recoveredBytes_ = 0;
  uint64_t fileBytes_ = 0;
  uint64_t firstSeqInFile_ = 0;
  std::chrono::steady_clock::time_point nextRetry_{};

  std::atomic<WriteObserver*> observer_{nullptr};

  mutable std::mutex mutex_;
  std::condition_variable synced_;
  uint64_t seq_ = 0;        // last seq written
  uint64_t syncedSeq_ = 0;  // last seq known durable
  bool syncing_ = false;
  bool failed_ = false;  // a write or sync failed: refuse everything (fail closed)
  std::string failure_;
  std::string prevHash_;
};

// SHA-256 of `text`, lower-case hex.
std::string sha256Hex(std::string_view text);
// HMAC-SHA256 of `text` under `key`, lower-case hex.
std::string hmacSha256Hex(std::string_view key, std::string_view text);

// The result of checking an audit file.
struct VerifyReport {
  bool ok = true;
  bool unreadable = false;  // a file could not be read (missing): exit 66, not "altered"
  uint64_t records = 0;
  uint64_t firstSeq = 0;
  uint64_t lastSeq = 0;
  std::optional<uint64_t> firstBadSeq;  // the first record that breaks the file (seq or line no.)
  int64_t firstBadLine = 0;
  std::string problem;                // what is wrong with it
  std::vector<uint64_t> openIntents;  // intents with no result after them
  std::string firstHash, lastHash;
  uint64_t macs = 0;                   // records whose mac was checked against the key
  std::vector<std::string> unchecked;  // rotated files found but not read (compressed with xz...)
};

struct VerifyOptions {
  std::string key;  // audit-key: every record from the first with a mac on, and the last, must
                    // carry a matching mac
  const Anchor* anchor = nullptr;  // when given: the trail must start at its first record and
                                   // hold its last record (cut head, cut tail, rewrite)
};

// Checks several files of one trail in order (rotated files first, the live file last): each
// file's first record must continue the chain of the previous file's last record. Files ending
// in .gz are read through gzip.
VerifyReport verifyFiles(const std::vector<std::string>& paths, const VerifyOptions& options = {});

// The rotated files of the trail at `path`, oldest first, then `path` itself: bulkwarden's
// `<path>.<12 digits>`, logrotate's `<path>.N` and `<path>.N.gz` (and `-YYYYMMDD` dateext names),
// ordered by the first seq each holds (empty ones left out). `unchecked` receives rotated files
// in another compression, which cannot be read.
std::vector<std::string> trailFiles(const std::string& path,
                                    std::vector<std::string>* unchecked = nullptr);

// Streams the lines of a trail's files in order (through gzip for .gz; O_NOFOLLOW), calling
// `line(path, text)` for each line, never holding more than one line: a line longer than
// kMaxRecordBytes is skipped whole (and counted in *tooLong when given). Returns empty, or why a
// file could not be read (it stops there). For readers (`audit show`); checks nothing.
std::string readTrailLines(const std::vector<std::string>& paths,
                           const std::function<void(const std::string&, std::string_view)>& line,
                           uint64_t* tooLong = nullptr);

// Checks the file: every line valid JSON with the fields above, seq contiguous, each prev equal
// to the previous hash (the first record may start a rotated file with any prev, unless its seq
// is 1), each hash correct, every result naming an earlier intent.
VerifyReport verifyFile(const std::string& path);

}  // namespace bulkwarden::audit
