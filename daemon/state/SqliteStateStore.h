// The state store on disk: one SQLite database (state-dir/state.sqlite) through POCO Data.
// Nothing per job is kept between calls: a page of 1000 jobs is one transaction in which one
// UPSERT looks up, rewrites and returns exactly those jobs' rows (by primary key), so memory is
// bounded by a page whatever the org's job count. Thread-safe (one mutex; passes of different orgs
// take turns for the few milliseconds a page takes).
// Opening: the folder and the files (database, -wal, -shm, -journal) are checked as
// state/StateDir.h says just before SQLite opens them by name. What remains is a race: a process
// that can write in the folder could swap a link in between; the folder check leaves that to the
// running user and root, who can write the files anyway.
#pragma once

#include <Poco/Data/Session.h>

#include <memory>
#include <mutex>

#include "state/StateStore.h"

namespace bulkwarden::state {

class SqliteStateStore : public StateStore {
 public:
  // Opens or creates `path` (its folder must exist); throws StateError when it cannot, or
  // (Kind::Unsafe) when the folder or a file is a link, another user's or writable by others.
  explicit SqliteStateStore(const std::string& path);
  ~SqliteStateStore() override;

  std::vector<model::Timestamp> observe(const std::string& org, model::ResourceKind kind,
                                        std::span<const model::Job> jobs,
                                        model::Timestamp now) override;
  void prune(const std::string& org, model::ResourceKind kind,
             model::Timestamp listingStarted) override;
  std::optional<model::Timestamp> lastPass(const std::string& org,
                                           const std::string& policy) override;
  void recordPass(const std::string& org, const std::string& policy,
                  model::Timestamp when) override;
  void addCalls(const std::string& org, int64_t minute, const std::string& purpose,
                int64_t n) override;
  std::vector<CallBucket> callsSince(const std::string& org, int64_t sinceMinute) override;
  void setOrgFact(const std::string& org, const std::string& key, int64_t value) override;
  std::optional<int64_t> orgFact(const std::string& org, const std::string& key) override;

  // Jobs remembered, all orgs and kinds.
  size_t jobCount() const;

 private:
  std::string path_;
  mutable std::mutex mutex_;
  std::unique_ptr<Poco::Data::Session> session_;
};

// For `plan` and `validate --connect` (docs/operations.md "The API budget"): every call they make
// goes to the API budget's ledger in the daemon's database, as the daemon's own calls do, so that
// the daemon, a later plan and a restart count them; everything else (first-seen times, last
// passes, org facts: the schedule's state, which plan must leave alone) comes from `snapshot`
// (readStateReadOnly) and stays in memory. The ledger is read from the file each time (calls the
// daemon made since count). Opens an existing database only (never creates one), through the
// state folder's checks; waits up to 5 s for the daemon's write lock. Throws StateError when
// it cannot (missing, unsafe, not a bulkwarden database). Thread-safe.
class LedgerStateStore : public StateStore {
 public:
  LedgerStateStore(const std::string& path, std::shared_ptr<StateStore> snapshot);
  ~LedgerStateStore() override;

  std::vector<model::Timestamp> observe(const std::string& org, model::ResourceKind kind,
                                        std::span<const model::Job> jobs,
                                        model::Timestamp now) override;
  void prune(const std::string& org, model::ResourceKind kind,
             model::Timestamp listingStarted) override;
  std::optional<model::Timestamp> lastPass(const std::string& org,
                                           const std::string& policy) override;
  void recordPass(const std::string& org, const std::string& policy,
                  model::Timestamp when) override;
  void addCalls(const std::string& org, int64_t minute, const std::string& purpose,
                int64_t n) override;
  std::vector<CallBucket> callsSince(const std::string& org, int64_t sinceMinute) override;
  void setOrgFact(const std::string& org, const std::string& key, int64_t value) override;
  std::optional<int64_t> orgFact(const std::string& org, const std::string& key) override;
  bool writesEachCall() const override { return true; }

 private:
  std::string path_;
  std::shared_ptr<StateStore> snapshot_;
  mutable std::mutex mutex_;
  std::unique_ptr<Poco::Data::Session> session_;
};

// What the database at `path` remembers (first-seen times and last passes), read into memory
// through a read-only open (`mode=ro`): the file is never created, written or locked for
// writing, so `plan` can read a running daemon's state. Reads at most `maxRows` job rows (the
// oldest-seen beyond that are left out). Throws StateError when the file is missing or cannot
// be read.
std::unique_ptr<MemoryStateStore> readStateReadOnly(const std::string& path, size_t maxRows);

}  // namespace bulkwarden::state
