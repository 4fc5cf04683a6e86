// HttpTransport's TLS client against the simulated org served over HTTPS with certificates from
// a test CA (docs/reliability.md S1): a good certificate is accepted; an untrusted CA, a
// wrong host name on 127.0.0.1, an expired or self-signed certificate and a TLS 1.1-only server
// are each refused with the reason named, before any request reaches the org.
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "auth/TestPki.h"
#include "salesforce/HttpTransport.h"
#include "sim/SimServer.h"

namespace bulkwarden::testing {
namespace {

using namespace std::chrono_literals;
using salesforce::HttpRequest;
using salesforce::HttpTransport;
using salesforce::TransportOptions;

class Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-tls-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    pki_ = std::make_unique<TestPki>(dir_);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  sim::SimServer& serve(const TestPki::Server& cert, bool tls11 = false) {
    sim::SimOptions o;
    o.tlsCertificateFile = cert.certFile;
    o.tlsPrivateKeyFile = cert.keyFile;
    o.tlsOnly11 = tls11;
    server_ = std::make_unique<sim::SimServer>(o);
    server_->start();
    return *server_;
  }

  static TransportOptions options(const std::string& caFile) {
    TransportOptions o;
    o.connectTimeout = 2s;
    o.readTimeout = 3s;
    o.requestDeadline = 5s;
    o.caFile = caFile;
    return o;
  }

  static HttpRequest versions() {
    HttpRequest r;
    r.method = "GET";
    r.target = "/services/data/";
    r.idempotent = true;
    return r;
  }

  // Sends one request that must be refused during the handshake with `code`, the message
  // containing `reason`; nothing may reach the org.
  void expectRefused(const std::string& caFile, const std::string& code,
                     const std::string& reason) {
    HttpTransport t(server_->baseUrl(), options(caFile));
    auto r = t.send(versions());
    ASSERT_FALSE(r.ok()) << "status " << r.value().status;
    EXPECT_EQ(r.error().code, code) << r.error().describe();
    EXPECT_NE(r.error().message.find(reason), std::string::npos) << r.error().describe();
    EXPECT_FALSE(r.error().sent);
    EXPECT_EQ(t.requestsSent(), 0);
    EXPECT_EQ(server_->org().counters().requests, 0) << "a request reached the org";
  }

  std::string dir_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<sim::SimServer> server_;
};

TEST_F(Tls, CertificateFromTheConfiguredCaIsAccepted) {
  serve(pki_->server("good"));
  ASSERT_EQ(server_->baseUrl().rfind("https://127.0.0.1:", 0), 0u) << server_->baseUrl();
  HttpTransport t(server_->baseUrl(), options(pki_->caFile));
  for (int i = 0; i < 3; ++i) {
    auto r = t.send(versions());
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(r.value().status, 200);
  }
  EXPECT_EQ(server_->org().counters().requests, 3);
  EXPECT_EQ(t.connectionsOpened(), 1) << "kept-alive TLS connection reused";
}

TEST_F(Tls, UntrustedCaIsRefused) {
  serve(pki_->server("good"));
  // System CAs only: the test CA is unknown.
  expectRefused("", "TLS_UNTRUSTED", "unable to get local issuer certificate");
}

TEST_F(Tls, WrongHostNameOnLoopbackIsRefused) {
  // VERIFY_RELAXED would let this through for 127.0.0.1 (docs/reliability.md).
  serve(pki_->server("wrongname", "DNS:wrong.example.com", -1, 30, false, "wrong.example.com"));
  expectRefused(pki_->caFile, "TLS_HOSTNAME", "does not name the host 127.0.0.1");
}

TEST_F(Tls, ExpiredCertificateIsRefused) {
  serve(pki_->server("expired", "IP:127.0.0.1", -30, -1));
  expectRefused(pki_->caFile, "TLS_EXPIRED", "certificate has expired");
}

TEST_F(Tls, SelfSignedCertificateIsRefused) {
  serve(pki_->server("selfsigned", "IP:127.0.0.1", -1, 30, true));
  expectRefused(pki_->caFile, "TLS_UNTRUSTED", "self-signed certificate");
}

TEST_F(Tls, Tls11OnlyServerIsRefused) {
  serve(pki_->server("old"), true);
  expectRefused(pki_->caFile, "TLS_PROTOCOL", "does not offer TLS 1.2");
}

TEST_F(Tls, UnreadableCaFileIsAConfigurationError) {
  EXPECT_THROW(HttpTransport("https://127.0.0.1:1", options(dir_ + "/missing.pem")),
               std::invalid_argument);
}

// A server that trickles its side of the TLS handshake, one byte every 200 ms, never tripping
// the read timeout: the whole-request deadline must still end the request.
TEST_F(Tls, DeadlineBoundsATrickledHandshake) {
  Poco::Net::ServerSocket listener(Poco::Net::SocketAddress("127.0.0.1", 0));
  std::atomic<bool> stop{false};
  std::thread server([&] {
    if (!listener.poll(Poco::Timespan(5, 0), Poco::Net::Socket::SELECT_READ)) return;
    Poco::Net::StreamSocket s = listener.acceptConnection();
    // A TLS record header for a handshake message, then nothing useful, slowly.
    const char bytes[] = {0x16, 0x03, 0x03, 0x40, 0x00};
    for (int i = 0; !stop && i < 100; ++i) {
      try {
        s.sendBytes(&bytes[std::min(i, 4)], 1);
      } catch (...) {
        return;
      }
      std::this_thread::sleep_for(200ms);
    }
  });
  TransportOptions o = options(pki_->caFile);
  o.readTimeout = 1s;
  o.requestDeadline = 1500ms;
  HttpTransport t("https://127.0.0.1:" + std::to_string(listener.address().port()), o);
  const auto start = std::chrono::steady_clock::now();
  auto r = t.send(versions());
  const auto took = std::chrono::steady_clock::now() - start;
  stop = true;
  server.join();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("deadline"), std::string::npos) << r.error().describe();
  EXPECT_LT(took, 4s);
  EXPECT_EQ(t.requestsSent(), 0);
}

}  // namespace
}  // namespace bulkwarden::testing
