#include "state/SqliteStateStore.h"

#include <Poco/Data/DataException.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Exception.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <unordered_map>

#include "state/StateDir.h"

namespace bulkwarden::state {

using namespace Poco::Data::Keywords;
using Poco::Int64;

namespace {

Int64 ms(model::Timestamp t) { return static_cast<Int64>(t.time_since_epoch().count()); }
model::Timestamp fromMs(Int64 v) { return model::Timestamp(model::Duration(v)); }

// Listed ids are alphanumeric (isJobId), but the store takes any string.
void appendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<int>(c));
    } else {
      out += c;
    }
  }
  out += '"';
}

// Records jobs given as one JSON array of [id, state] (one parameter, so no limit on variables
// and one statement for the page) and returns each row's `since`. A stored state that is not a
// job state (0..5) never equals the job's, so such a row counts as never seen. `WHERE true` keeps
// SQLite from reading ON CONFLICT as a join constraint.
constexpr const char* kRecord =
    "INSERT INTO job_state (org, kind, id, state, since, seen) "
    "SELECT ?, ?, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), ?, ? "
    "FROM json_each(?) j WHERE true "
    "ON CONFLICT (org, kind, id) DO UPDATE SET "
    "since = CASE WHEN job_state.state = excluded.state THEN job_state.since "
    "ELSE excluded.since END, state = excluded.state, seen = excluded.seen "
    "RETURNING id, since";

// Records `run` (ids all different; `index` gives each id's place in `out`) and fills in its
// first-seen times.
void recordRun(Poco::Data::Session& session, std::string org, int kind,
               std::span<const model::Job> run,
               const std::unordered_map<std::string_view, size_t>& index, Int64 seen,
               std::vector<model::Timestamp>& out) {
  std::string rows = "[";
  for (const auto& job : run) {
    if (rows.size() > 1) rows += ',';
    rows += '[';
    appendJsonString(rows, job.id);
    fmt::format_to(std::back_inserter(rows), ",{}]", static_cast<int>(job.state));
  }
  rows += ']';
  std::vector<std::string> ids;
  std::vector<Int64> sinces;
  session << kRecord, use(org), use(kind), use(seen), use(seen), use(rows), into(ids), into(sinces),
      now;
  if (ids.size() != run.size()) {
    throw Poco::Data::DataException(
        fmt::format("{} rows recorded for {} jobs", ids.size(), run.size()));
  }
  for (size_t r = 0; r < ids.size(); ++r) {
    auto it = index.find(ids[r]);
    if (it == index.end()) throw Poco::Data::DataException("recorded an unlisted job " + ids[r]);
    out[it->second] = fromMs(sinces[r]);
  }
}

}  // namespace

SqliteStateStore::SqliteStateStore(const std::string& path) : path_(path) {
  // POCO's SQLite connector retries a failing open for its whole connect timeout (a minute);
  // a missing folder will not appear meanwhile, so say so at once. SQLite opens its files by
  // name and POCO 1.11 passes no SQLITE_OPEN_NOFOLLOW, so they are checked here first (no link,
  // the running user's, closed to others' writes), and the database is created 0600 by us: the
  // -wal and -shm files SQLite creates later copy its mode.
  auto p = std::filesystem::path(path);
  std::string parent = p.parent_path().empty() ? "." : p.parent_path().string();
  std::string base = p.filename().string();
  {
    auto dir = StateDir::open(parent, false);
    for (const char* suffix : {"-wal", "-shm", "-journal"}) dir.checkFile(base + suffix);
    ::close(dir.openFile(base, O_RDWR | O_CREAT));
  }
  try {
    Poco::Data::SQLite::Connector::registerConnector();
    session_ = std::make_unique<Poco::Data::Session>("SQLite", path);
    auto& s = *session_;
    s << "PRAGMA journal_mode=WAL", now;
    s << "PRAGMA synchronous=NORMAL", now;
    // `plan` and `validate --connect` add their calls to the ledger from another process
    // (LedgerStateStore): a write of theirs, one short statement, is waited for, not an error.
    s << "PRAGMA busy_timeout=5000", now;
    s << "CREATE TABLE IF NOT EXISTS job_state (org TEXT NOT NULL, kind INTEGER NOT NULL, "
         "id TEXT NOT NULL, state INTEGER NOT NULL, since INTEGER NOT NULL, seen INTEGER NOT "
         "NULL, PRIMARY KEY (org, kind, id))",
        now;
    s << "CREATE TABLE IF NOT EXISTS last_pass (org TEXT NOT NULL, policy TEXT NOT NULL, "
         "at INTEGER NOT NULL, PRIMARY KEY (org, policy))",
        now;
    // The API budget's ledger (engine/ApiBudget.h) and its small facts per org.
    // WITHOUT ROWID: the key is the table, so that a ledger write touches one page, not two.
    s << "CREATE TABLE IF NOT EXISTS api_calls (org TEXT NOT NULL, minute INTEGER NOT NULL, "
         "purpose TEXT NOT NULL, calls INTEGER NOT NULL, PRIMARY KEY (org, minute, purpose)) "
         "WITHOUT ROWID",
        now;
    s << "CREATE TABLE IF NOT EXISTS org_facts (org TEXT NOT NULL, key TEXT NOT NULL, "
         "value INTEGER NOT NULL, PRIMARY KEY (org, key)) WITHOUT ROWID",
        now;
    // An SQLite without JSON, UPSERT or RETURNING fails here rather than at the first page.
    std::vector<model::Timestamp> none;
    recordRun(s, "", 0, {}, {}, 0, none);
    // The schema's pages go to the database now and the WAL starts empty: what the WAL holds is
    // then the run's own writes (a file-size limit meets the audit trail first, not the WAL).
    s << "PRAGMA wal_checkpoint(TRUNCATE)", now;
  } catch (const Poco::Exception& e) {
    throw StateError(fmt::format("state store {}: {}", path, e.displayText()));
  }
}

SqliteStateStore::~SqliteStateStore() = default;

std::vector<model::Timestamp> SqliteStateStore::observe(const std::string& org,
                                                        model::ResourceKind kind,
                                                        std::span<const model::Job> jobs,
                                                        model::Timestamp now) {
  std::lock_guard lock(mutex_);
  std::vector<model::Timestamp> out(jobs.size());
  if (jobs.empty()) return out;
  try {
    session_->begin();
    try {
      // RETURNING rows come in no set order and are matched to jobs by id, so a page that lists
      // an id twice is recorded in runs without repeats, each run seeing the rows of the one
      // before (as MemoryStateStore would). A page from Salesforce is one run.
      for (size_t begin = 0, end = 0; begin < jobs.size(); begin = end) {
        std::unordered_map<std::string_view, size_t> index;
        while (end < jobs.size() && index.emplace(jobs[end].id, end).second) ++end;
        recordRun(*session_, org, static_cast<int>(kind), jobs.subspan(begin, end - begin), index,
                  ms(now), out);
      }
      session_->commit();
    } catch (...) {
      session_->rollback();
      throw;
    }
    return out;
  } catch (const Poco::Exception& e) {
    throw StateError(fmt::format("state store {}: {}", path_, e.displayText()));
  }
}

void SqliteStateStore::prune(const std::string& org, model::ResourceKind kind,
                             model::Timestamp listingStarted) {
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

size_t SqliteStateStore::jobCount() const {
  std::lock_guard lock(mutex_);
  try {
    Int64 n = 0;
    *session_ << "SELECT COUNT(*) FROM job_state", into(n), now;
    return static_cast<size_t>(n);
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

void SqliteStateStore::addCalls(const std::string& org, int64_t minute, const std::string& purpose,
                                int64_t n) {
  std::lock_guard lock(mutex_);
  try {
    std::string o = org, p = purpose;
    Int64 m = minute, c = n;
    // One statement, one implicit transaction: in the file (WAL) before the call is sent.
    *session_ << "INSERT INTO api_calls (org, minute, purpose, calls) VALUES (?, ?, ?, ?) "
                 "ON CONFLICT (org, minute, purpose) DO UPDATE SET calls = calls + excluded.calls",
        use(o), use(m), use(p), use(c), now;
  } catch (const Poco::Exception& e) {
    throw StateError(fmt::format("state store {}: {}", path_, e.displayText()));
  }
}

namespace {

// What callsSince reads of the ledger at most: a day of minutes for each purpose, with room for
// purposes a later version adds. A file holding more (written by hand) is cut there.
constexpr Int64 kMaxCallRows = 1441 * 16;

std::vector<StateStore::CallBucket> readCalls(Poco::Data::Session& session, const std::string& org,
                                              int64_t sinceMinute) {
  std::string o = org;
  Int64 since = sinceMinute, limit = kMaxCallRows;
  std::vector<Int64> minutes, calls;
  std::vector<std::string> purposes;
  session << "SELECT minute, purpose, calls FROM api_calls WHERE org = ? AND minute >= ? "
             "ORDER BY minute DESC LIMIT ?",
      use(o), use(since), use(limit), into(minutes), into(purposes), into(calls), now;
  std::vector<StateStore::CallBucket> out;
  for (size_t i = 0; i < minutes.size(); ++i) {
    // A count from the file is believed only within bounds: negative counts nothing back.
    out.push_back(
        {minutes[i], purposes[i].substr(0, 32), std::clamp<Int64>(calls[i], 0, Int64{1} << 40)});
  }
  return out;
}

}  // namespace

std::vector<StateStore::CallBucket> SqliteStateStore::callsSince(const std::string& org,
                                                                 int64_t sinceMinute) {
  std::lock_guard lock(mutex_);
  try {
    std::string o = org;
    Int64 since = sinceMinute;
    *session_ << "DELETE FROM api_calls WHERE org = ? AND minute < ?", use(o), use(since), now;
    return readCalls(*session_, org, sinceMinute);
  } catch (const Poco::Exception& e) {
    throw StateError(fmt::format("state store {}: {}", path_, e.displayText()));
  }
}

void SqliteStateStore::setOrgFact(const std::string& org, const std::string& key, int64_t value) {
  std::lock_guard lock(mutex_);
  try {
    std::string o = org, k = key;
    Int64 v = value;
    *session_ << "INSERT OR REPLACE INTO org_facts (org, key, value) VALUES (?, ?, ?)", use(o),
        use(k), use(v), now;
  } catch (const Poco::Exception& e) {
    throw StateError(fmt::format("state store {}: {}", path_, e.displayText()));
  }
}

std::optional<int64_t> SqliteStateStore::orgFact(const std::string& org, const std::string& key) {
  std::lock_guard lock(mutex_);
  try {
    std::string o = org, k = key;
    std::vector<Int64> v;
    *session_ << "SELECT value FROM org_facts WHERE org = ? AND key = ?", use(o), use(k), into(v),
        now;
    if (v.empty()) return std::nullopt;
    return v.front();
  } catch (const Poco::Exception& e) {
    throw StateError(fmt::format("state store {}: {}", path_, e.displayText()));
  }
}

namespace {

// `path` as an SQLite URI: the characters a URI gives meaning to are escaped, so that a state-dir
// named with '?' or '#' is still read as the file it names.
std::string sqliteUri(const std::string& path, const char* query) {
  std::string out = "file:";
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + "?" + query;
}

}  // namespace

LedgerStateStore::LedgerStateStore(const std::string& path, std::shared_ptr<StateStore> snapshot)
    : path_(path), snapshot_(std::move(snapshot)) {
  auto p = std::filesystem::path(path);
  std::string parent = p.parent_path().empty() ? "." : p.parent_path().string();
  std::string base = p.filename().string();
  {
    auto dir = StateDir::open(parent, false);
    for (const char* suffix : {"-wal", "-shm", "-journal"}) dir.checkFile(base + suffix);
    ::close(dir.openFile(base, O_RDWR));  // an existing file only: no O_CREAT
  }
  try {
    Poco::Data::SQLite::Connector::registerConnector();
    session_ = std::make_unique<Poco::Data::Session>("SQLite", path);
    auto& s = *session_;
    s << "PRAGMA busy_timeout=5000", now;
    // The daemon's table (a database from before the budget has none: not written, refused).
    Int64 n = 0;
    s << "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'api_calls'", into(n),
        now;
    if (n != 1) throw StateError(fmt::format("state store {}: no API ledger in it", path));
  } catch (const Poco::Exception& e) {
    throw StateError(fmt::format("state store {}: {}", path, e.displayText()));
  }
}

LedgerStateStore::~LedgerStateStore() = default;

std::vector<model::Timestamp> LedgerStateStore::observe(const std::string& org,
                                                        model::ResourceKind kind,
                                                        std::span<const model::Job> jobs,
                                                        model::Timestamp now) {
  return snapshot_->observe(org, kind, jobs, now);
}
void LedgerStateStore::prune(const std::string& org, model::ResourceKind kind,
                             model::Timestamp listingStarted) {
  snapshot_->prune(org, kind, listingStarted);
}
std::optional<model::Timestamp> LedgerStateStore::lastPass(const std::string& org,
                                                           const std::string& policy) {
  return snapshot_->lastPass(org, policy);
}
void LedgerStateStore::recordPass(const std::string& org, const std::string& policy,
                                  model::Timestamp when) {
  snapshot_->recordPass(org, policy, when);
}
void LedgerStateStore::setOrgFact(const std::string& org, const std::string& key, int64_t value) {
  snapshot_->setOrgFact(org, key, value);
}
std::optional<int64_t> LedgerStateStore::orgFact(const std::string& org, const std::string& key) {
  return snapshot_->orgFact(org, key);
}

void LedgerStateStore::addCalls(const std::string& org, int64_t minute, const std::string& purpose,
                                int64_t n) {
  std::lock_guard lock(mutex_);
  try {
    std::string o = org, p = purpose;
    Int64 m = minute, c = n;
    *session_ << "INSERT INTO api_calls (org, minute, purpose, calls) VALUES (?, ?, ?, ?) "
                 "ON CONFLICT (org, minute, purpose) DO UPDATE SET calls = calls + excluded.calls",
        use(o), use(m), use(p), use(c), now;
  } catch (const Poco::Exception& e) {
    throw StateError(fmt::format("state store {}: {}", path_, e.displayText()));
  }
}

std::vector<StateStore::CallBucket> LedgerStateStore::callsSince(const std::string& org,
                                                                 int64_t sinceMinute) {
  std::lock_guard lock(mutex_);
  try {
    return readCalls(*session_, org, sinceMinute);  // forgetting old rows is the daemon's
  } catch (const Poco::Exception& e) {
    throw StateError(fmt::format("state store {}: {}", path_, e.displayText()));
  }
}

std::unique_ptr<MemoryStateStore> readStateReadOnly(const std::string& path, size_t maxRows) {
  // A link or anything but a regular file is not the daemon's database: not followed.
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    throw StateError(fmt::format("state store {}: {}", path, std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    throw StateError(fmt::format("state store {}: not a regular file", path),
                     StateError::Kind::Unsafe);
  }
  auto out = std::make_unique<MemoryStateStore>();
  try {
    Poco::Data::SQLite::Connector::registerConnector();
    // mode=ro: SQLite neither creates nor writes the file (POCO opens with SQLITE_OPEN_URI).
    // With no -wal beside it, no daemon has the database open (its connection keeps one) and
    // every change is in the file: immutable=1 then keeps SQLite from creating a -wal and -shm
    // of its own to read a WAL-mode file.
    struct stat walStat {};
    bool live = ::lstat((path + "-wal").c_str(), &walStat) == 0;
    Poco::Data::Session session("SQLite",
                                sqliteUri(path, live ? "mode=ro" : "mode=ro&immutable=1"));
    std::vector<std::string> orgs, ids;
    std::vector<Int64> kinds, states, sinces, seens;
    auto limit = static_cast<Int64>(maxRows);
    session << "SELECT org, kind, id, state, since, seen FROM job_state ORDER BY seen DESC "
               "LIMIT ?",
        use(limit), into(orgs), into(kinds), into(ids), into(states), into(sinces), into(seens),
        now;
    for (size_t i = 0; i < ids.size(); ++i) {
      // A stored state that is not a job state counts as never seen, as in observe().
      if (states[i] < 0 || states[i] > 5) continue;
      JobMemory m;
      m.state = static_cast<model::JobState>(states[i]);
      m.since = fromMs(sinces[i]);
      m.seen = fromMs(seens[i]);
      out->remember(orgs[i], static_cast<int>(kinds[i]), ids[i], m);
    }
    std::vector<std::string> passOrgs, passPolicies;
    std::vector<Int64> ats;
    session << "SELECT org, policy, at FROM last_pass LIMIT ?", use(limit), into(passOrgs),
        into(passPolicies), into(ats), now;
    for (size_t i = 0; i < ats.size(); ++i)
      out->recordPass(passOrgs[i], passPolicies[i], fromMs(ats[i]));
    // The budget's ledger and facts, for `plan`; a file from before they existed has neither.
    try {
      std::vector<std::string> factOrgs, keys;
      std::vector<Int64> values;
      Int64 factRows = kMaxCallRows;
      session << "SELECT org, key, value FROM org_facts LIMIT ?", use(factRows), into(factOrgs),
          into(keys), into(values), now;
      for (size_t i = 0; i < values.size(); ++i) out->setOrgFact(factOrgs[i], keys[i], values[i]);
      std::vector<std::string> callOrgs, purposes;
      std::vector<Int64> minutes, calls;
      Int64 rows = kMaxCallRows;
      session << "SELECT org, minute, purpose, calls FROM api_calls ORDER BY minute DESC LIMIT ?",
          use(rows), into(callOrgs), into(minutes), into(purposes), into(calls), now;
      for (size_t i = 0; i < calls.size(); ++i) {
        out->addCalls(callOrgs[i], minutes[i], purposes[i].substr(0, 32),
                      std::clamp<Int64>(calls[i], 0, Int64{1} << 40));
      }
    } catch (const Poco::Exception&) {
      // no such table (a file from an older version): nothing to read
    }
  } catch (const Poco::Exception& e) {
    throw StateError(fmt::format("state store {}: {}", path, e.displayText()));
  }
  return out;
}

}  // namespace bulkwarden::state
