#include "status/StatusServer.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerConnection.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "log/Log.h"

namespace bulkwarden::status {

// Cuts connections past their deadline: each connection registers its socket when a thread takes
// it and leaves when done; one thread sleeps until the earliest deadline and shuts down the sockets
// whose time is up, so that the serving thread's blocked read returns and the connection ends.
// Thread-safe.
class DeadlineGuard {
 public:
  using Steady = std::chrono::steady_clock;

  explicit DeadlineGuard(std::chrono::milliseconds deadline)
      : deadline_(deadline), thread_([this] { loop(); }) {}
  ~DeadlineGuard() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  uint64_t enter(const Poco::Net::StreamSocket& socket) {
    std::lock_guard lock(mutex_);
    uint64_t id = ++next_;
    auto& e = entries_[id];
    e.socket = socket;
    e.deadline = Steady::now() + deadline_;
    if (aborting_) cut(e);
    cv_.notify_all();
    return id;
  }
  void leave(uint64_t id) {
    std::lock_guard lock(mutex_);
    entries_.erase(id);
  }
  // Cuts every connection in progress, and every one that starts from now on.
  void abortAll() {
    std::lock_guard lock(mutex_);
    aborting_ = true;
    for (auto& [id, e] : entries_) cut(e);
  }
  void resume() {
    std::lock_guard lock(mutex_);
    aborting_ = false;
  }
  size_t active() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
  }
  uint64_t dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
  }

 private:
  struct Entry {
    Poco::Net::StreamSocket socket;
    Steady::time_point deadline;
    bool cut = false;
  };

  static void cut(Entry& e) {
    if (e.cut) return;
    e.cut = true;
    try {
      e.socket.shutdown();  // the peer may be gone already
    } catch (const Poco::Exception&) {
    }
  }

  void loop() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      auto now = Steady::now();
      std::optional<Steady::time_point> next;
      for (auto& [id, e] : entries_) {
        if (e.cut) continue;
        if (e.deadline <= now) {
          cut(e);
          ++dropped_;
          log::debug("http: connection cut at its {} ms deadline", deadline_.count());
        } else if (!next || e.deadline < *next) {
          next = e.deadline;
        }
      }
      if (next) {
        cv_.wait_until(lock, *next);
      } else {
        cv_.wait(lock);
      }
    }
  }

  const std::chrono::milliseconds deadline_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::map<uint64_t, Entry> entries_;
  uint64_t next_ = 0;
  uint64_t dropped_ = 0;
  bool stop_ = false;
  bool aborting_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

bool ListenError::temporary() const {
  return error_ == EADDRINUSE || error_ == EADDRNOTAVAIL || error_ == EAGAIN || error_ == ENOBUFS ||
         error_ == ENOMEM;
}

namespace {

// An HTTP connection that holds its thread no longer than the guard's deadline.
class DeadlineConnection : public Poco::Net::HTTPServerConnection {
 public:
  DeadlineConnection(const Poco::Net::StreamSocket& socket, Poco::Net::HTTPServerParams::Ptr params,
                     Poco::Net::HTTPRequestHandlerFactory::Ptr factory, DeadlineGuard& guard)
      : HTTPServerConnection(socket, params, factory), guard_(guard) {}

  void run() override {
    struct Leave {
      DeadlineGuard& guard;
      uint64_t id;
      ~Leave() { guard.leave(id); }
    } leave{guard_, guard_.enter(socket())};
    HTTPServerConnection::run();
  }

 private:
  DeadlineGuard& guard_;
};

class ConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  ConnectionFactory(Poco::Net::HTTPServerParams::Ptr params,
                    Poco::Net::HTTPRequestHandlerFactory::Ptr factory, DeadlineGuard& guard)
      : params_(std::move(params)), factory_(std::move(factory)), guard_(guard) {}
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override {
    return new DeadlineConnection(socket, params_, factory_, guard_);
  }

 private:
  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr factory_;
  DeadlineGuard& guard_;
};

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

std::string seconds(model::Timestamp t) { return model::formatRfc3339(t); }

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(Monitor& monitor) : monitor_(monitor) {}

  void handleRequest(HTTPServerRequest& req, HTTPServerResponse& resp) override {
    resp.setKeepAlive(false);
    resp.set("Cache-Control", "no-store");
    if (req.getMethod() != "GET" && req.getMethod() != "HEAD") {
      resp.set("Allow", "GET, HEAD");
      return send(req, resp, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "text/plain",
                  "method not allowed\n");
    }
    std::string path = req.getURI();
    if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
    if (path == "/healthz") {
      return send(req, resp, HTTPResponse::HTTP_OK, "text/plain", "ok\n");
    }
    if (path == "/readyz") {
      auto why = monitor_.notReadyReasons();
      if (why.empty()) return send(req, resp, HTTPResponse::HTTP_OK, "text/plain", "ready\n");
      std::string body = "not ready:\n";
      for (const auto& w : why) body += "  " + w + "\n";
      return send(req, resp, HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "text/plain", body);
    }
    if (path == "/metrics") {
      return send(req, resp, HTTPResponse::HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                  monitor_.metricsText());
    }
    if (path == "/status") {
      return send(req, resp, HTTPResponse::HTTP_OK, "application/json",
                  statusJson(monitor_.snapshot()));
    }
    send(req, resp, HTTPResponse::HTTP_NOT_FOUND, "text/plain",
         "not found; try /healthz /readyz /status /metrics\n");
  }

 private:
  static void send(HTTPServerRequest& req, HTTPServerResponse& resp, HTTPResponse::HTTPStatus st,
                   const std::string& type, const std::string& body) {
    resp.setStatus(st);
    resp.setContentType(type);
    resp.setContentLength(static_cast<std::streamsize>(body.size()));
    if (req.getMethod() == "HEAD") {
      resp.send();
      return;
    }
    resp.sendBuffer(body.data(), body.size());
  }

  Monitor& monitor_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(Monitor& monitor) : monitor_(monitor) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new Handler(monitor_);
  }

 private:
  Monitor& monitor_;
};

}  // namespace

std::string statusJson(const Snapshot& s) {
  Poco::JSON::Object::Ptr root = new Poco::JSON::Object;
  root->set("version", BULKWARDEN_VERSION);
  root->set("config", s.configPath);
  root->set("config_loaded", s.configLoaded);
  root->set("dry_run", s.dryRun);
  root->set("started", seconds(s.started));
  root->set("audit_writable", s.auditWritable);
  if (!s.auditError.empty()) root->set("audit_error", s.auditError);
  Poco::JSON::Array::Ptr orgs = new Poco::JSON::Array;
  for (const auto& org : s.orgs) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("name", org);
    Poco::JSON::Array::Ptr passes = new Poco::JSON::Array;
    auto it = s.lastPass.find(org);
    if (it != s.lastPass.end()) {
      for (const auto& [resource, p] : it->second) {
        Poco::JSON::Object::Ptr j = new Poco::JSON::Object;
        j->set("resource", resource);
        j->set("run", p.summary.run);
        j->set("finished", seconds(p.finished));
        j->set("ok", p.summary.ok());
        j->set("jobs_seen", p.summary.jobsSeen);
        j->set("matched", p.summary.matched);
        j->set("acted", p.summary.acted);
        j->set("api_calls", p.summary.apiCalls);
        j->set("duration_ms", static_cast<int64_t>(p.summary.duration.count()));
        if (p.summary.listingError) j->set("error", p.summary.listingError->describe());
        if (p.summary.auditError) j->set("audit_error", *p.summary.auditError);
        // The next pass as the scheduler keeps it (the earliest of the resource's policies).
        if (auto next = s.nextPassOf(org, resource)) j->set("next_by", seconds(*next));
        passes->add(j);
      }
    }
    o->set("last_passes", passes);
    orgs->add(o);
  }
  root->set("orgs", orgs);
  Poco::JSON::Array::Ptr pols = policiesJson(s);
  root->set("policies", pols);
  Poco::JSON::Array::Ptr acts = new Poco::JSON::Array;
  for (auto it = s.recentActions.rbegin(); it != s.recentActions.rend(); ++it) {
    Poco::JSON::Object::Ptr j = new Poco::JSON::Object;
    j->set("at", seconds(it->at));
    j->set("org", it->org);
    j->set("policy", it->policy);
    j->set("action", it->action);
    j->set("job", it->jobId);
    j->set("outcome", it->outcome);
    if (it->http) j->set("http", it->http);
    acts->add(j);
  }
  root->set("recent_actions", acts);
  std::ostringstream out;
  // The org's error text is in here: every character outside ASCII as \uXXXX, so that C1
  // controls and U+2028 cannot reach a terminal that shows the reply raw.
  Poco::JSON::Stringifier::stringify(root, out, 2, -1,
                                     Poco::JSON_WRAP_STRINGS | Poco::JSON_ESCAPE_UNICODE);
  out << "\n";
  return out.str();
}

StatusServer::StatusServer(const std::string& listen, Monitor& monitor, StatusServerOptions options)
    : configured_(listen), options_(options), pool_("http", 1, std::max(1, options.threads)) {
  Poco::Net::SocketAddress addr;
  try {
    addr = Poco::Net::SocketAddress(listen);
  } catch (const Poco::Exception& e) {
    throw ListenError(fmt::format("http listen address '{}': {}", listen, e.displayText()), 0);
  }
  Poco::Net::ServerSocket socket;
  try {
    // SO_REUSEADDR (a restart binds at once), never SO_REUSEPORT: POCO's two-argument bind()
    // sets both, and with it a second process of the same user would share the port and take
    // half of the scrapes instead of failing with "address in use".
    socket.bind(addr, true, false);
    socket.listen(std::max(1, options_.queue));
  } catch (const Poco::Exception& e) {
    throw ListenError(fmt::format("http: cannot listen on {}: {}", listen, e.displayText()),
                      e.code());
  }
  if (!addr.host().isLoopback()) {
    log::warning("http endpoint on {} is reachable from other hosts: it has no authentication",
                 listen);
  }
  address_ = socket.address().toString();
  port_ = socket.address().port();
  Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(std::max(1, options_.threads));
  params->setMaxQueued(std::max(1, options_.queue));
  // Per read; the guard bounds the whole request.
  params->setTimeout(Poco::Timespan(
      std::chrono::duration_cast<std::chrono::microseconds>(options_.deadline).count()));
  params->setKeepAlive(false);
  params->setServerName("bulkwarden");
  guard_ = std::make_unique<DeadlineGuard>(options_.deadline);
  server_ = std::make_unique<Poco::Net::TCPServer>(
      new ConnectionFactory(params, new Factory(monitor), *guard_), pool_, socket, params);
}

StatusServer::~StatusServer() { stop(); }

void StatusServer::start() {
  if (running_) return;
  guard_->resume();
  server_->start();
  running_ = true;
}

void StatusServer::stop() {
  if (!running_) return;
  server_->stop();
  guard_->abortAll();
  running_ = false;
  pool_.joinAll();
}

size_t StatusServer::activeConnections() const { return guard_->active(); }
uint64_t StatusServer::droppedConnections() const { return guard_->dropped(); }

}  // namespace bulkwarden::status
