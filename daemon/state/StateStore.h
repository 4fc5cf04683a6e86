// What must survive a restart: when bulkwarden first saw each job in its current state (for
// in-state-for), and when each policy last ran (for catch-up after downtime). An interface so that
// the engine and its tests can use an in-memory store; SqliteStateStore keeps it in state-dir.
// Implementations are thread-safe (one org thread per org uses the same store).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "model/Job.h"
#include "model/Time.h"

namespace bulkwarden::state {

// What went wrong with the state store, for the exit code: Unsafe (a link, a foreign owner, a
// mode open to others: a person must fix it, 78), Temporary (read-only or full file system: it
// may clear by itself, 75), Other.
class StateError : public std::runtime_error {
 public:
  enum class Kind { Other, Unsafe, Temporary };
  explicit StateError(const std::string& what, Kind kind = Kind::Other)
      : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  // Records one listed page and returns, for each job, when it was first seen in its current
  // state (`now` for a job new or changed since the last sighting). One transaction per call.
  virtual std::vector<model::Timestamp> observe(const std::string& org, model::ResourceKind kind,
                                                std::span<const model::Job> jobs,
                                                model::Timestamp now) = 0;
  // After a complete listing: forgets the jobs of (org, kind) not seen since `listingStarted`.
  virtual void prune(const std::string& org, model::ResourceKind kind,
                     model::Timestamp listingStarted) = 0;
  virtual std::optional<model::Timestamp> lastPass(const std::string& org,
                                                   const std::string& policy) = 0;
  virtual void recordPass(const std::string& org, const std::string& policy,
                          model::Timestamp when) = 0;

  // The API budget's ledger (engine/ApiBudget.h): calls sent to `org` in one minute (minutes
  // since the epoch) for one purpose. addCalls adds `n` durably before the call goes out;
  // callsSince returns every bucket from `sinceMinute` on and forgets the older ones. The
  // defaults keep nothing (a store that cannot keep it: the budget is then in memory only).
  struct CallBucket {
    int64_t minute = 0;
    std::string purpose;
    int64_t calls = 0;
  };
  virtual void addCalls(const std::string& org, int64_t minute, const std::string& purpose,
                        int64_t n) {
    (void)org, (void)minute, (void)purpose, (void)n;
  }
  virtual std::vector<CallBucket> callsSince(const std::string& org, int64_t sinceMinute) {
    (void)org, (void)sinceMinute;
    return {};
  }
  // Whether the budget writes each call on its own rather than a chunk ahead: the stores of
  // `plan` and `validate --connect`, which end within a minute, so that no later minute would
  // give the unused part of a chunk back.
  virtual bool writesEachCall() const { return false; }
  // Small facts per org the budget and `plan` use: the daily allowance last reported, the pages
  // of the last listing per resource, recent actions ("allowance", "pages:query", ...).
  virtual void setOrgFact(const std::string& org, const std::string& key, int64_t value) {
    (void)org, (void)key, (void)value;
  }
  virtual std::optional<int64_t> orgFact(const std::string& org, const std::string& key) {
    (void)org, (void)key;
    return std::nullopt;
  }
};

// The state of one (org, kind, job id) as remembered.
struct JobMemory {
  model::JobState state = model::JobState::Open;
  model::Timestamp since{};
  model::Timestamp seen{};
};

// In memory only: tests, and `plan` (which must write nothing).
class MemoryStateStore : public StateStore {
 public:
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

  size_t jobCount() const;
  // Seeds what is remembered of one job (a copy of another store's row).
  void remember(const std::string& org, int kind, const std::string& id, const JobMemory& m);

 protected:
  using Key = std::tuple<std::string, int, std::string>;
  std::mutex mutex_;
  std::map<Key, JobMemory> jobs_;
  std::map<std::pair<std::string, std::string>, model::Timestamp> passes_;
  std::map<std::tuple<std::string, int64_t, std::string>, int64_t> calls_;
  std::map<std::pair<std::string, std::string>, int64_t> facts_;
};

}  // namespace bulkwarden::state
