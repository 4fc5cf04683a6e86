// Sends HTTP requests to one base URL (http://loopback or https://) over a small pool of
// kept-alive POCO sessions, with a connect timeout, a read timeout, a deadline for the whole
// request and a cap on the body size. Failures come back as ApiError values.
// Thread-safe: send() may be called from many threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <Poco/Net/Context.h>

#include "salesforce/ApiError.h"

namespace bulkwarden::salesforce {

struct TransportOptions {
  std::chrono::milliseconds connectTimeout{10'000};
  // Longest wait for any single read or write on the socket.
  std::chrono::milliseconds readTimeout{60'000};
  // The whole request: connect, send, response headers and body. POCO's socket timeouts do not
  // bound this (docs/reliability.md), so the transport enforces it itself.
  std::chrono::milliseconds requestDeadline{120'000};
  // Idle kept-alive connections kept for reuse. Requests beyond it still run, on connections
  // that are closed afterwards instead of pooled.
  std::size_t poolSize = 8;
  // A pooled connection idle for longer than this is closed instead of reused.
  std::chrono::milliseconds idleTimeout{30'000};
  std::size_t maxBodyBytes = 8 * 1024 * 1024;
  // Extra CA bundle (PEM) for https, on top of the system's default CAs. Empty: defaults only.
  std::string caFile;
};

struct HttpRequest {
  std::string method;  // GET, PATCH, DELETE...
  std::string target;  // path and query: /services/data/v62.0/jobs/query?jobType=V2Query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;         // sent with Content-Length when not empty
  std::string contentType;  // for the body
  // Safe to send twice. An idempotent request whose kept-alive connection turned out to be dead
  // is re-sent once on a fresh connection. Any request that surely did not leave (connect or TLS
  // handshake failed) is tried once more on a fresh connection.
  bool idempotent = false;
};

struct HttpResponse {
  int status = 0;
  std::string contentType;
  std::string limitInfo;   // Sforce-Limit-Info
  std::string retryAfter;  // Retry-After
  std::string date;        // Date
  std::string body;
};

// Initializes OpenSSL and installs, once per process, the handler that rejects an invalid
// certificate (instead of POCO's console prompt). For other TLS clients (SMTP STARTTLS).
void installTlsRejectHandler(const Poco::Net::Context::Ptr& context);

class HttpTransport {
 public:
  // `baseUrl`: scheme, host and optional port, e.g. https://acme.my.salesforce.com. Throws
  // std::invalid_argument for a malformed URL, a URL with a path, query or user info, or http://
  // to anything but a loopback host (127.0.0.0/8, ::1, localhost), and for an unusable caFile.
  HttpTransport(const std::string& baseUrl, TransportOptions options);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // One request. A response of any status is a value. A transport failure (connect, TLS, reset,
  // timeout, deadline) is ApiError Transient with http 0 and `sent` telling whether the request
  // bytes may have reached the server; a body over maxBodyBytes is ApiError Malformed. After any
  // failure the connection is closed, never reused.
  Result<HttpResponse> send(const HttpRequest& request);

  // Closes the kept-alive connections not in use (the engine calls it after an org's pass, so
  // that idle orgs hold no sockets). Requests in flight keep theirs.
  void closeIdle();
  // Kept-alive connections waiting in the pool.
  std::size_t idleConnections();

  // Requests written to a connection (each may count against the org's API allowance).
  int64_t requestsSent() const { return requestsSent_.load(); }
  // Connections opened so far (keep-alive reuse keeps this low).
  int64_t connectionsOpened() const { return connectionsOpened_.load(); }
  bool https() const { return https_; }

 private:
  struct Connection;
  class Watchdog;
  struct Attempt;

  std::unique_ptr<Connection> acquire(bool fresh, bool& reused);
  void release(std::unique_ptr<Connection> connection);
  Attempt attempt(Connection& connection, const HttpRequest& request,
                  std::chrono::steady_clock::time_point deadline);

  const TransportOptions options_;
  bool https_ = false;
  std::string host_;
  uint16_t port_ = 0;
  Poco::Net::Context::Ptr context_;  // https only

  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_; most recent last

  std::atomic<int64_t> requestsSent_{0};
  std::atomic<int64_t> connectionsOpened_{0};
  // One deadline watchdog thread per process, shared by every transport (not one per org).
  std::shared_ptr<Watchdog> watchdog_;
};

}  // namespace bulkwarden::salesforce
