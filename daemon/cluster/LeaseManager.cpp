#include "cluster/LeaseManager.h"

#include <fmt/format.h>

#include <algorithm>

#include "log/Log.h"

namespace bulkwarden::cluster {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::chrono::milliseconds fenceMargin(milliseconds lease) { return lease / 2; }
std::chrono::milliseconds requestDeadline(milliseconds lease) { return lease * 2 / 5; }

namespace {

// A PostgreSQL text[] literal. Org names are checked by the config loader, but quote anyway.
std::string textArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// How long after another node's lease or heartbeat ends the lease thread wakes (the database
// must see it ended), and the shortest wait between two ticks.
constexpr milliseconds kWakeSlack{5};
constexpr milliseconds kMinWait{20};

// Each lease statement must end well within a renewal period.
milliseconds statementTimeout(milliseconds lease) { return std::max(milliseconds(300), lease / 4); }

}  // namespace

LeaseManager::LeaseManager(std::string conninfo, std::string password, LeaseOptions options)
    : options_(std::move(options)),
      db_(std::move(conninfo), std::move(password), statementTimeout(options_.lease)) {}

LeaseManager::~LeaseManager() { stop(); }

void LeaseManager::prepare() {
  db_.exec(
      "INSERT INTO bw_leases (org, holder, epoch, expires_at) "
      "SELECT unnest($1::text[]), '', 0, '-infinity' ON CONFLICT (org) DO NOTHING",
      {textArray(options_.orgs)});
}

void LeaseManager::start() {
  model::MutexLock lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void LeaseManager::stop() {
  {
    model::MutexLock lock(mutex_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  releaseAll();
}

void LeaseManager::loop() {
  const milliseconds period = options_.lease / 3;
  model::MutexLock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    auto next = tick();
    lock.lock();
    // Every lease/3, or sooner: just after the next moment another node's lease or heartbeat
    // ends, so that a dead node's orgs are taken as soon as they are free (within the lease
    // time of its last renewal, hence of its death), not up to lease/3 later.
    auto wait = period;
    if (next) wait = std::clamp(*next + kWakeSlack, kMinWait, period);
    const auto until = Steady::now() + wait;
    // A loop rather than a predicate: the analysis sees the lock held here, not in a lambda.
    while (!stopping_ && wake_.wait_until(lock.native(), until) != std::cv_status::timeout) {
    }
  }
}

std::optional<milliseconds> LeaseManager::tick() {
  const std::string leaseMs = std::to_string(options_.lease.count());
  const std::string& me = options_.node;
  try {
    auto sent = Steady::now();
    db_.exec(
        "INSERT INTO bw_nodes (node, heartbeat) VALUES ($1, now()) "
        "ON CONFLICT (node) DO UPDATE SET heartbeat = now()",
        {me});
    int64_t live = std::max<int64_t>(
        1, std::stoll(db_.exec("SELECT count(*) FROM bw_nodes WHERE heartbeat > now() - $1 * "
                               "interval '1 millisecond'",
                               {leaseMs})
                          .get(0, 0)));
    const auto orgCount = static_cast<int64_t>(options_.orgs.size());
    const int64_t fair = (orgCount + live - 1) / live;

    // Renew what is held, by the same epoch only.
    std::vector<std::string> mine;
    {
      model::MutexLock lock(mutex_);
      for (const auto& [org, _] : held_) mine.push_back(org);
    }
    if (!mine.empty()) {
      sent = Steady::now();
      auto r = db_.exec(
          "UPDATE bw_leases SET expires_at = now() + $3 * interval '1 millisecond' "
          "WHERE org = ANY($1::text[]) AND holder = $2 AND expires_at > now() "
          "RETURNING org, epoch",
          {textArray(mine), me, leaseMs});
      std::map<std::string, int64_t> renewed;
      for (int i = 0; i < r.rows(); ++i) renewed[r.get(i, 0)] = std::stoll(r.get(i, 1));
      model::MutexLock lock(mutex_);
      for (auto it = held_.begin(); it != held_.end();) {
        auto got = renewed.find(it->first);
        if (got != renewed.end() && got->second == it->second.epoch) {
          it->second.renewedAt = sent;
          ++it;
        } else {
          log::warning("cluster: lost the lease on org {} (epoch {}); another node governs it",
                       it->first, it->second.epoch);
          it = held_.erase(it);
        }
      }
    }

    // Above the fair share: give the extra orgs back. They stop here first (no new request), and
    // the row expires a margin later, after any request already sent has ended.
    std::vector<std::string> extra;
    {
      model::MutexLock lock(mutex_);
      auto n = static_cast<int64_t>(held_.size());
      for (auto it = held_.rbegin(); it != held_.rend() && n > fair; ++it, --n) {
        extra.push_back(it->first);
      }
      for (const auto& org : extra) held_.erase(org);
    }
    for (const auto& org : extra) {
      db_.exec(
          "UPDATE bw_leases SET expires_at = LEAST(expires_at, now() + $3 * interval "
          "'1 millisecond') WHERE org = $1 AND holder = $2",
          {org, me, std::to_string(margin().count())});
      log::notice("cluster: gave back org {} ({} live node(s), fair share {})", org, live, fair);
    }

    // Below it: take free orgs (expired leases), each with a new epoch.
    int64_t want = 0;
    {
      model::MutexLock lock(mutex_);
      want = fair - static_cast<int64_t>(held_.size());
    }
    if (want > 0) take(want, live, fair);
    // When the next foreign lease or heartbeat ends (either may free orgs or raise the fair
    // share), by the database's clock, from now.
    auto r = db_.exec(
        "SELECT (extract(epoch FROM LEAST("
        "(SELECT min(expires_at) FROM bw_leases WHERE org = ANY($1::text[]) AND holder <> $2 "
        "AND expires_at > clock_timestamp()), "
        "(SELECT min(heartbeat) + $3 * interval '1 millisecond' FROM bw_nodes WHERE node <> $2 "
        "AND heartbeat + $3 * interval '1 millisecond' > clock_timestamp())) - clock_timestamp()) "
        "* 1000)::bigint",
        {textArray(options_.orgs), me, leaseMs});
    if (r.rows() == 1 && !r.isNull(0, 0)) return milliseconds(std::stoll(r.get(0, 0)));
  } catch (const PgError& e) {
    log::warning(
        "cluster: lease renewal failed: {}; orgs held stop acting before their leases "
        "can expire",
        e.what());
  } catch (const std::exception& e) {
    log::warning("cluster: lease renewal failed: {}", e.what());
  }
  return std::nullopt;
}

void LeaseManager::take(int64_t want, int64_t live, int64_t fair) {
  const std::string leaseMs = std::to_string(options_.lease.count());
  const std::string& me = options_.node;
  auto free = db_.exec(
      "SELECT org FROM bw_leases WHERE org = ANY($1::text[]) AND expires_at <= now() "
      "ORDER BY org",
      {textArray(options_.orgs)});
  for (int i = 0; i < free.rows() && want > 0; ++i) {
    std::string org = free.get(i, 0);
    auto sent = Steady::now();
    auto r = db_.exec(
        "UPDATE bw_leases SET holder = $2, epoch = epoch + 1, "
        "expires_at = now() + $3 * interval '1 millisecond' "
        "WHERE org = $1 AND expires_at <= now() RETURNING epoch",
        {org, me, leaseMs});
    if (r.rows() != 1) continue;  // another node was quicker
    int64_t epoch = std::stoll(r.get(0, 0));
    {
      model::MutexLock lock(mutex_);
      held_[org] = Held{epoch, sent, false};
    }
    --want;
    log::notice("cluster: took org {} (epoch {}; {} live node(s), fair share {})", org, epoch, live,
                fair);
  }
}

void LeaseManager::releaseAll() {
  std::vector<std::string> mine;
  {
    model::MutexLock lock(mutex_);
    for (const auto& [org, _] : held_) mine.push_back(org);
    held_.clear();
  }
  try {
    // Nothing is in flight any more (the scheduler has stopped): the orgs are free at once.
    if (!mine.empty()) {
      db_.exec(
          "UPDATE bw_leases SET expires_at = now() WHERE org = ANY($1::text[]) AND holder = $2",
          {textArray(mine), options_.node});
    }
    db_.exec("DELETE FROM bw_nodes WHERE node = $1", {options_.node});
  } catch (const PgError& e) {
    log::warning("cluster: could not give back the leases at stop ({}); they expire by themselves",
                 e.what());
  }
}

bool LeaseManager::mayAct(const std::string& org) const {
  model::MutexLock lock(mutex_);
  auto it = held_.find(org);
  if (it == held_.end()) return false;
  // The lease ends no earlier than renewedAt + lease by this clock; a tenth of it is kept for
  // the rates of the two clocks and the time a reply takes to be read.
  return Steady::now() + requestDeadline(options_.lease) <
         it->second.renewedAt + options_.lease - options_.lease / 10;
}

void LeaseManager::unsettle(const std::string& org) {
  model::MutexLock lock(mutex_);
  auto it = held_.find(org);
  if (it != held_.end()) it->second.settled = false;
}

std::optional<int64_t> LeaseManager::epoch(const std::string& org) const {
  if (!mayAct(org)) return std::nullopt;
  model::MutexLock lock(mutex_);
  auto it = held_.find(org);
  if (it == held_.end()) return std::nullopt;
  return it->second.epoch;
}

std::set<std::string> LeaseManager::held() const {
  model::MutexLock lock(mutex_);
  std::set<std::string> out;
  for (const auto& [org, _] : held_) out.insert(org);
  return out;
}

std::optional<std::string> LeaseManager::refuse(const std::string& org) {
  if (!mayAct(org)) return std::string("another node holds the org's lease (cluster)");
  bool settled = false;
  {
    model::MutexLock lock(mutex_);
    auto it = held_.find(org);
    if (it == held_.end()) return std::string("another node holds the org's lease (cluster)");
    settled = it->second.settled;
  }
  if (settled) return std::nullopt;
  model::MutexLock one(settleMutex_);
  bool ok = settle_ ? settle_(org) : true;
  model::MutexLock lock(mutex_);
  auto it = held_.find(org);
  if (it == held_.end()) return std::string("another node holds the org's lease (cluster)");
  if (!ok) return std::string("the intents a previous holder left open are not settled yet");
  it->second.settled = true;
  return std::nullopt;
}

}  // namespace bulkwarden::cluster
