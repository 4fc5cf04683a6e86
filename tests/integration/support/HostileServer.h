// An adversarial Salesforce for the integration tests: a real HTTP server on 127.0.0.1 port 0
// whose every reply is written by the test. It can say what a lying org or proxy says: huge or
// control-character-laden token replies, listings with duplicate ids or absurd fields, next-page
// URLs that point elsewhere, chunked bodies, bodies that never end. It never shares code with the
// client it tests. Thread-safe: the route function runs on the server's threads; `requests()`
// may be read from any thread.
#pragma once

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>

#include <algorithm>
#include <cstdlib>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace bulkwarden::testing {

struct HostileRequest {
  std::string method;
  std::string target;  // path and query, as sent
  std::map<std::string, std::string> headers;
  std::string body;
  std::string base;  // this server's own URL (http://127.0.0.1:port), for replies that name it
};

struct HostileReply {
  int status = 200;
  std::string body;
  std::string contentType = "application/json;charset=UTF-8";
  std::vector<std::pair<std::string, std::string>> headers;
  bool chunked = false;  // Transfer-Encoding: chunked instead of Content-Length
  // The test is about this reply's framing (its length, its end): BULKWARDEN_SIM_CHUNKED=1 leaves
  // it as the test wrote it.
  bool framingUnderTest = false;
  // Written before the body, one piece at a time with a flush after each: slow or trickled replies.
  std::function<void(std::ostream&)> stream;
};

class HostileServer {
 public:
  using Route = std::function<HostileReply(const HostileRequest&)>;

  explicit HostileServer(Route route, int threads = 4)
      : route_(std::make_shared<Route>(std::move(route))),
        state_(std::make_shared<State>()),
        server_(new Factory(route_, state_),
                Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0)),
                params(threads)) {
    server_.start();
  }
  ~HostileServer() { server_.stopAll(true); }
  HostileServer(const HostileServer&) = delete;
  HostileServer& operator=(const HostileServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  uint16_t port() const { return server_.port(); }

  // Every request received so far, in arrival order.
  std::vector<HostileRequest> requests() const {
    std::lock_guard lock(state_->mutex);
    return state_->requests;
  }
  size_t count(const std::string& method, const std::string& targetPrefix) const {
    std::lock_guard lock(state_->mutex);
    size_t n = 0;
    for (const auto& r : state_->requests) {
      if (r.method == method && r.target.rfind(targetPrefix, 0) == 0) ++n;
    }
    return n;
  }

 private:
  struct State {
    mutable std::mutex mutex;
    std::vector<HostileRequest> requests;
  };

  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    Handler(std::shared_ptr<Route> route, std::shared_ptr<State> state)
        : route_(std::move(route)), state_(std::move(state)) {}
    void handleRequest(Poco::Net::HTTPServerRequest& req,
                       Poco::Net::HTTPServerResponse& resp) override {
      HostileRequest r;
      r.method = req.getMethod();
      r.target = req.getURI();
      r.base = "http://" + req.serverAddress().toString();
      for (const auto& [k, v] : req) r.headers[k] = v;
      Poco::StreamCopier::copyToString(req.stream(), r.body);
      {
        std::lock_guard lock(state_->mutex);
        state_->requests.push_back(r);
      }
      HostileReply reply = (*route_)(r);
      resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status));
      resp.setContentType(reply.contentType);
      for (const auto& [k, v] : reply.headers) resp.set(k, v);
      // BULKWARDEN_SIM_CHUNKED=1 (as for the simulated org): a normal JSON reply goes out chunked
      // in random pieces, as Salesforce sends JSON.
      const bool pieces = !reply.chunked && !reply.stream && !reply.framingUnderTest &&
                          !reply.body.empty() && chunkedByEnvironment() &&
                          reply.contentType.find("json") != std::string::npos &&
                          !hasFramingHeader(reply);
      if (reply.chunked || reply.stream || pieces) {
        resp.setChunkedTransferEncoding(true);
      } else {
        resp.setContentLength(static_cast<std::streamsize>(reply.body.size()));
      }
      std::ostream& out = resp.send();
      if (reply.stream) reply.stream(out);
      if (pieces) {
        // One chunk per flush, 1 byte to 4 KiB each, drawn from the body's own size and position.
        std::minstd_rand rng(static_cast<uint32_t>(reply.body.size()));
        for (size_t at = 0; at < reply.body.size();) {
          const size_t n = std::min<size_t>(reply.body.size() - at, 1 + rng() % 4096);
          out.write(reply.body.data() + at, static_cast<std::streamsize>(n));
          out.flush();
          at += n;
        }
      } else {
        out << reply.body;
      }
      out.flush();
    }

   private:
    static bool chunkedByEnvironment() {
      const char* env = std::getenv("BULKWARDEN_SIM_CHUNKED");
      return env != nullptr && std::string_view(env) == "1";
    }
    static bool hasFramingHeader(const HostileReply& reply) {
      for (const auto& [k, v] : reply.headers) {
        if (Poco::icompare(k, "Content-Length") == 0 ||
            Poco::icompare(k, "Transfer-Encoding") == 0) {
          return true;
        }
      }
      return false;
    }

    std::shared_ptr<Route> route_;
    std::shared_ptr<State> state_;
  };

  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    Factory(std::shared_ptr<Route> route, std::shared_ptr<State> state)
        : route_(std::move(route)), state_(std::move(state)) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(route_, state_);
    }

   private:
    std::shared_ptr<Route> route_;
    std::shared_ptr<State> state_;
  };

  static Poco::Net::HTTPServerParams::Ptr params(int threads) {
    auto* p = new Poco::Net::HTTPServerParams;
    p->setMaxThreads(threads);
    p->setMaxQueued(64);
    p->setKeepAlive(true);
    return p;
  }

  std::shared_ptr<Route> route_;
  std::shared_ptr<State> state_;
  Poco::Net::HTTPServer server_;
};

}  // namespace bulkwarden::testing
