#include "state/SqliteStateStore.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Exception.h>
#include <fmt/format.h>

#include <filesystem>

namespace bulkwarden::state {

using namespace Poco::Data::Keywords;
using Poco::Int64;

namespace {

Int64 ms(model::Timestamp t) { return static_cast<Int64>(t.time_since_epoch().count()); }
model::Timestamp fromMs(Int64 v) { return model::Timestamp(model::Duration(v)); }

}  // namespace

SqliteStateStore::SqliteStateStore(const std::string& path) : path_(path) {
  // POCO's SQLite connector retries a failing open for its whole connect timeout (a minute);
  // a missing folder will not appear meanwhile, so say so at once.
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    throw StateError(fmt::format("state store {}: {} is not a directory", path, parent.string()));
  }
  try {
    Poco::Data::SQLite::Connector::registerConnector();
    session_ = std::make_unique<Poco::Data::Session>("SQLite", path);
    auto& s = *session_;
    s << "PRAGMA journal_mode=WAL", now;
    s << "PRAGMA synchronous=NORMAL", now;
    s << "CREATE TABLE IF NOT EXISTS job_state (org TEXT NOT NULL, kind INTEGER NOT NULL, "
         "id TEXT NOT NULL, state INTEGER NOT NULL, since INTEGER NOT NULL, seen INTEGER NOT "
         "NULL, PRIMARY KEY (org, kind, id))",
        now;
    s << "CREATE TABLE IF NOT EXISTS last_pass (org TEXT NOT NULL, policy TEXT NOT NULL, "
         "at INTEGER NOT NULL, PRIMARY KEY (org, policy))",
        now;
  } catch (const Poco::Exception& e) {
    throw StateError(fmt::format("state store {}: {}", path, e.displayText()));
  }
}

SqliteStateStore::~SqliteStateStore() = default;

void SqliteStateStore::loadLocked(const std::string& org, model::ResourceKind kind) {
  int k = static_cast<int>(kind);
  if (!loaded_.emplace(org, k).second) return;
  std::vector<std::string> ids;
  std::vector<int> states;
  std::vector<Int64> sinces, seens;
  std::string o = org;
  *session_ << "SELECT id, state, since, seen FROM job_state WHERE org = ? AND kind = ?", use(o),
      use(k), into(ids), into(states), into(sinces), into(seens), now;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (states[i] < 0 || states[i] > 5) continue;  // not ours: ignore rather than trust
    jobs_[Key{org, k, ids[i]}] =
        JobMemory{static_cast<model::JobState>(states[i]), fromMs(sinces[i]), fromMs(seens[i])};
  }
}

std::vector<model::Timestamp> SqliteStateStore::observe(const std::string& org,
                                                        model::ResourceKind kind,
                                                        std::span<const model::Job> jobs,
                                                        model::Timestamp now) {
  std::lock_guard lock(mutex_);
  try {
    loadLocked(org, kind);
    int k = static_cast<int>(kind);
    std::vector<model::Timestamp> out;
    out.reserve(jobs.size());
    std::vector<std::string> orgs(jobs.size(), org), ids;
    std::vector<int> kinds(jobs.size(), k), states;
    std::vector<Int64> sinces, seens(jobs.size(), ms(now));
    for (const auto& job : jobs) {
      auto& m = jobs_[Key{org, k, job.id}];
      if (m.seen == model::Timestamp{} || m.state != job.state) {
        m.state = job.state;
        m.since = now;
      }
      m.seen = now;
      out.push_back(m.since);
      ids.push_back(job.id);
      states.push_back(static_cast<int>(job.state));
      sinces.push_back(ms(m.since));
    }
    if (jobs.empty()) return out;
    session_->begin();
    try {
      *session_ << "INSERT OR REPLACE INTO job_state (org, kind, id, state, since, seen) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
          use(orgs), use(kinds), use(ids), use(states), use(sinces), use(seens),
          Poco::Data::Keywords::now;
      session_->commit();
    } catch (...) {
      session_->rollback();
      throw;
    }
    return out;
  } catch (const Poco::Exception& e) {
    // The cache may now be ahead of the file; reread it next time.
    loaded_.erase({org, static_cast<int>(kind)});
    throw StateError(fmt::format("state store {}: {}", path_, e.displayText()));
  }
}

void SqliteStateStore::prune(const std::string& org, model::ResourceKind kind,
                             model::Timestamp listingStarted) {
  MemoryStateStore::prune(org, kind, listingStarted);
  std::lock_guard lock(mutex_);
  try {
    std::string o = org;
    int k = static_cast<int>(kind);
    Int64 before = ms(listingStarted);
    *session_ << "DELETE FROM job_state WHERE org = ? AND kind = ? AND seen < ?", use(o), use(k),
        use(before), now;
  } catch (const Poco::Exception& e) {
    throw StateError(fmt::format("state store {}: {}", path_, e.displayText()));
  }
}

std::optional<model::Timestamp> SqliteStateStore::lastPass(const std::string& org,
                                                           const std::string& policy) {
  std::lock_guard lock(mutex_);
  try {
    std::string o = org, p = policy;
    std::vector<Int64> at;
    *session_ << "SELECT at FROM last_pass WHERE org = ? AND policy = ?", use(o), use(p), into(at),
        now;
    if (at.empty()) return std::nullopt;
    return fromMs(at.front());
  } catch (const Poco::Exception& e) {
    throw StateError(fmt::format("state store {}: {}", path_, e.displayText()));
  }
}

void SqliteStateStore::recordPass(const std::string& org, const std::string& policy,
                                  model::Timestamp when) {
  std::lock_guard lock(mutex_);
  try {
    std::string o = org, p = policy;
    Int64 at = ms(when);
    *session_ << "INSERT OR REPLACE INTO last_pass (org, policy, at) VALUES (?, ?, ?)", use(o),
        use(p), use(at), now;
  } catch (const Poco::Exception& e) {
    throw StateError(fmt::format("state store {}: {}", path_, e.displayText()));
  }
}

}  // namespace bulkwarden::state
