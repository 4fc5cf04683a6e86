// Serves a SimOrg over HTTP/1.1 (POCO HTTPServer, keep-alive, a pool of 32 threads) on a loopback
// port, for tests, `bulkwarden sim` and `bulkwarden demo`; over HTTPS when SimOptions names a
// certificate and key (SecureServerSocket); with chunked replies when SimOptions::chunked or the
// environment variable BULKWARDEN_SIM_CHUNKED=1 asks. start()/stop() are for one controlling
// thread; org() may be used from any thread while the server runs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "sim/SimOrg.h"

namespace Poco {
class ThreadPool;
namespace Net {
class HTTPServer;
class ServerSocket;
}  // namespace Net
}  // namespace Poco

namespace bulkwarden::sim {

class SimServer {
 public:
  // Builds the org and binds the socket (so port() is known before start()); throws on failure.
  explicit SimServer(SimOptions options);
  ~SimServer();  // stops
  SimServer(const SimServer&) = delete;
  SimServer& operator=(const SimServer&) = delete;

  void start();
  void stop();  // idempotent; closes kept-alive connections too

  uint16_t port() const;
  std::string baseUrl() const;  // "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT"
  std::string token() const;
  SimOrg& org();

 private:
  SimOptions options_;
  SimOrg org_;
  uint16_t port_ = 0;
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::ServerSocket> socket_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace bulkwarden::sim
