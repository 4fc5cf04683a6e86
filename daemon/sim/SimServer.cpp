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

#include <istream>

namespace bulkwarden::sim {

namespace {

constexpr std::size_t kMaxBody = 1 << 20;  // PATCH bodies are a few bytes; refuse floods

class OrgHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit OrgHandler(SimOrg& org) : org_(org) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    SimResponse reply;
    try {
      SimRequest in;
      in.method = request.getMethod();
      in.uri = request.getURI();
      in.authorization = request.get("Authorization", "");
      in.contentType = request.get("Content-Type", "");
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
    response.sendBuffer(reply.body.data(), reply.body.size());
  }

 private:
  SimOrg& org_;
};

class OrgHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit OrgHandlerFactory(SimOrg& org) : org_(org) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new OrgHandler(org_);
  }

 private:
  SimOrg& org_;
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
  server_ = std::make_unique<Poco::Net::HTTPServer>(new OrgHandlerFactory(org_), *pool_, *socket_,
                                                    params);
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
