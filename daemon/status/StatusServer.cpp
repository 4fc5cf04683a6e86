#include "status/StatusServer.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <fmt/format.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "log/Log.h"

namespace bulkwarden::status {

namespace {

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
  Poco::JSON::Stringifier::stringify(root, out, 2);
  out << "\n";
  return out.str();
}

StatusServer::StatusServer(const std::string& listen, Monitor& monitor)
    : configured_(listen), pool_("http", 1, kThreads) {
  Poco::Net::SocketAddress addr;
  try {
    addr = Poco::Net::SocketAddress(listen);
  } catch (const Poco::Exception& e) {
    throw std::runtime_error(fmt::format("http listen address '{}': {}", listen, e.displayText()));
  }
  Poco::Net::ServerSocket socket;
  try {
    socket.bind(addr, true);
    socket.listen(kQueue);
  } catch (const Poco::Exception& e) {
    throw std::runtime_error(fmt::format("http: cannot listen on {}: {}", listen, e.displayText()));
  }
  if (!addr.host().isLoopback()) {
    log::warning("http endpoint on {} is reachable from other hosts: it has no authentication",
                 listen);
  }
  address_ = socket.address().toString();
  port_ = socket.address().port();
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(kThreads);
  params->setMaxQueued(kQueue);
  params->setTimeout(Poco::Timespan(kTimeoutSeconds, 0));
  params->setKeepAlive(false);
  params->setServerName("bulkwarden");
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(monitor), pool_, socket, params);
}

StatusServer::~StatusServer() { stop(); }

void StatusServer::start() {
  if (running_) return;
  server_->start();
  running_ = true;
}

void StatusServer::stop() {
  if (!running_) return;
  server_->stopAll(true);
  running_ = false;
  pool_.joinAll();
}

}  // namespace bulkwarden::status
