// The HTTP endpoint: /healthz, /readyz, /status (JSON) and /metrics (Prometheus text), on a
// POCO HTTPServer with its own small thread pool. A slow or hostile client can hold at most one of
// those threads until its socket timeout; extra connections wait in a short queue and are then
// refused. Handlers only read the Monitor (short locks, no I/O under them), so no client can stall
// a pass. Loopback by default; a non-loopback address must be written in the config explicitly.
#pragma once

#include <Poco/Net/HTTPServer.h>
#include <Poco/ThreadPool.h>

#include <memory>
#include <string>

#include "status/Monitor.h"

namespace bulkwarden::status {

class StatusServer {
 public:
  static constexpr int kThreads = 2;
  static constexpr int kQueue = 16;
  static constexpr int kTimeoutSeconds = 5;

  // Binds `listen` (host:port, port 0 picks a free one). Throws std::runtime_error when it cannot.
  StatusServer(const std::string& listen, Monitor& monitor);
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  void start();
  void stop();
  std::string listenAddress() const { return address_; }  // host:port actually bound
  uint16_t port() const { return port_; }
  const std::string& configured() const { return configured_; }

 private:
  std::string configured_;
  std::string address_;
  uint16_t port_ = 0;
  Poco::ThreadPool pool_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  bool running_ = false;
};

// The JSON document served at /status.
std::string statusJson(const Snapshot& s);

}  // namespace bulkwarden::status
