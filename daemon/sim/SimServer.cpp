#include "sim/SimServer.h"

#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/StreamSocket.h>

#include <thread>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>
#include <fmt/format.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <istream>
#include <random>
#include <string_view>
#include <thread>

namespace bulkwarden::sim {

namespace {

constexpr std::size_t kMaxBody = 1 << 20;  // PATCH bodies are a few bytes; refuse floods

class OrgHandler : public Poco::Net::HTTPRequestHandler {
 public:
  OrgHandler(SimOrg& org, const SimOptions& options, std::atomic<uint64_t>& replies)
      : org_(org),
        latency_(options.latency),
        chunked_(options.chunked),
        seed_(options.seed),
        replies_(replies) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    SimResponse reply;
    // The request is in flight (for the concurrent limit) until its reply is sent.
    const SimOrg::InFlight inFlight = org_.enter();
    try {
      SimRequest in;
      in.method = request.getMethod();
      in.uri = request.getURI();
      in.authorization = request.get("Authorization", "");
      in.contentType = request.get("Content-Type", "");
      in.sfdcSession = request.get("X-SFDC-Session", "");
      in.accept = request.get("Accept", "");
      // Drain the body whatever the method, so the kept-alive connection stays in step.
      std::istream& body = request.stream();
      char buffer[4096];
      while (body.read(buffer, sizeof buffer) || body.gcount() > 0) {
        if (in.body.size() < kMaxBody)
          in.body.append(buffer, static_cast<std::size_t>(body.gcount()));
      }
      reply = org_.handle(in);
    } catch (const std::exception& e) {
      reply = SimResponse{};
      reply.status = 500;
      reply.body = fmt::format(R"([{{"errorCode":"UNKNOWN_EXCEPTION","message":"{}"}}])",
                               "An unexpected error occurred in the simulated org");
    }
    if (reply.netFault == NetFault::ResetBeforeApply ||
        reply.netFault == NetFault::ResetAfterApply) {
      // An abortive close (RST): the client sees "connection reset by peer" and no reply.
      auto& socket = static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket();
      socket.setLinger(true, 0);
      socket.close();
      return;
    }
    // After handle(), so the org's lock is not held while waiting: concurrent requests overlap
    // their latency as they would over a real network.
    if (latency_.count() > 0) std::this_thread::sleep_for(latency_);
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status));
    for (const auto& [name, value] : reply.headers) response.set(name, value);
    if (!reply.contentType.empty() && !reply.body.empty()) {
      response.setContentType(reply.contentType);
    }
    if (reply.netFault == NetFault::Trickle) {
      response.setContentLength(static_cast<std::streamsize>(reply.body.size()));
      std::ostream& out = response.send();
      for (char c : reply.body) {
        out.put(c);
        out.flush();
        if (!out) return;  // the client gave up
        std::this_thread::sleep_for(reply.trickleEvery);
      }
      return;
    }
    if (chunked_ && !reply.body.empty()) {
      // Transfer-Encoding: chunked, in chunks of random (seeded) sizes from 1 byte to 4 KiB.
      response.setChunkedTransferEncoding(true);
      std::mt19937_64 rng(seed_ ^ (0x9e3779b97f4a7c15ULL * ++replies_));
      std::uniform_int_distribution<std::size_t> size(1, 4096);
      std::ostream& out = response.send();
      for (std::size_t at = 0; at < reply.body.size() && out;) {
        const std::size_t n = std::min(size(rng), reply.body.size() - at);
        out.write(reply.body.data() + at, static_cast<std::streamsize>(n));
        out.flush();  // one chunk per flush
        at += n;
      }
      return;
    }
    response.sendBuffer(reply.body.data(), reply.body.size());
  }

 private:
  SimOrg& org_;
  std::chrono::milliseconds latency_;
  bool chunked_;
  uint64_t seed_;
  std::atomic<uint64_t>& replies_;
};

class OrgHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  OrgHandlerFactory(SimOrg& org, SimOptions options) : org_(org), options_(std::move(options)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new OrgHandler(org_, options_, replies_);
  }

 private:
  SimOrg& org_;
  SimOptions options_;
  std::atomic<uint64_t> replies_{0};
};

std::unique_ptr<Poco::Net::ServerSocket> listen(const SimOptions& o) {
  const Poco::Net::SocketAddress address(o.host, o.port);
  if (o.tlsCertificateFile.empty() && o.tlsPrivateKeyFile.empty()) {
    return std::make_unique<Poco::Net::ServerSocket>(address);
  }
  if (o.tlsCertificateFile.empty() || o.tlsPrivateKeyFile.empty()) {
    throw std::invalid_argument("HTTPS needs both a certificate and a private key file");
  }
  using Poco::Net::Context;
  Poco::Net::initializeSSL();
  // TLS 1.0/1.1 need security level 0 under OpenSSL 3.
  Context::Ptr context = new Context(Context::TLS_SERVER_USE, o.tlsPrivateKeyFile,
                                     o.tlsCertificateFile, "", Context::VERIFY_NONE, 9, false,
                                     o.tlsOnly11 ? "ALL:@SECLEVEL=0" : "HIGH:!aNULL:!eNULL");
  if (o.tlsOnly11) {
    SSL_CTX_set_min_proto_version(context->sslContext(), TLS1_VERSION);
    SSL_CTX_set_max_proto_version(context->sslContext(), TLS1_1_VERSION);
  }
  return std::make_unique<Poco::Net::SecureServerSocket>(address, 64, context);
}

}  // namespace

SimServer::SimServer(SimOptions options)
    : options_(options), org_(std::move(options)), socket_(listen(options_)) {
  port_ = socket_->address().port();
  options_.scenario.reset();  // the org holds the jobs; no need for a second copy
  if (options_.oauth.instanceUrl.empty()) org_.setInstanceUrl(baseUrl());
  // BULKWARDEN_SIM_CHUNKED=1 makes every simulated org send chunked replies, so that a whole
  // test suite can run against the framing Salesforce commonly uses.
  const char* chunked = std::getenv("BULKWARDEN_SIM_CHUNKED");
  if (chunked != nullptr && std::string_view(chunked) == "1") options_.chunked = true;
}

SimServer::~SimServer() { stop(); }

void SimServer::start() {
  if (server_) return;
  if (!socket_) throw std::logic_error("SimServer cannot be restarted after stop()");
  pool_ = std::make_unique<Poco::ThreadPool>(2, 32);
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(32);
  params->setMaxQueued(256);
  params->setKeepAlive(true);
  params->setMaxKeepAliveRequests(0);  // unlimited
  params->setKeepAliveTimeout(Poco::Timespan(15, 0));
  params->setServerName("bulkwarden-sim");
  server_ = std::make_unique<Poco::Net::HTTPServer>(new OrgHandlerFactory(org_, options_), *pool_,
                                                    *socket_, params);
  server_->start();
}

void SimServer::stop() {
  if (server_) {
    server_->stopAll(true);  // also ends idle kept-alive connections
    server_.reset();
  }
  if (pool_) {
    pool_->joinAll();
    pool_.reset();
  }
  socket_.reset();
}

uint16_t SimServer::port() const { return port_; }

std::string SimServer::baseUrl() const {
  const bool https = !options_.tlsCertificateFile.empty();
  const bool v6 = options_.host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", https ? "https" : "http", v6 ? "[" : "", options_.host,
                     v6 ? "]" : "", port_);
}

std::string SimServer::token() const { return org_.token(); }

SimOrg& SimServer::org() { return org_; }

}  // namespace bulkwarden::sim
