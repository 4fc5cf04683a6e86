// What the Salesforce client sends requests through: one base URL, requests and replies as values.
// HttpTransport (salesforce/HttpTransport.h) is the real one; a unit test puts a scripted one
// behind BulkClient through ClientOptions::transports, so that paging, retries and token renewal
// are tested without sockets. Implementations are thread-safe: send() is called from many threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

class Transport {
 public:
  virtual ~Transport() = default;
  // One request. A response of any status is a value; a failure to get one is an ApiError
  // (Transient with http 0 for the network, `sent` telling whether it may have reached the server).
  [[nodiscard]] virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
  // Closes the kept-alive connections not in use; requests in flight keep theirs.
  virtual void closeIdle() = 0;
  // Requests written so far (each may count against the org's API allowance).
  virtual int64_t requestsSent() const = 0;
};

// Makes the transport to `baseUrl` (scheme, host, optional port). Throws std::invalid_argument for
// a URL it will not send to.
using TransportFactory = std::function<std::shared_ptr<Transport>(const std::string& baseUrl,
                                                                  const TransportOptions& options)>;

}  // namespace bulkwarden::salesforce
