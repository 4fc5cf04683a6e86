#include "notify/Notifications.h"

#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SecureSMTPClientSession.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/URI.h>
#include <fmt/format.h>

#include <map>

#include "log/Log.h"
#include "model/Time.h"
#include "notify/Digest.h"
#include "salesforce/HttpTransport.h"

namespace bulkwarden::notify {
namespace {

config::ConfigError secretError(const config::NotificationConfig& n,
                                const policy::SourceLocation& where, std::string message) {
  return config::ConfigError(
      {config::Diagnostic{where, fmt::format("notification '{}': {}", n.name, message), {}}});
}

class WebhookSender final : public Sender {
 public:
  WebhookSender(const std::string& url, const NotifyOptions& o) {
    Poco::URI uri(url);
    target_ = uri.getPathEtc();
    if (target_.empty()) target_ = "/";
    salesforce::TransportOptions t;
    t.connectTimeout = o.timeout;
    t.readTimeout = o.timeout;
    t.requestDeadline = o.timeout * 3;
    t.poolSize = 1;
    t.maxBodyBytes = 64 * 1024;  // the reply is not used; a larger one is a failure
    transport_ = std::make_unique<salesforce::HttpTransport>(
        fmt::format("{}://{}", uri.getScheme(), uri.getAuthority()), t);
  }
  std::optional<std::string> send(const std::string& payload) override {
    salesforce::HttpRequest r;
    r.method = "POST";
    r.target = target_;
    r.body = payload;
    r.contentType = "application/json";
    auto result = transport_->send(r);
    // Only the kind and status: an error message may quote the URL, a secret.
    if (!result) {
      return fmt::format("{}{}", salesforce::kindName(result.error().kind),
                         result.error().http ? fmt::format(" (HTTP {})", result.error().http) : "");
    }
    int status = result.value().status;
    if (status < 200 || status > 299) return fmt::format("HTTP {}", status);
    return std::nullopt;
  }

 private:
  std::string target_;
  std::unique_ptr<salesforce::HttpTransport> transport_;
};

class EmailSender final : public Sender {
 public:
  EmailSender(const config::NotificationConfig& n, std::string password, const NotifyOptions& o)
      : n_(n), password_(std::move(password)), timeout_(o.timeout) {
    if (n_.starttls) {
      using Poco::Net::Context;
      context_ = new Context(Context::TLS_CLIENT_USE, n_.caFile, Context::VERIFY_STRICT, 9,
                             true /*loadDefaultCAs*/, "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES");
      context_->requireMinimumProtocol(Context::PROTO_TLSV1_2);
      context_->enableExtendedCertificateVerification(true);
      salesforce::installTlsRejectHandler(context_);
    }
  }
  std::optional<std::string> send(const std::string& payload) override {
    auto nl = payload.find('\n');
    std::string subject = payload.substr(0, nl);
    std::string body = nl == std::string::npos ? "" : payload.substr(nl + 1);
    try {
      Poco::Timespan timeout(
          std::chrono::duration_cast<std::chrono::microseconds>(timeout_).count());
      Poco::Net::StreamSocket socket;
      socket.connect(Poco::Net::SocketAddress(n_.smtpHost, static_cast<uint16_t>(n_.smtpPort)),
                     timeout);
      Poco::Net::SecureSMTPClientSession session(socket);
      session.setTimeout(timeout);
      session.open();  // reads the greeting
      std::string ehlo;
      if (session.sendCommand("EHLO bulkwarden", ehlo) / 100 != 2) {
        return std::string("the server refused EHLO");
      }
      if (n_.starttls) {
        // Never fall back to plain text: the password and the digest would travel in the clear.
        if (ehlo.find("STARTTLS") == std::string::npos || !session.startTLS(context_)) {
          return std::string("the server does not offer STARTTLS");
        }
        session.sendCommand("EHLO bulkwarden", ehlo);  // what it offers now, inside TLS
      }
      if (!n_.username.empty()) {
        // PLAIN when offered (one round trip), else LOGIN.
        auto method = ehlo.find("PLAIN") != std::string::npos
                          ? Poco::Net::SMTPClientSession::AUTH_PLAIN
                          : Poco::Net::SMTPClientSession::AUTH_LOGIN;
        session.login(method, n_.username, password_);
      }
      Poco::Net::MailMessage message;
      message.setSender(n_.from);
      for (const auto& to : n_.to) {
        message.addRecipient(
            Poco::Net::MailRecipient(Poco::Net::MailRecipient::PRIMARY_RECIPIENT, to));
      }
      message.setSubject(Poco::Net::MailMessage::encodeWord(subject, "UTF-8"));
      message.setContentType("text/plain; charset=UTF-8");
      message.setContent(body, Poco::Net::MailMessage::ENCODING_QUOTED_PRINTABLE);
      session.sendMessage(message);
      session.close();
      return std::nullopt;
    } catch (const Poco::Net::SMTPException& e) {
      // The server's reply (its code and text), which never holds our password.
      std::string m = e.message();
      if (m.size() > 200) m.resize(200);
      for (char& c : m) {
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
      }
      return fmt::format("SMTP: {}", m);
    } catch (const Poco::TimeoutException&) {
      return std::string("timed out");
    } catch (const Poco::Exception& e) {
      return std::string(e.name());
    } catch (const std::exception&) {
      return std::string("error");
    }
  }

 private:
  config::NotificationConfig n_;
  std::string password_;
  std::chrono::milliseconds timeout_;
  Poco::Net::Context::Ptr context_;
};

}  // namespace

std::unique_ptr<Sender> makeSender(const config::NotificationConfig& n, const NotifyOptions& o) {
  if (n.kind == config::NotificationConfig::Kind::Webhook) {
    std::string url = n.urlSecret ? n.urlSecret->resolve() : n.url;
    policy::SourceLocation where = n.urlSecret ? n.urlSecret->where : n.where;
    if (auto why = config::webhookUrlProblem(url)) {
      throw secretError(n, where,
                        fmt::format("the webhook URL ({}) is not usable: {}",
                                    n.urlSecret ? n.urlSecret->describe() : "url", *why));
    }
    try {
      return std::make_unique<WebhookSender>(url, o);
    } catch (const std::exception&) {
      throw secretError(n, where, "the webhook URL is not usable");
    }
  }
  std::string password = n.password ? n.password->resolve() : "";
  try {
    return std::make_unique<EmailSender>(n, std::move(password), o);
  } catch (const Poco::Exception& e) {
    throw secretError(n, n.where, fmt::format("cannot set up TLS: {}", e.displayText()));
  }
}

Notifications::Notifications(const std::vector<config::NotificationConfig>& targets,
                             std::string stateDir, engine::PassListener* next,
                             NotifyOptions options)
    : outbox_(stateDir), marks_(stateDir), next_(next), options_(options) {
  marks_.load();
  if (const char* env = std::getenv("BULKWARDEN_NOTIFY_TIMEOUT")) {
    if (auto d = model::parseDuration(env); d && d->count() > 0) {
      options_.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    }
  }
  for (const auto& n : targets) {
    auto t = std::make_unique<Target>();
    t->config = n;
    t->sender = makeSender(n, options_);
    targets_.push_back(std::move(t));
  }
}

Notifications::~Notifications() { stop(); }

void Notifications::start() {
  if (started_) return;
  started_ = true;
  // Again: at a reload the previous generation marked digests until it stopped, just now.
  marks_.load();
  for (auto& entry : outbox_.load()) {
    if (Target* t = find(entry.target)) {
      enqueue(*t, std::move(entry));
    } else {
      log::warning(
          "undelivered digest for notification '{}', which the config no longer has; "
          "dropped",
          entry.target.size() > 64 ? entry.target.substr(0, 64) : entry.target);
      outbox_.remove(entry.file);
    }
  }
  for (auto& t : targets_) {
    t->thread = std::thread([this, tp = t.get()] { deliver(*tp); });
  }
}

void Notifications::stop() {
  for (auto& t : targets_) {
    {
      model::MutexLock lock(t->mutex);
      t->stop = true;
    }
    t->cv.notify_all();
  }
  for (auto& t : targets_) {
    if (t->thread.joinable()) t->thread.join();
  }
}

Notifications::Target* Notifications::find(const std::string& name) {
  for (auto& t : targets_) {
    if (t->config.name == name) return t.get();
  }
  return nullptr;
}

void Notifications::enqueue(Target& t, OutboxEntry entry) {
  {
    model::MutexLock lock(t.mutex);
    if (t.queue.size() >= kMaxQueued) {
      log::warning("notification {}: {} digests waiting; dropped the oldest", t.config.name,
                   t.queue.size());
      outbox_.remove(t.queue.front().file);
      t.queue.pop_front();
    }
    t.queue.push_back(std::move(entry));
  }
  t.cv.notify_all();
}

void Notifications::deliver(Target& t) {
  auto backoff = options_.backoffMin;
  model::MutexLock lock(t.mutex);
  while (true) {
    while (!t.stop && t.queue.empty()) t.cv.wait(lock.native());
    if (t.stop) return;
    OutboxEntry entry = t.queue.front();
    lock.unlock();
    auto failure = t.sender->send(entry.payload);
    if (!failure && !entry.file.empty()) outbox_.remove(entry.file);
    lock.lock();
    if (!failure) {
      log::info("notification {}: digest delivered", t.config.name);
      // The queue may have dropped its oldest meanwhile; remove this entry wherever it is.
      for (auto it = t.queue.begin(); it != t.queue.end(); ++it) {
        if (it->file == entry.file && it->payload == entry.payload) {
          t.queue.erase(it);
          break;
        }
      }
      backoff = options_.backoffMin;
      continue;
    }
    log::warning("notification {}: delivery failed ({}); retrying in {}", t.config.name, *failure,
                 model::formatDuration(backoff));
    // A loop rather than a predicate: the analysis sees the lock held here, not in a lambda.
    const auto until = std::chrono::steady_clock::now() + backoff;
    while (!t.stop && t.cv.wait_until(lock.native(), until) != std::cv_status::timeout) {
    }
    backoff = std::min(options_.backoffMax, backoff * 2);
  }
}

void Notifications::onDecision(const engine::PassSummary& s, const engine::Decision& d) {
  if (next_) next_->onDecision(s, d);
}
void Notifications::onResult(const engine::PassSummary& s, const engine::Decision& d) {
  if (next_) next_->onResult(s, d);
}
void Notifications::onSkipped(const engine::PassSummary& s, const salesforce::SkippedRecord& r) {
  if (next_) next_->onSkipped(s, r);
}
void Notifications::onPassEnd(const engine::PassSummary& s) {
  if (next_) next_->onPassEnd(s);
}

std::string Notifications::payloadFor(const Target& t, const Digest& d) {
  if (t.config.kind == config::NotificationConfig::Kind::Email) {
    return emailSubject(d) + "\n" + emailBody(d);
  }
  if (t.config.format == config::NotificationConfig::Format::Slack) return renderSlack(d);
  return renderJson(d);
}

void Notifications::onPassDecisions(const engine::PassSummary& s,
                                    const std::vector<engine::Decision>& decisions) {
  if (next_) next_->onPassDecisions(s, decisions);
  auto now =
      std::chrono::time_point_cast<model::Timestamp::duration>(std::chrono::system_clock::now());
  for (const Digest& d : buildDigests(s, decisions, now)) {
    const policy::Policy* p = nullptr;
    for (const auto& dec : decisions) {
      if (dec.policy && dec.policy->name == d.policy) {
        p = dec.policy;
        break;
      }
    }
    if (p == nullptr) continue;
    for (const auto& name : p->notify) {
      Target* t = find(name);
      if (t == nullptr) continue;
      std::string payload = payloadFor(*t, d);
      auto file = outbox_.put(name, payload);
      enqueue(*t, OutboxEntry{file.value_or(""), name, std::move(payload)});
    }
    // Kept in the outbox (or logged why not): a restart need not rebuild it from the trail.
    marks_.mark(d.run, d.org, d.policy);
  }
}

size_t Notifications::recoverFromTrail(const std::vector<std::string>& trailFiles,
                                       const std::vector<const policy::Policy*>& policies) {
  std::map<std::string, const policy::Policy*> notifying;
  for (const auto* p : policies) {
    if (p != nullptr && !p->notify.empty()) notifying[p->name] = p;
  }
  const bool first = !marks_.exists();
  RebuildOptions o;
  o.since = marks_.since();
  o.afterRun = marks_.afterRun();
  o.wanted = [&](const std::string& run, const std::string& org, const std::string& policy) {
    return !first && notifying.count(policy) > 0 && !marks_.queued(run, org, policy);
  };
  auto result = rebuildDigests(trailFiles, o);
  if (!first && result.lastSeq < o.since) {
    // A new trail (the old one moved away): its passes all came after the marks.
    log::notice("notifications: the audit trail restarted below seq {}; rebuilding from its start",
                o.since);
    o.since = 0;
    o.afterRun.clear();
    result = rebuildDigests(trailFiles, o);
  }
  if (!result.error.empty()) {
    log::warning(
        "notifications: {}; digests of passes cut short by a crash are not rebuilt "
        "this start",
        result.error);
    return 0;
  }
  if (!first && result.windowCut) {
    log::warning(
        "notifications: only the last {} MiB of the audit trail were read for digests a crash "
        "kept from being queued; older passes are not rebuilt",
        kRebuildWindowBytes / (1024 * 1024));
  }
  size_t queued = 0;
  for (const Digest& d : result.digests) {
    const policy::Policy* p = notifying.at(d.policy);
    for (const auto& name : p->notify) {
      Target* t = find(name);
      if (t == nullptr) continue;
      if (outbox_.put(name, payloadFor(*t, d))) ++queued;
    }
    log::notice(
        "notifications: rebuilt the digest of policy {} for pass {} (org {}) from the "
        "audit trail: the pass was cut short before it was queued",
        d.policy, d.run, d.org);
  }
  marks_.reset(result.lastSeq);
  return queued;
}

}  // namespace bulkwarden::notify
