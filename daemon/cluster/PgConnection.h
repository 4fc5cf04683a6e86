// One libpq connection to the cluster's PostgreSQL (docs/scaling.md), with a deadline on every
// statement: a database that stops answering (a cut network) makes a statement fail after the
// timeout instead of blocking, and the connection is dropped and made again at the next use.
// The server is told the same timeout (statement_timeout, idle_in_transaction_session_timeout), so
// that a client gone silent in the middle of a transaction does not hold its locks for long.
// Parameters are always sent separately from the SQL text (PQsendQueryParams), never spliced.
// Not thread-safe: one owner at a time (callers hold their own mutex).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct pg_conn;
struct pg_result;

namespace bulkwarden::cluster {

// A statement failed, the database could not be reached, or it did not answer in time. The
// message names what failed; it never holds the password.
class PgError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The rows of one statement's result (text format). Values are capped by the caller's schema.
class PgResult {
 public:
  explicit PgResult(pg_result* r);
  ~PgResult();
  PgResult(PgResult&& other) noexcept;
  PgResult& operator=(PgResult&&) = delete;
  PgResult(const PgResult&) = delete;
  int rows() const;
  std::string get(int row, int col) const;
  bool isNull(int row, int col) const;
  int64_t affected() const;  // rows changed by an INSERT/UPDATE

 private:
  pg_result* r_;
};

using PgParams = std::vector<std::optional<std::string>>;

class PgConnection {
 public:
  // `conninfo`: a libpq connection string (the config's); `password`: empty for none.
  PgConnection(std::string conninfo, std::string password, std::chrono::milliseconds timeout);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement; connects first when not connected. Throws PgError; after a network
  // error or a timeout the connection is closed (the next call connects again).
  PgResult exec(const std::string& sql, const PgParams& params = {});
  // Closes the connection (the next exec connects again).
  void close();
  bool connected() const { return conn_ != nullptr; }

 private:
  void connect();
  std::string conninfo_;
  std::string password_;
  std::chrono::milliseconds timeout_;
  pg_conn* conn_ = nullptr;
};

}  // namespace bulkwarden::cluster
