#include "salesforce/HttpTransport.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/RejectCertificateHandler.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/Socket.h>
#include <Poco/Net/SocketImpl.h>
#include <Poco/Net/VerificationErrorArgs.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <condition_variable>
#include <istream>
#include <map>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <thread>

#include "log/Log.h"

namespace bulkwarden::salesforce {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

Poco::Timespan toTimespan(milliseconds ms) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(std::max<int64_t>(ms.count(), 1)) *
                        1000);
}

milliseconds remaining(Clock::time_point deadline) {
  return std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
}

// POCO connects lazily inside sendRequest(); opening explicitly first tells a failure to connect
// from a failure later. Counting the bytes the kernel accepted tells whether any of the request
// may have left: a write that fails before the first byte was accepted sent nothing.
class Opener {
 public:
  virtual ~Opener() = default;
  virtual void open() = 0;
  virtual void resetWritten() = 0;
  virtual int64_t written() const = 0;
};

template <class Base>
class OpenableSession final : public Base, public Opener {
 public:
  using Base::Base;
  void open() override {
    if (!this->connected()) this->reconnect();
  }
  void resetWritten() override { written_ = 0; }
  int64_t written() const override { return written_; }

 protected:
  // HTTPClientSession::write would, on a failed write to a kept-alive connection, reconnect and
  // re-send by itself: invisible to the pool, the deadline watchdog and the caller's decision
  // about re-sending a PATCH. Failures surface instead, and send() decides.
  int write(const char* buffer, std::streamsize length) override {
    int n = Poco::Net::HTTPSession::write(buffer, length);
    if (n > 0) written_ += n;
    return n;
  }

 private:
  int64_t written_ = 0;
};

bool isLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  Poco::Net::IPAddress address;
  return Poco::Net::IPAddress::tryParse(host, address) && address.isLoopback();
}

// What OpenSSL said about the last certificate this thread refused. POCO's exception only says
// "certificate verify failed"; the handler below runs on the handshaking thread and keeps the
// reason (expired, self-signed, unknown issuer) so the error can name it.
struct CertificateVerdict {
  bool refused = false;
  int number = 0;
  int depth = 0;
  std::string message;
};
thread_local CertificateVerdict tVerdict;

class RecordingRejectHandler final : public Poco::Net::RejectCertificateHandler {
 public:
  RecordingRejectHandler() : RejectCertificateHandler(false) {}
  void onInvalidCertificate(const void* sender, Poco::Net::VerificationErrorArgs& args) override {
    tVerdict = CertificateVerdict{true, args.errorNumber(), args.errorDepth(), args.errorMessage()};
    RejectCertificateHandler::onInvalidCertificate(sender, args);
  }
};

void installRejectHandler(const Poco::Net::Context::Ptr& context) {
  static std::once_flag once;
  std::call_once(once, [&] {
    Poco::Net::initializeSSL();
    // Without this, POCO builds its invalid-certificate handler from application config, which
    // inside a Util::Application is a console prompt (docs/reliability.md).
    Poco::Net::SSLManager::InvalidCertificateHandlerPtr handler(new RecordingRejectHandler);
    Poco::Net::SSLManager::instance().initializeClient(nullptr, handler, context);
  });
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// Names why a TLS handshake failed: the error class goes into ApiError::code.
// X509 error numbers: 9/10 not yet valid/expired, 18 self-signed, 19 self-signed in chain,
// 20/21 unknown issuer.
std::pair<std::string, std::string> tlsFailure(const std::string& host, const Poco::Exception& e) {
  const std::string text = e.displayText();
  if (tVerdict.refused) {
    const int n = tVerdict.number;
    const std::string code = (n == 9 || n == 10) ? "TLS_EXPIRED"
                             : (n == 18 || n == 19 || n == 20 || n == 21 || n == 2)
                                 ? "TLS_UNTRUSTED"
                                 : "TLS_CERTIFICATE";
    return {code, fmt::format("TLS certificate of {} refused: {} (X509 error {} at depth {})", host,
                              tVerdict.message, n, tVerdict.depth)};
  }
  if (dynamic_cast<const Poco::Net::CertificateValidationException*>(&e) != nullptr) {
    if (contains(text, "application verification failure")) {
      return {"TLS_HOSTNAME",
              fmt::format("TLS certificate does not name the host {} (hostname verification "
                          "failed: {})",
                          host, text)};
    }
    return {"TLS_CERTIFICATE", fmt::format("TLS certificate of {} refused: {}", host, text)};
  }
  if (contains(text, "protocol version") || contains(text, "unsupported protocol") ||
      contains(text, "no protocols available") || contains(text, "wrong version number")) {
    return {"TLS_PROTOCOL",
            fmt::format("TLS handshake with {} failed: the server does not offer TLS 1.2 or "
                        "later ({})",
                        host, text)};
  }
  return {"TLS_HANDSHAKE", fmt::format("TLS handshake with {} failed: {}", host, text)};
}

ApiError transient(std::string message, bool sent) {
  ApiError e;
  e.kind = ApiError::Kind::Transient;
  e.message = std::move(message);
  e.sent = sent;
  return e;
}

}  // namespace

struct HttpTransport::Connection {
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  Opener* opener = nullptr;
  Clock::time_point lastUsed;
};

struct HttpTransport::Attempt {
  std::optional<HttpResponse> response;
  ApiError error;
  bool keep = false;  // the connection may go back to the pool
};

// Shuts down the socket of a request that outlives its deadline, whatever POCO is blocked on
// (a trickled status line or headers, a slow TLS read). The owning thread then sees EOF or an
// error and discards the connection.
class HttpTransport::Watchdog {
 public:
  Watchdog() : thread_([this] { run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  uint64_t arm(Clock::time_point deadline, poco_socket_t fd) {
    std::lock_guard lock(mutex_);
    uint64_t id = ++next_;
    entries_[id] = Entry{deadline, fd, false};
    cv_.notify_all();
    return id;
  }

  // True when the watchdog shut the socket down.
  bool disarm(uint64_t id) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return false;
    bool fired = it->second.fired;
    entries_.erase(it);
    return fired;
  }

 private:
  struct Entry {
    Clock::time_point deadline;
    poco_socket_t fd;
    bool fired;
  };

  void run() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      auto now = Clock::now();
      std::optional<Clock::time_point> next;
      for (auto& [id, e] : entries_) {
        if (e.fired) continue;
        if (e.deadline <= now) {
          // shutdown(), not close(): the fd stays owned by the request's thread, which is still
          // registered here (disarm takes this lock), so the fd cannot have been reused.
          ::shutdown(e.fd, SHUT_RDWR);
          e.fired = true;
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

  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<uint64_t, Entry> entries_;
  uint64_t next_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

void installTlsRejectHandler(const Poco::Net::Context::Ptr& context) {
  installRejectHandler(context);
}

HttpTransport::HttpTransport(const std::string& baseUrl, TransportOptions options)
    : options_(std::move(options)) {
  Poco::URI uri;
  try {
    uri = Poco::URI(baseUrl);
  } catch (const Poco::Exception& e) {
    throw std::invalid_argument(fmt::format("invalid URL {}: {}", baseUrl, e.displayText()));
  }
  const std::string scheme = uri.getScheme();
  if (scheme != "http" && scheme != "https") {
    throw std::invalid_argument(
        fmt::format("invalid URL {}: the scheme must be https (or http for loopback)", baseUrl));
  }
  if (uri.getHost().empty()) throw std::invalid_argument("invalid URL " + baseUrl + ": no host");
  if (!uri.getUserInfo().empty() || !uri.getQuery().empty() || !uri.getFragment().empty() ||
      (!uri.getPath().empty() && uri.getPath() != "/")) {
    throw std::invalid_argument(fmt::format(
        "invalid URL {}: give scheme, host and port only (no path, query or user info)", baseUrl));
  }
  https_ = scheme == "https";
  host_ = uri.getHost();
  port_ = uri.getPort();
  if (!https_ && !isLoopbackHost(host_)) {
    throw std::invalid_argument(fmt::format(
        "refusing http:// to {}: plain HTTP is allowed only to loopback hosts; use https://",
        host_));
  }
  if (https_) {
    using Poco::Net::Context;
    try {
      context_ = new Context(Context::TLS_CLIENT_USE, options_.caFile, Context::VERIFY_STRICT, 9,
                             true /*loadDefaultCAs*/, "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES");
      context_->requireMinimumProtocol(Context::PROTO_TLSV1_2);
      context_->enableExtendedCertificateVerification(true);
    } catch (const Poco::Exception& e) {
      throw std::invalid_argument(
          fmt::format("cannot set up TLS (ca-file \"{}\"): {}", options_.caFile, e.displayText()));
    }
    installRejectHandler(context_);
  }
  // Shared by every transport alive, started with the first and ended with the last: the threads
  // of the process do not grow with the number of orgs (docs/design.md).
  static std::mutex sharedMutex;
  static std::weak_ptr<Watchdog> shared;
  std::lock_guard lock(sharedMutex);
  watchdog_ = shared.lock();
  if (!watchdog_) {
    watchdog_ = std::make_shared<Watchdog>();
    shared = watchdog_;
  }
}

void HttpTransport::closeIdle() {
  std::vector<std::unique_ptr<Connection>> closing;
  {
    std::lock_guard lock(mutex_);
    closing.swap(idle_);
  }
  // Destroyed outside the lock: closing a TLS session may write its close_notify.
}

std::size_t HttpTransport::idleConnections() {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

HttpTransport::~HttpTransport() = default;

std::unique_ptr<HttpTransport::Connection> HttpTransport::acquire(bool fresh, bool& reused) {
  reused = false;
  if (!fresh) {
    std::unique_lock lock(mutex_);
    while (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      lock.unlock();
      bool usable = Clock::now() - c->lastUsed < options_.idleTimeout;
      try {
        // An idle kept-alive socket that is readable has been closed by the server (or holds
        // bytes nobody asked for): either way it must not carry a request.
        usable = usable && c->session->connected() &&
                 !c->session->socket().poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ |
                                                                   Poco::Net::Socket::SELECT_ERROR);
      } catch (const Poco::Exception&) {
        usable = false;
      }
      if (usable) {
        reused = true;
        return c;
      }
      lock.lock();
    }
  }
  auto c = std::make_unique<Connection>();
  if (https_) {
    auto s =
        std::make_unique<OpenableSession<Poco::Net::HTTPSClientSession>>(host_, port_, context_);
    c->opener = s.get();
    c->session = std::move(s);
  } else {
    auto s = std::make_unique<OpenableSession<Poco::Net::HTTPClientSession>>(host_, port_);
    c->opener = s.get();
    c->session = std::move(s);
  }
  c->session->setKeepAlive(true);
  // The pool decides about idle connections (idleTimeout); POCO's own check must not reconnect
  // silently behind it.
  c->session->setKeepAliveTimeout(toTimespan(options_.idleTimeout * 2));
  return c;
}

void HttpTransport::release(std::unique_ptr<Connection> connection) {
  connection->lastUsed = Clock::now();
  std::lock_guard lock(mutex_);
  if (idle_.size() < options_.poolSize) idle_.push_back(std::move(connection));
}

HttpTransport::Attempt HttpTransport::attempt(Connection& c, const HttpRequest& request,
                                              Clock::time_point deadline) {
  Attempt out;
  bool sent = false;
  uint64_t armed = 0;
  auto& session = *c.session;
  auto deadlineError = [&] {
    return transient(
        fmt::format("request deadline of {} ms exceeded", options_.requestDeadline.count()), sent);
  };
  auto ioTimeout = [&] { return toTimespan(std::min(options_.readTimeout, remaining(deadline))); };
  tVerdict = CertificateVerdict{};
  try {
    if (remaining(deadline).count() <= 0) {
      out.error = deadlineError();
      return out;
    }
    session.setTimeout(toTimespan(std::min(options_.connectTimeout, remaining(deadline))),
                       ioTimeout(), ioTimeout());
    const bool wasConnected = session.connected();
    // The TLS handshake is deferred past connect() so that it runs under the watchdog: a server
    // trickling its handshake must not hold the request past the deadline either.
    if (https_ && !wasConnected) Poco::Net::SecureStreamSocket(session.socket()).setLazyHandshake();
    c.opener->open();
    if (!wasConnected) ++connectionsOpened_;
    armed = watchdog_->arm(deadline, session.socket().impl()->sockfd());
    session.socket().setSendTimeout(ioTimeout());
    session.socket().setReceiveTimeout(ioTimeout());
    if (https_ && !wasConnected) {
      Poco::Net::SecureStreamSocket secure(session.socket());
      tVerdict = CertificateVerdict{};
      try {
        if (secure.completeHandshake() != 1) {
          throw Poco::Net::SSLConnectionUnexpectedlyClosedException("during the TLS handshake");
        }
        secure.verifyPeerCertificate();
      } catch (const Poco::Exception& e) {
        const bool fired = watchdog_->disarm(armed);
        armed = 0;
        if (fired) {
          out.error = deadlineError();
          return out;
        }
        auto [code, message] = tlsFailure(host_, e);
        out.error = transient(std::move(message), false);
        out.error.code = std::move(code);
        return out;
      }
    }

    Poco::Net::HTTPRequest req(request.method, request.target, Poco::Net::HTTPMessage::HTTP_1_1);
    req.setKeepAlive(true);
    for (const auto& [name, value] : request.headers) req.set(name, value);
    if (!request.body.empty()) {
      req.setContentType(request.contentType);
      req.setContentLength64(static_cast<Poco::Int64>(request.body.size()));
    }
    c.opener->resetWritten();
    sent = true;
    ++requestsSent_;
    std::ostream& os = session.sendRequest(req);
    if (!request.body.empty()) {
      os.write(request.body.data(), static_cast<std::streamsize>(request.body.size()));
      os.flush();
    }
    if (!os.good()) throw Poco::Net::NetException("sending the request failed");

    session.socket().setReceiveTimeout(ioTimeout());
    Poco::Net::HTTPResponse resp;
    std::istream& rs = session.receiveResponse(resp);

    HttpResponse r;
    r.status = static_cast<int>(resp.getStatus());
    r.contentType = resp.get("Content-Type", "");
    r.limitInfo = resp.get("Sforce-Limit-Info", "");
    r.retryAfter = resp.get("Retry-After", "");
    r.date = resp.get("Date", "");

    const bool hasLength = resp.hasContentLength();
    const Poco::Int64 length = hasLength ? resp.getContentLength64() : -1;
    if (hasLength && length > static_cast<Poco::Int64>(options_.maxBodyBytes)) {
      watchdog_->disarm(armed);
      out.error = transient("", true);
      out.error.kind = ApiError::Kind::Malformed;
      out.error.http = r.status;
      out.error.message = fmt::format("response body of {} bytes is over the {} byte limit", length,
                                      options_.maxBodyBytes);
      return out;
    }

    // Chunk by chunk, so that the deadline is checked between reads: peek() blocks for at most
    // one socket read (bounded by the receive timeout), readsome() takes what is buffered.
    char buffer[16 * 1024];
    while (true) {
      auto left = remaining(deadline);
      if (left.count() <= 0) {
        watchdog_->disarm(armed);
        out.error = deadlineError();
        return out;
      }
      session.socket().setReceiveTimeout(ioTimeout());
      if (rs.peek() == std::char_traits<char>::eof()) break;
      std::streamsize n = rs.readsome(buffer, sizeof buffer);
      if (r.body.size() + static_cast<std::size_t>(n) > options_.maxBodyBytes) {
        watchdog_->disarm(armed);
        out.error = transient("", true);
        out.error.kind = ApiError::Kind::Malformed;
        out.error.http = r.status;
        out.error.message =
            fmt::format("response body is over the {} byte limit", options_.maxBodyBytes);
        return out;
      }
      r.body.append(buffer, static_cast<std::size_t>(n));
    }
    const bool fired = watchdog_->disarm(armed);
    armed = 0;
    if (fired) {
      out.error = deadlineError();
      return out;
    }
    if (rs.bad() && remaining(deadline) <= std::chrono::milliseconds(10)) {
      // The receive timeout was the time left before the deadline, and it ran out: say so
      // (the watchdog would have fired a moment later).
      out.error = deadlineError();
      return out;
    }
    if (rs.bad()) {
      const Poco::Exception* exc = session.networkException();
      out.error =
          transient(fmt::format("reading the response body failed: {}",
                                exc != nullptr ? exc->displayText() : std::string("stream error")),
                    true);
      return out;
    }
    if (hasLength && static_cast<Poco::Int64>(r.body.size()) != length) {
      out.error = transient(
          fmt::format("response body truncated: {} of {} bytes", r.body.size(), length), true);
      return out;
    }
    out.keep = resp.getKeepAlive();
    out.response = std::move(r);
    return out;
  } catch (const Poco::Exception& e) {
    if (sent && c.opener->written() == 0) {
      sent = false;
      --requestsSent_;
    }
    const bool fired = armed != 0 && watchdog_->disarm(armed);
    // A receive timeout set to the time left fires at the deadline, a moment before the watchdog.
    const bool atDeadline = dynamic_cast<const Poco::TimeoutException*>(&e) != nullptr &&
                            remaining(deadline) <= std::chrono::milliseconds(10);
    if (fired || atDeadline) {
      out.error = deadlineError();
    } else if (!sent && dynamic_cast<const Poco::Net::SSLException*>(&e) != nullptr) {
      auto [code, message] = tlsFailure(host_, e);
      out.error = transient(std::move(message), false);
      out.error.code = std::move(code);
    } else {
      out.error = transient(e.displayText(), sent);
    }
  } catch (const std::exception& e) {
    if (sent && c.opener->written() == 0) {
      sent = false;
      --requestsSent_;
    }
    const bool fired = armed != 0 && watchdog_->disarm(armed);
    out.error = fired ? deadlineError() : transient(e.what(), sent);
  }
  return out;
}

Result<HttpResponse> HttpTransport::send(const HttpRequest& request) {
  const auto deadline = Clock::now() + options_.requestDeadline;
  for (int round = 0;; ++round) {
    bool reused = false;
    std::unique_ptr<Connection> c = acquire(round > 0, reused);
    Attempt a = attempt(*c, request, deadline);
    if (a.response) {
      if (a.keep) {
        release(std::move(c));
      } else {
        c->session->reset();
      }
      return std::move(*a.response);
    }
    try {
      c->session->abort();
    } catch (const Poco::Exception&) {
      // Already broken; it is being discarded anyway.
    }
    // One more attempt on a fresh connection, within the same deadline, when it cannot cause a
    // second effect: the request surely did not leave (connect or TLS failed), or it is
    // idempotent and failed on a reused kept-alive connection, which the server may close at any
    // moment. Anything else (a PATCH that was written) is left to the caller's retry policy.
    // A refused certificate or protocol stays refused: no second handshake.
    const bool retry = round == 0 && a.error.kind == ApiError::Kind::Transient &&
                       a.error.code.empty() && (!a.error.sent || (reused && request.idempotent)) &&
                       remaining(deadline).count() > 0;
    if (!retry) return a.error;
    log::debug("{} {}: reused connection failed ({}); retrying on a new one", request.method,
               request.target, a.error.message);
  }
}

}  // namespace bulkwarden::salesforce
