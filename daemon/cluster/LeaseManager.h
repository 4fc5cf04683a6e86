// Per-org leases in PostgreSQL (docs/scaling.md): a row per org (holder, epoch, expires_at by
// the database's clock), taken and renewed in single statements. Every lease/3 this node beats
// its heartbeat, renews what it holds, gives back what is above its fair share
// (ceil(orgs / live nodes)) and takes free orgs up to it; it also wakes just after another
// node's lease or heartbeat ends, so that a dead node's orgs are taken as soon as they are free. A
// taken org gets a new epoch; before its first pass here, the settle callback settles the intents a
// previous holder left open.
//
// Safety rule (the arithmetic is in docs/scaling.md): the database's fence at the intent commit
// asks for `expires_at > clock_timestamp() + margin()`, and mayAct() is true only while the
// request, started now and bounded by requestDeadline(), ends before the lease can expire by the
// local monotonic clock (the send time of the last renewal + lease). requestDeadline() < margin() <
// lease/3*2. Thread-safe: its own thread renews; refuse(), epoch() and mayAct() are called from any
// thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster/PgConnection.h"
#include "engine/OrgGate.h"
#include "model/ThreadSafety.h"

namespace bulkwarden::cluster {

struct LeaseOptions {
  std::string node;
  std::chrono::milliseconds lease{15'000};
  std::vector<std::string> orgs;  // the orgs of this node's config
};

// The margin the fence asks for, and the deadline of every Salesforce request in cluster mode.
std::chrono::milliseconds fenceMargin(std::chrono::milliseconds lease);      // lease / 2
std::chrono::milliseconds requestDeadline(std::chrono::milliseconds lease);  // lease * 2 / 5

class LeaseManager : public engine::OrgGate {
 public:
  // Settles what previous holders left open for `org`; true when done (false: try again later).
  using Settle = std::function<bool(const std::string& org)>;

  LeaseManager(std::string conninfo, std::string password, LeaseOptions options);
  ~LeaseManager() override;

  void setSettle(Settle settle) { settle_ = std::move(settle); }
  // Creates the lease rows of this node's orgs; throws PgError when the database cannot be used.
  void prepare();
  void start();
  // Stops renewing and gives back every lease at once (call only once nothing is in flight).
  void stop();

  std::optional<std::string> refuse(const std::string& org) override;
  // The epoch this node holds `org` with, while it may still act on it; nullopt otherwise.
  std::optional<int64_t> epoch(const std::string& org) const;
  // Whether a request to `org`'s Salesforce may start now and end before the lease can expire.
  bool mayAct(const std::string& org) const;
  // `org`'s open intents must be settled again before its next pass (an intent whose commit is
  // in doubt: cluster/PgAudit.cpp); refuse() runs the settle callback first.
  void unsettle(const std::string& org);
  const std::string& node() const { return options_.node; }
  std::chrono::milliseconds margin() const { return fenceMargin(options_.lease); }
  std::set<std::string> held() const;

 private:
  struct Held {
    int64_t epoch = 0;
    std::chrono::steady_clock::time_point renewedAt;  // send time of the last good renewal
    bool settled = false;
  };
  void loop();
  // One round (heartbeat, renew, give back, take); returns how long until the next foreign
  // lease or heartbeat ends, when one is known.
  std::optional<std::chrono::milliseconds> tick();
  // Takes up to `want` free orgs. Throws PgError.
  void take(int64_t want, int64_t live, int64_t fair);
  void releaseAll();

  LeaseOptions options_;
  PgConnection db_;  // used by the lease thread only (and by stop() after it joined)
  Settle settle_;
  mutable model::Mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::map<std::string, Held> held_ GUARDED_BY(mutex_);
  std::thread thread_;
  model::Mutex settleMutex_ ACQUIRED_BEFORE(mutex_);  // one settlement at a time
};

}  // namespace bulkwarden::cluster
