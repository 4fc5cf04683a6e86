// The API budget's ledger shared by the nodes of a cluster (docs/scaling.md "The API budget in
// cluster mode"): a state store that keeps everything in the node's local store (state.sqlite)
// but the ledger, whose calls go to `bw_api_calls` in PostgreSQL, one row per (org, minute,
// purpose, node); callsSince() sums every node's. So an org that moves to another node brings its
// calls of the last 24 hours with it, and no number of nodes gets it more than its budget.
// The table holds one row per minute of the window and slot (minute mod 1441) per org, purpose and
// node: a new minute overwrites the row of its slot, which is out of the window by then, so the
// table stays bounded without any node needing DELETE. A PostgreSQL error is a state::StateError
// (Temporary): the budget refuses the call rather than send it uncounted (engine/ApiBudget.h).
// Thread-safe (one connection, one statement at a time).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "cluster/PgConnection.h"
#include "model/ThreadSafety.h"
#include "state/StateStore.h"

namespace bulkwarden::cluster {

// The slots of an org's ledger per purpose and node: the minutes of the budget's window
// (engine::kBudgetWindow, 1,440) plus the current one.
inline constexpr int64_t kLedgerSlots = 24 * 60 + 1;

class PgLedgerStore final : public state::StateStore {
 public:
  // `local`: where everything but the ledger is kept. `node`: this node's name (config `node:`).
  // `eachCall`: the store of `plan` and `validate --connect` (state::StateStore::writesEachCall).
  PgLedgerStore(std::shared_ptr<state::StateStore> local, std::string conninfo,
                std::string password, std::string node, std::chrono::milliseconds timeout,
                bool eachCall = false);

  std::vector<model::Timestamp> observe(const std::string& org, model::ResourceKind kind,
                                        std::span<const model::Job> jobs,
                                        model::Timestamp now) override {
    return local_->observe(org, kind, jobs, now);
  }
  void prune(const std::string& org, model::ResourceKind kind,
             model::Timestamp listingStarted) override {
    local_->prune(org, kind, listingStarted);
  }
  std::optional<model::Timestamp> lastPass(const std::string& org,
                                           const std::string& policy) override {
    return local_->lastPass(org, policy);
  }
  void recordPass(const std::string& org, const std::string& policy,
                  model::Timestamp when) override {
    local_->recordPass(org, policy, when);
  }
  void setOrgFact(const std::string& org, const std::string& key, int64_t value) override {
    local_->setOrgFact(org, key, value);
  }
  std::optional<int64_t> orgFact(const std::string& org, const std::string& key) override {
    return local_->orgFact(org, key);
  }

  // Added in PostgreSQL. Throws state::StateError (Temporary) when the database cannot be used.
  void addCalls(const std::string& org, int64_t minute, const std::string& purpose,
                int64_t n) override;
  // Every node's calls in PostgreSQL, and those the local store's ledger holds (calls made before
  // the ledger was shared, or by `plan` while the database could not be reached): no call is
  // written to both. Throws state::StateError.
  std::vector<CallBucket> callsSince(const std::string& org, int64_t sinceMinute) override;
  bool writesEachCall() const override { return eachCall_; }

  const std::shared_ptr<state::StateStore>& local() const { return local_; }
  const std::string& node() const { return node_; }

 private:
  std::shared_ptr<state::StateStore> local_;
  const std::string node_;
  const bool eachCall_;
  model::Mutex mutex_;
  PgConnection db_ GUARDED_BY(mutex_);
};

}  // namespace bulkwarden::cluster
