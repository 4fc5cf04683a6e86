// Notifications end to end (docs/notifications.md): the real binary against the simulated org,
// sending each policy's per-pass digest to a loopback webhook receiver (json and Slack formats)
// or a loopback SMTP server; kept across kill -9 and sent after the restart; never delaying a
// pass when the receiver hangs; never writing the secret URL anywhere.
#include <Poco/Base64Decoder.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketStream.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <set>
#include <sstream>
#include <thread>

#include "auth/TestPki.h"
#include "support/Fixture.h"
#include "support/HostileServer.h"
#include "support/SecretSweep.h"

namespace bulkwarden::testing {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

class Notify : public EndToEnd {
 protected:
  // Files below the test folder (the test's own inputs aside) that hold `secret`.
  std::vector<std::string> leaks(const std::string& secret) {
    int swept = 0;
    auto isInput = [](const fs::path& p) {
      const std::string name = p.filename().string();
      return name == "token" || name == "bulkwarden.yaml" || name == "policies.yaml" ||
             name == "smtp.pass";
    };
    return findSecrets(dir_, {secret}, isInput, swept);
  }
  size_t outboxFiles() {
    size_t n = 0;
    if (!fs::exists(dir_ / "state")) return 0;
    for (const auto& e : fs::directory_iterator(dir_ / "state")) {
      const std::string name = e.path().filename().string();
      if (name.rfind("notify-", 0) == 0 && name != "notify-queued") ++n;
    }
    return n;
  }
};

std::string reportPolicy(const std::string& notify, const std::string& every = "1h") {
  return "policies:\n"
         "  - name: long-queries\n"
         "    resource: query-jobs\n"
         "    schedule: { every: " +
         every +
         " }\n"
         "    filters:\n"
         "      - state: InProgress\n"
         "    action: report\n"
         "    notify: [" +
         notify + "]\n";
}

HostileReply reply(int status) {
  HostileReply r;
  r.status = status;
  r.body = status == 200 ? "ok" : "down";
  return r;
}

Poco::JSON::Object::Ptr parse(const std::string& body) {
  Poco::JSON::Parser p;
  return p.parse(body).extract<Poco::JSON::Object::Ptr>();
}

TEST_F(Notify, AJsonWebhookGetsOneDigestPerPolicyPerPass) {
  startSim();
  auto ids = addJobs(3, "query", "InProgress", hours(1));
  HostileServer hook([](const HostileRequest&) { return reply(200); });
  std::string extra = "notifications:\n  - name: ops\n    webhook: { url: \"" + hook.url() +
                      "/hooks/bw?x=1\", format: json }\n";
  child_ = start({"run", "--config", writeConfig(reportPolicy("ops"), "", extra)});
  ASSERT_TRUE(waitFor([&] { return hook.count("POST", "/hooks/bw?x=1") >= 1; })) << err();
  auto req = hook.requests().front();
  EXPECT_EQ(req.headers["Content-Type"], "application/json");
  auto d = parse(req.body);
  EXPECT_EQ(d->getValue<std::string>("type"), "bulkwarden.digest");
  EXPECT_EQ(d->getValue<std::string>("policy"), "long-queries");
  EXPECT_EQ(d->getValue<std::string>("org"), "test-org");
  EXPECT_EQ(d->getValue<std::string>("action"), "report");
  EXPECT_EQ(d->getValue<int>("matched"), 3);
  EXPECT_EQ(d->getObject("outcomes")->getValue<int>("recorded"), 3);
  auto jobs = d->getArray("jobs");
  ASSERT_EQ(jobs->size(), 3u);
  std::set<std::string> sent;
  for (size_t i = 0; i < jobs->size(); ++i) {
    sent.insert(jobs->getObject(static_cast<unsigned>(i))->getValue<std::string>("id"));
    EXPECT_EQ(jobs->getObject(static_cast<unsigned>(i))->getValue<std::string>("state"),
              "InProgress");
  }
  EXPECT_EQ(sent, std::set<std::string>(ids.begin(), ids.end()));
  // The run named is a pass of the audit trail.
  std::string run = d->getValue<std::string>("run");
  bool found = false;
  for (const auto& r : audit("run-end")) found = found || r->getValue<std::string>("run") == run;
  EXPECT_TRUE(found) << run;
  ASSERT_TRUE(waitFor([&] { return outboxFiles() == 0; }));  // delivered: forgotten
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(seconds(10)), 0) << err();
  EXPECT_NE(err().find("notification ops: digest delivered"), std::string::npos) << err();
}

// A Slack URL is a secret: from the environment here. The receiver sees {"text": ...}; the URL's
// secret path never shows in stderr, stdout, the audit trail or the state directory.
TEST_F(Notify, ASlackWebhookFromASecretNeverLeaksItsUrl) {
  startSim();
  auto ids = addJobs(2, "query", "InProgress", hours(1));
  HostileServer hook([](const HostileRequest&) { return reply(200); });
  const std::string secretPath = "/services/T0SECRET/B0SECRET/xoxSecretTokenPart";
  std::string extra =
      "notifications:\n  - name: slack-ops\n    webhook: { url: { env: BW_TEST_HOOK }, "
      "format: slack }\n";
  child_ = start({"run", "--config", writeConfig(reportPolicy("slack-ops"), "", extra)},
                 {"BW_TEST_HOOK=" + hook.url() + secretPath});
  ASSERT_TRUE(waitFor([&] { return hook.count("POST", secretPath) >= 1; })) << err();
  auto d = parse(hook.requests().front().body);
  std::string text = d->getValue<std::string>("text");
  EXPECT_NE(text.find("`long-queries`"), std::string::npos) << text;
  EXPECT_NE(text.find("2 reported"), std::string::npos) << text;
  for (const auto& id : ids) EXPECT_NE(text.find(id), std::string::npos) << text;
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(seconds(10)), 0) << err();
  for (const auto& leak : leaks("T0SECRET/B0SECRET")) ADD_FAILURE() << leak;
  EXPECT_NE(err().find("slack-ops"), std::string::npos) << err();
}

// A tiny SMTP server on loopback: EHLO with AUTH PLAIN LOGIN; with a certificate it offers
// STARTTLS and refuses AUTH and MAIL before it. Records the credentials, the message of each
// session and whether it ran inside TLS.
class SmtpReceiver {
 public:
  explicit SmtpReceiver(const TestPki::Server* cert = nullptr)
      : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
    if (cert != nullptr) {
      tls_ = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, cert->keyFile,
                                    cert->certFile, "", Poco::Net::Context::VERIFY_NONE);
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~SmtpReceiver() {
    stop_ = true;
    thread_.join();
  }
  uint16_t port() const { return socket_.address().port(); }
  std::vector<std::string> messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  std::string auth() const {
    std::lock_guard lock(mutex_);
    return auth_;
  }
  bool sawTls() const { return sawTls_; }

 private:
  static std::string decode(const std::string& b64) {
    std::istringstream in(b64);
    Poco::Base64Decoder d(in);
    std::string out((std::istreambuf_iterator<char>(d)), std::istreambuf_iterator<char>());
    return out;
  }
  void serve() {
    while (!stop_) {
      if (!socket_.poll(Poco::Timespan(0, 50'000), Poco::Net::Socket::SELECT_READ)) continue;
      Poco::Net::StreamSocket s = socket_.acceptConnection();
      s.setReceiveTimeout(Poco::Timespan(5, 0));
      try {
        session(s);
      } catch (const Poco::Exception&) {
      }
    }
  }
  void session(Poco::Net::StreamSocket& accepted) {
    Poco::Net::StreamSocket s = accepted;
    auto stream = std::make_unique<Poco::Net::SocketStream>(s);
    bool inTls = false;
    auto say = [&](const std::string& line) { *stream << line << "\r\n" << std::flush; };
    auto read = [&] {
      std::string line;
      std::getline(*stream, line);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    };
    say("220 test ESMTP");
    while (*stream) {
      std::string line = read();
      if (!*stream) return;
      std::string verb = line.substr(0, 4);
      if (verb == "EHLO" || verb == "HELO") {
        say("250-test");
        if (tls_ && !inTls) say("250-STARTTLS");
        say("250-AUTH PLAIN LOGIN");
        say("250 OK");
      } else if (line == "STARTTLS") {
        if (!tls_ || inTls) {
          say("502 no");
          continue;
        }
        say("220 go ahead");
        stream.reset();
        s = Poco::Net::SecureStreamSocket::attach(s, tls_);
        stream = std::make_unique<Poco::Net::SocketStream>(s);
        inTls = true;
        sawTls_ = true;
      } else if (tls_ && !inTls && (verb == "AUTH" || verb == "MAIL")) {
        say("530 STARTTLS first");
      } else if (line.rfind("AUTH PLAIN", 0) == 0) {
        std::string arg = line.size() > 11 ? line.substr(11) : "";
        if (arg.empty()) {
          say("334 ");
          arg = read();
        }
        std::string plain = decode(arg);
        std::replace(plain.begin(), plain.end(), '\0', '|');
        std::lock_guard lock(mutex_);
        auth_ = "PLAIN " + plain;
        say("235 ok");
      } else if (line == "AUTH LOGIN") {
        say("334 VXNlcm5hbWU6");
        std::string user = decode(read());
        say("334 UGFzc3dvcmQ6");
        std::string pass = decode(read());
        std::lock_guard lock(mutex_);
        auth_ = "LOGIN " + user + "|" + pass;
        say("235 ok");
      } else if (line == "DATA") {
        say("354 go ahead");
        std::string msg;
        for (std::string l = read(); *stream && l != "."; l = read()) msg += l + "\n";
        {
          std::lock_guard lock(mutex_);
          messages_.push_back(msg);
        }
        say("250 queued");
      } else if (line == "QUIT") {
        say("221 bye");
        return;
      } else {
        say("250 OK");
      }
    }
  }

  Poco::Net::ServerSocket socket_;
  Poco::Net::Context::Ptr tls_;
  std::atomic<bool> sawTls_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> messages_;
  std::string auth_;
};

TEST_F(Notify, AnEmailDigestGoesOverSmtpWithAuthFromASecretFile) {
  startSim();
  auto ids = addJobs(2, "query", "InProgress", hours(1));
  SmtpReceiver smtp;
  writeFile(dir_ / "smtp.pass", "s3cret-smtp-pass\n");
  std::string extra = "notifications:\n  - name: owners\n    email: { smtp: \"127.0.0.1:" +
                      std::to_string(smtp.port()) +
                      "\", starttls: false, from: bw@acme.test, to: [admins@acme.test, "
                      "two@acme.test], username: bw, password: { file: smtp.pass } }\n";
  child_ = start({"run", "--config", writeConfig(reportPolicy("owners"), "", extra)});
  ASSERT_TRUE(waitFor([&] { return !smtp.messages().empty(); })) << err();
  std::string msg = smtp.messages().front();
  EXPECT_NE(msg.find("Subject: bulkwarden: long-queries on test-org: 2 reported"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("admins@acme.test"), std::string::npos) << msg;
  for (const auto& id : ids) EXPECT_NE(msg.find(id), std::string::npos) << msg;
  EXPECT_EQ(smtp.auth(), "PLAIN |bw|s3cret-smtp-pass");
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(seconds(10)), 0) << err();
  for (const auto& leak : leaks("s3cret-smtp-pass")) ADD_FAILURE() << leak;
}

// STARTTLS against a server whose certificate the test CA signed (`ca-file`): AUTH and the
// message go inside TLS. A server that does not offer STARTTLS gets nothing, not a plain session.
TEST_F(Notify, StarttlsIsRequiredAndVerified) {
  startSim();
  addJobs(1, "query", "InProgress", hours(1));
  // The PKI lives outside the swept folder: its server key is the test's, not a leak.
  char tmpl[] = "/tmp/bw-pki-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::shared_ptr<void> cleanup(nullptr, [&](void*) { fs::remove_all(tmpl); });
  TestPki pki(tmpl);
  auto cert = pki.server("smtp");
  SmtpReceiver tlsSmtp(&cert);
  SmtpReceiver plainSmtp;
  SmtpReceiver untrustedSmtp(&cert);
  writeFile(dir_ / "smtp.pass", "s3cret-smtp-pass\n");
  auto email = [&](const std::string& name, uint16_t port, bool trust = true) {
    return "  - name: " + name + "\n    email: { smtp: \"127.0.0.1:" + std::to_string(port) +
           "\", starttls: true, " + (trust ? "ca-file: " + pki.caFile + ", " : "") +
           "from: bw@acme.test, to: [a@acme.test], "
           "username: bw, password: { file: smtp.pass } }\n";
  };
  std::string extra = "notifications:\n" + email("tls", tlsSmtp.port()) +
                      email("plain", plainSmtp.port()) +
                      email("untrusted", untrustedSmtp.port(), false);
  child_ =
      start({"run", "--config", writeConfig(reportPolicy("tls, plain, untrusted"), "", extra)});
  ASSERT_TRUE(waitFor([&] { return !tlsSmtp.messages().empty(); })) << err();
  EXPECT_TRUE(tlsSmtp.sawTls());
  EXPECT_EQ(tlsSmtp.auth(), "PLAIN |bw|s3cret-smtp-pass");
  ASSERT_TRUE(waitFor([&] {
    return err().find(
               "notification plain: delivery failed (the server does not offer "
               "STARTTLS)") != std::string::npos;
  })) << err();
  EXPECT_TRUE(plainSmtp.messages().empty());
  EXPECT_EQ(plainSmtp.auth(), "");
  // A certificate the system CAs do not vouch for (no ca-file): refused, nothing sent.
  ASSERT_TRUE(waitFor([&] {
    return err().find("notification untrusted: delivery failed") != std::string::npos;
  })) << err();
  EXPECT_TRUE(untrustedSmtp.messages().empty());
  EXPECT_EQ(untrustedSmtp.auth(), "");
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(seconds(10)), 0) << err();
}

// At least once across a crash: the receiver is down (503) during the pass; kill -9; at the
// restart, with the receiver up, the digest of that pass arrives. A clean restart afterwards
// sends it no more.
TEST_F(Notify, ADigestUndeliveredAtAKillIsSentAfterTheRestartAndOnlyThen) {
  startSim();
  addJobs(1, "query", "InProgress", hours(1));
  std::atomic<bool> up{false};
  HostileServer hook([&](const HostileRequest&) { return up ? reply(200) : reply(503); });
  std::string extra = "notifications:\n  - name: ops\n    webhook: { url: \"" + hook.url() +
                      "/hook\", format: json }\n";
  std::string cfg = writeConfig(reportPolicy("ops"), "", extra);
  child_ = start({"run", "--config", cfg});
  ASSERT_TRUE(waitFor([&] { return hook.count("POST", "/hook") >= 1 && outboxFiles() == 1; }))
      << err();
  std::string run = parse(hook.requests().front().body)->getValue<std::string>("run");
  child_->signal(SIGKILL);
  ASSERT_EQ(child_->wait(), 128 + SIGKILL);
  size_t before = hook.requests().size();

  up = true;
  auto deliveredOf = [&](const std::string& r, size_t from) {
    size_t n = 0;
    auto reqs = hook.requests();
    for (size_t i = from; i < reqs.size(); ++i) {
      if (parse(reqs[i].body)->getValue<std::string>("run") == r) ++n;
    }
    return n;
  };
  child_ = start({"run", "--config", cfg});
  ASSERT_TRUE(waitFor([&] { return deliveredOf(run, before) >= 1 && outboxFiles() == 0; }))
      << err();
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(seconds(10)), 0) << err();

  size_t after = hook.requests().size();
  size_t configs = audit("config").size();
  child_ = start({"run", "--config", cfg});
  // Started (its config record written, so the outbox was read): a clean restart sends whatever
  // a pass of its own finds, never that run again.
  ASSERT_TRUE(waitFor([&] { return audit("config").size() > configs; })) << err();
  ASSERT_TRUE(waitFor([&] { return outboxFiles() == 0; })) << err();
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(seconds(10)), 0) << err();
  EXPECT_EQ(deliveredOf(run, after), 0u);
}

// A kill -9 right after the first `result` of a pass (before the pass ended, so before its
// digest was built): the restart rebuilds that pass's digest from the audit trail and sends it,
// naming exactly the jobs of that pass, each with the outcome the trail (and recovery) gives it.
TEST_F(Notify, ADigestCutShortByAKillIsRebuiltFromTheTrail) {
  startSim();
  auto ids = addJobs(6, "query", "InProgress", hours(2));
  HostileServer hook([](const HostileRequest&) { return reply(200); });
  std::string extra = "notifications:\n  - name: ops\n    webhook: { url: \"" + hook.url() +
                      "/hook\", format: json }\n";
  std::string cfg = writeConfig(
      "policies:\n"
      "  - name: abort-stuck\n"
      "    resource: query-jobs\n"
      "    mode: enforce\n"
      "    schedule: { every: 1h }\n"
      "    filters:\n"
      "      - state: InProgress\n"
      "      - older-than: 30m\n"
      "    action: abort\n"
      "    notify: [ops]\n",
      "", extra);
  child_ = start({"run", "--config", cfg}, {"BULKWARDEN_FAILPOINT=after_result_write:1"});
  ASSERT_EQ(child_->wait(), 128 + SIGKILL) << err();
  EXPECT_EQ(hook.count("POST", "/hook"), 0u) << "the pass cannot have ended";
  std::string run;
  for (const auto& r : audit("run-start")) run = r->getValue<std::string>("run");
  ASSERT_FALSE(run.empty());
  ASSERT_TRUE(audit("run-end").empty());
  ASSERT_GE(audit("result").size(), 1u);

  child_ = start({"run", "--config", cfg});
  auto digestOf = [&](const std::string& r) -> Poco::JSON::Object::Ptr {
    for (const auto& req : hook.requests()) {
      auto d = parse(req.body);
      if (d->getValue<std::string>("run") == r) return d;
    }
    return nullptr;
  };
  ASSERT_TRUE(waitFor([&] { return digestOf(run) != nullptr; })) << err();
  auto d = digestOf(run);
  EXPECT_EQ(d->getValue<std::string>("policy"), "abort-stuck");
  EXPECT_EQ(d->getValue<std::string>("org"), "test-org");
  EXPECT_EQ(d->getValue<std::string>("resource"), "query-jobs");
  EXPECT_EQ(d->getValue<std::string>("action"), "abort");
  EXPECT_EQ(d->getValue<int>("matched"), 6);
  auto jobs = d->getArray("jobs");
  ASSERT_EQ(jobs->size(), 6u);
  std::set<std::string> named;
  int settled = 0;
  for (size_t i = 0; i < jobs->size(); ++i) {
    auto j = jobs->getObject(static_cast<unsigned>(i));
    named.insert(j->getValue<std::string>("id"));
    auto outcome = j->getValue<std::string>("outcome");
    // The one result written, what recovery settled, or never sent.
    EXPECT_TRUE(outcome == "applied" || outcome == "confirmed" || outcome == "not-applied" ||
                outcome == "not-started")
        << outcome;
    if (outcome == "applied") ++settled;
  }
  EXPECT_GE(settled, 1);
  EXPECT_EQ(named, std::set<std::string>(ids.begin(), ids.end()));
  // The restarted daemon's own pass sends its own digest (another run); the cut pass's digest
  // is sent once.
  ASSERT_TRUE(waitFor([&] { return outboxFiles() == 0; })) << err();
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(seconds(10)), 0) << err();
  size_t copies = 0;
  for (const auto& req : hook.requests())
    copies += parse(req.body)->getValue<std::string>("run") == run;
  EXPECT_EQ(copies, 1u);
  // A further clean start rebuilds nothing.
  size_t before = hook.requests().size();
  size_t configs = audit("config").size();
  child_ = start({"run", "--config", cfg});
  ASSERT_TRUE(waitFor([&] { return audit("config").size() > configs; })) << err();
  ASSERT_TRUE(waitFor([&] { return outboxFiles() == 0; })) << err();
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(seconds(10)), 0) << err();
  for (size_t i = before; i < hook.requests().size(); ++i) {
    EXPECT_NE(parse(hook.requests()[i].body)->getValue<std::string>("run"), run);
  }
}

// A receiver that never answers holds its delivery thread only: passes go on.
TEST_F(Notify, AHangingReceiverDoesNotDelayPasses) {
  startSim();
  addJobs(1, "query", "InProgress", hours(1));
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  HostileServer hook([&](const HostileRequest&) {
    HostileReply r;
    r.stream = [&](std::ostream&) {
      std::unique_lock lock(m);
      cv.wait_for(lock, seconds(60), [&] { return release; });
    };
    return r;
  });
  std::string extra = "notifications:\n  - name: ops\n    webhook: { url: \"" + hook.url() +
                      "/hook\", format: json }\n";
  child_ = start({"run", "--config", writeConfig(reportPolicy("ops", "1s"), "", extra)},
                 {"BULKWARDEN_NOTIFY_TIMEOUT=60s"});
  ASSERT_TRUE(waitFor([&] { return hook.count("POST", "/hook") >= 1; })) << err();
  size_t passes = audit("run-end").size();
  ASSERT_TRUE(waitFor([&] { return audit("run-end").size() >= passes + 3; })) << err();
  EXPECT_EQ(hook.count("POST", "/hook"), 1u);  // still waiting on the first delivery
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  child_->signal(SIGTERM);
  EXPECT_EQ(child_->wait(seconds(30)), 0) << err();
}

}  // namespace
}  // namespace bulkwarden::testing
