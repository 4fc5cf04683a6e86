#include "cluster/PgConnection.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "log/Sanitize.h"

namespace bulkwarden::cluster {

namespace {

// libpq's messages end with a newline and may quote server text: one escaped line, capped.
std::string message(const char* text) {
  std::string s = text != nullptr ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.size() > 512) s.resize(512);
  return log::outside(s);
}

}  // namespace

PgResult::PgResult(pg_result* r) : r_(r) {}
PgResult::~PgResult() {
  if (r_ != nullptr) PQclear(r_);
}
PgResult::PgResult(PgResult&& other) noexcept : r_(other.r_) { other.r_ = nullptr; }
int PgResult::rows() const { return r_ != nullptr ? PQntuples(r_) : 0; }
std::string PgResult::get(int row, int col) const {
  if (r_ == nullptr || row >= PQntuples(r_) || col >= PQnfields(r_)) return {};
  return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
}
bool PgResult::isNull(int row, int col) const {
  return r_ == nullptr || PQgetisnull(r_, row, col) != 0;
}
int64_t PgResult::affected() const {
  const char* n = r_ != nullptr ? PQcmdTuples(r_) : nullptr;
  return n != nullptr && *n != '\0' ? std::stoll(n) : 0;
}

PgConnection::PgConnection(std::string conninfo, std::string password,
                           std::chrono::milliseconds timeout)
    : conninfo_(std::move(conninfo)), password_(std::move(password)), timeout_(timeout) {}

PgConnection::~PgConnection() { close(); }

void PgConnection::close() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

void PgConnection::connect() {
  // libpq's connect_timeout is whole seconds, at least 2.
  auto secs = std::max<int64_t>(2, (timeout_.count() + 999) / 1000);
  std::string timeout = std::to_string(secs);
  std::vector<const char*> keys = {"dbname", "connect_timeout", "application_name"};
  std::vector<const char*> values = {conninfo_.c_str(), timeout.c_str(), "bulkwarden"};
  if (!password_.empty()) {
    keys.push_back("password");
    values.push_back(password_.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  // expand_dbname=1: the first "dbname" is the whole connection string; the later keys win.
  conn_ = PQconnectdbParams(keys.data(), values.data(), 1);
  if (conn_ == nullptr) throw PgError("PostgreSQL: out of memory while connecting");
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string why = message(PQerrorMessage(conn_));
    close();
    throw PgError("cannot connect to PostgreSQL: " + why);
  }
  if (PQsetnonblocking(conn_, 1) != 0) {
    close();
    throw PgError("PostgreSQL: cannot make the connection non-blocking");
  }
  // The server ends this session's statement, and the session itself when it sits in an open
  // transaction, after the same timeout as this client: a node cut off (or frozen) between two
  // statements of a transaction must not keep its locks (an org's chain head) for as long as TCP
  // takes to notice, which would stop every other node from appending to that org's trail.
  const std::string ms = std::to_string(timeout_.count());
  exec(
      "SELECT set_config('statement_timeout', $1, false), "
      "set_config('idle_in_transaction_session_timeout', $1, false)",
      {ms});
}

PgResult PgConnection::exec(const std::string& sql, const PgParams& params) {
  if (conn_ == nullptr) connect();
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                        nullptr, nullptr, 0) == 0) {
    std::string why = message(PQerrorMessage(conn_));
    close();
    throw PgError("PostgreSQL: cannot send a statement: " + why);
  }
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  auto waitFor = [&](short events) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{PQsocket(conn_), events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    return n > 0 || (n < 0 && errno == EINTR);
  };
  auto timedOut = [&] {
    close();
    return PgError(fmt::format("PostgreSQL did not answer within {} ms", timeout_.count()));
  };
  // Flush what the non-blocking send left queued.
  while (true) {
    int f = PQflush(conn_);
    if (f == 0) break;
    if (f < 0) {
      std::string why = message(PQerrorMessage(conn_));
      close();
      throw PgError("PostgreSQL: " + why);
    }
    if (!waitFor(POLLOUT | POLLIN)) throw timedOut();
    if (PQconsumeInput(conn_) == 0) {
      std::string why = message(PQerrorMessage(conn_));
      close();
      throw PgError("PostgreSQL: " + why);
    }
  }
  pg_result* last = nullptr;
  std::string error;
  while (true) {
    while (PQisBusy(conn_) != 0) {
      if (!waitFor(POLLIN)) {
        if (last != nullptr) PQclear(last);
        throw timedOut();
      }
      if (PQconsumeInput(conn_) == 0) {
        std::string why = message(PQerrorMessage(conn_));
        if (last != nullptr) PQclear(last);
        close();
        throw PgError("PostgreSQL: " + why);
      }
    }
    pg_result* r = PQgetResult(conn_);
    if (r == nullptr) break;
    auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && error.empty()) {
      error = message(PQresultErrorMessage(r));
    }
    if (last != nullptr) PQclear(last);
    last = r;
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    if (last != nullptr) PQclear(last);
    std::string why = message(PQerrorMessage(conn_));
    close();
    throw PgError("PostgreSQL connection lost: " + why);
  }
  if (!error.empty()) {
    if (last != nullptr) PQclear(last);
    throw PgError("PostgreSQL: " + error);
  }
  return PgResult(last);
}

}  // namespace bulkwarden::cluster
