// The Transport (salesforce/Transport.h) of the daemon: sends HTTP requests to one base URL
// (http://loopback or https://) over a small pool of kept-alive POCO sessions, with a connect
// timeout, a read timeout, a deadline for the whole request and a cap on the body size. Failures
// come back as ApiError values. Thread-safe: send() may be called from many threads at once.
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
#include "salesforce/Transport.h"

namespace bulkwarden::salesforce {

// Initializes OpenSSL and installs, once per process, the handler that rejects an invalid
// certificate (instead of POCO's console prompt). For other TLS clients (SMTP STARTTLS).
void installTlsRejectHandler(const Poco::Net::Context::Ptr& context);

class HttpTransport final : public Transport {
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
  Result<HttpResponse> send(const HttpRequest& request) override;

  // Closes the kept-alive connections not in use (the engine calls it after an org's pass, so
  // that idle orgs hold no sockets). Requests in flight keep theirs.
  void closeIdle() override;
  // Kept-alive connections waiting in the pool.
  std::size_t idleConnections();

  // Requests written to a connection (each may count against the org's API allowance).
  int64_t requestsSent() const override { return requestsSent_.load(); }
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
