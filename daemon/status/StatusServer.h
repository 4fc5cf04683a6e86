// The HTTP endpoint: /healthz, /readyz, /status (JSON) and /metrics (Prometheus text), on a
// POCO TCPServer running HTTP connections on a thread pool of its own. Each connection has a
// whole-request deadline (StatusServerOptions::deadline, from the moment a thread takes it to the
// last byte sent): POCO's socket timeout is per read, so a client trickling one header byte a
// second would otherwise hold a thread for as long as it likes. A guard thread shuts down the
// socket of a connection past its deadline. With more threads than plausible slow clients (8) and
// a queue behind them, a few slow clients cannot keep /healthz from answering, and many can delay
// it by at most the deadline before the queue is full and further connections are refused.
// Handlers only read the Monitor (short locks, no I/O under them), so no client can stall a pass.
// Loopback by default; a non-loopback address must be written in the config explicitly.
// Thread-safe accessors; start() and stop() from one thread.
#pragma once

#include <Poco/Net/TCPServer.h>
#include <Poco/ThreadPool.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "status/Monitor.h"

namespace bulkwarden::status {

struct StatusServerOptions {
  int threads = 8;  // connections served at once
  int queue = 32;   // accepted connections waiting for a thread; more are refused
  std::chrono::milliseconds deadline{3000};  // a whole request, read and answered
};

// The address could not be bound. `temporary()`: in use, or not (yet) assigned to this host,
// conditions that clear by themselves (exit 75); otherwise a config problem (exit 78).
class ListenError : public std::runtime_error {
 public:
  ListenError(const std::string& what, int error) : std::runtime_error(what), error_(error) {}
  int error() const { return error_; }
  bool temporary() const;

 private:
  int error_;
};

class DeadlineGuard;

class StatusServer {
 public:
  // Binds `listen` (host:port, port 0 picks a free one). Throws ListenError when it cannot.
  StatusServer(const std::string& listen, Monitor& monitor, StatusServerOptions options = {});
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  void start();
  void stop();  // refuses new connections and cuts the ones in progress
  std::string listenAddress() const { return address_; }  // host:port actually bound
  uint16_t port() const { return port_; }
  const std::string& configured() const { return configured_; }
  // Connections being served now, and those cut at their deadline so far.
  size_t activeConnections() const;
  uint64_t droppedConnections() const;

 private:
  std::string configured_;
  std::string address_;
  uint16_t port_ = 0;
  StatusServerOptions options_;
  Poco::ThreadPool pool_;
  std::unique_ptr<DeadlineGuard> guard_;
  std::unique_ptr<Poco::Net::TCPServer> server_;
  bool running_ = false;
};

// The JSON document served at /status.
std::string statusJson(const Snapshot& s);

}  // namespace bulkwarden::status
