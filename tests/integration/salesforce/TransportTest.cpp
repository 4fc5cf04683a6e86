// HttpTransport against small scripted HTTP servers on 127.0.0.1 port 0: keep-alive reuse, the
// whole-request deadline, the body cap, stale pooled connections, loopback-only plain HTTP.
#include "salesforce/HttpTransport.h"

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace bulkwarden::salesforce {
namespace {

using namespace std::chrono_literals;
using Poco::Net::StreamSocket;
using Clock = std::chrono::steady_clock;

// Accepts connections and runs `handler(socket, connectionIndex)` for each on its own thread.
class RawServer {
 public:
  using Handler = std::function<void(StreamSocket&, int)>;

  explicit RawServer(Handler handler)
      : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)), handler_(std::move(handler)) {
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~RawServer() {
    stop_ = true;
    acceptor_.join();
    {
      std::lock_guard lock(mutex_);
      for (auto& s : sockets_) {
        try {
          s.shutdown();
        } catch (...) {
        }
      }
    }
    for (auto& t : threads_) t.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(socket_.address().port()); }
  int connections() const { return connections_.load(); }

 private:
  void acceptLoop() {
    while (!stop_) {
      if (!socket_.poll(Poco::Timespan(0, 20'000), Poco::Net::Socket::SELECT_READ)) continue;
      StreamSocket s = socket_.acceptConnection();
      s.setReceiveTimeout(Poco::Timespan(5, 0));
      int index = connections_++;
      std::lock_guard lock(mutex_);
      sockets_.push_back(s);
      threads_.emplace_back([this, s, index]() mutable {
        try {
          handler_(s, index);
        } catch (...) {
          // The client went away: expected in several tests.
        }
        try {
          s.close();
        } catch (...) {
        }
      });
    }
  }

  Poco::Net::ServerSocket socket_;
  Handler handler_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mutex_;
  std::vector<StreamSocket> sockets_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// Reads one request (headers, then a Content-Length body). False at end of stream.
bool readRequest(StreamSocket& s, std::string* head = nullptr) {
  std::string data;
  char c;
  while (data.size() < 4 || data.compare(data.size() - 4, 4, "\r\n\r\n") != 0) {
    if (s.receiveBytes(&c, 1) <= 0) return false;
    data.push_back(c);
  }
  auto pos = data.find("Content-Length: ");
  if (pos != std::string::npos) {
    std::size_t length = std::stoul(data.substr(pos + 16));
    std::string body(length, '\0');
    std::size_t got = 0;
    while (got < length) {
      int n = s.receiveBytes(body.data() + got, static_cast<int>(length - got));
      if (n <= 0) return false;
      got += static_cast<std::size_t>(n);
    }
  }
  if (head != nullptr) *head = data;
  return true;
}

void sendAll(StreamSocket& s, const std::string& text) {
  s.sendBytes(text.data(), static_cast<int>(text.size()));
}

const std::string kOk =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSforce-Limit-Info: api-usage=7/100\r\n"
    "Content-Length: 11\r\n\r\n{\"ok\":true}";

HttpRequest get(const std::string& target = "/services/data/v62.0/jobs/query") {
  HttpRequest r;
  r.method = "GET";
  r.target = target;
  r.idempotent = true;
  return r;
}

HttpRequest patch() {
  HttpRequest r;
  r.method = "PATCH";
  r.target = "/services/data/v62.0/jobs/query/750R0000000zlh9IAA";
  r.body = R"({"state":"Aborted"})";
  r.contentType = "application/json";
  return r;
}

TransportOptions fast() {
  TransportOptions o;
  o.connectTimeout = 2s;
  o.readTimeout = 3s;
  o.requestDeadline = 5s;
  o.poolSize = 2;
  return o;
}

TEST(HttpTransport, KeepAliveReusesOneConnection) {
  std::string lastHead;
  std::mutex headMutex;
  RawServer server([&](StreamSocket& s, int) {
    std::string head;
    while (readRequest(s, &head)) {
      {
        std::lock_guard lock(headMutex);
        lastHead = head;
      }
      sendAll(s, kOk);
    }
  });
  HttpTransport transport(server.url(), fast());
  for (int i = 0; i < 5; ++i) {
    HttpRequest r = get();
    r.headers = {{"Accept", "application/json"}};
    auto response = transport.send(r);
    ASSERT_TRUE(response.ok()) << response.error().describe();
    EXPECT_EQ(response.value().status, 200);
    EXPECT_EQ(response.value().body, "{\"ok\":true}");
    EXPECT_EQ(response.value().limitInfo, "api-usage=7/100");
    EXPECT_EQ(response.value().contentType, "application/json");
  }
  auto p = transport.send(patch());
  ASSERT_TRUE(p.ok()) << p.error().describe();
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(transport.connectionsOpened(), 1);
  EXPECT_EQ(transport.requestsSent(), 6);
  std::lock_guard lock(headMutex);
  EXPECT_NE(lastHead.find("PATCH /services/data/v62.0/jobs/query/750R0000000zlh9IAA HTTP/1.1"),
            std::string::npos);
  EXPECT_NE(lastHead.find("Content-Type: application/json"), std::string::npos);
  EXPECT_NE(lastHead.find("Content-Length: 19"), std::string::npos);
}

// Many orgs per daemon: after an org's pass its kept-alive connections are closed, so an idle org
// holds no socket; the next pass opens a fresh one.
TEST(HttpTransport, CloseIdleLeavesNoSocketOpenAndTheNextRequestReconnects) {
  RawServer server([&](StreamSocket& s, int) {
    std::string head;
    while (readRequest(s, &head)) sendAll(s, kOk);
  });
  HttpTransport transport(server.url(), fast());
  ASSERT_TRUE(transport.send(get()).ok());
  EXPECT_EQ(transport.idleConnections(), 1u);
  transport.closeIdle();
  EXPECT_EQ(transport.idleConnections(), 0u);
  auto again = transport.send(get());
  ASSERT_TRUE(again.ok()) << again.error().describe();
  EXPECT_EQ(transport.connectionsOpened(), 2);
  EXPECT_EQ(server.connections(), 2);
}

// One deadline watchdog thread for the process, however many transports (one per org).
TEST(HttpTransport, ManyTransportsShareOneWatchdogThread) {
  auto threads = [] {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task"))
      ++n;
    return n;
  };
  std::vector<std::unique_ptr<HttpTransport>> transports;
  transports.push_back(std::make_unique<HttpTransport>("http://127.0.0.1:9", fast()));
  size_t one = threads();
  for (int i = 0; i < 50; ++i) {
    transports.push_back(std::make_unique<HttpTransport>("http://127.0.0.1:9", fast()));
  }
  EXPECT_EQ(threads(), one) << "a thread per transport";
}

TEST(HttpTransport, ConcurrentRequestsShareABoundedPool) {
  RawServer server([](StreamSocket& s, int) {
    while (readRequest(s)) {
      std::this_thread::sleep_for(20ms);
      sendAll(s, kOk);
    }
  });
  TransportOptions o = fast();
  o.poolSize = 3;
  HttpTransport transport(server.url(), o);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        if (transport.send(get()).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 15);
  EXPECT_LE(server.connections(), 3);
}

TEST(HttpTransport, DeadlineBoundsATrickledBody) {
  RawServer server([](StreamSocket& s, int) {
    if (!readRequest(s)) return;
    sendAll(s, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    for (int i = 0; i < 1000; ++i) {
      std::this_thread::sleep_for(100ms);
      sendAll(s, "x");
    }
  });
  TransportOptions o = fast();
  o.requestDeadline = 1s;
  HttpTransport transport(server.url(), o);
  auto start = Clock::now();
  auto r = transport.send(get());
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Transient);
  EXPECT_TRUE(r.error().sent);
  EXPECT_NE(r.error().message.find("deadline"), std::string::npos) << r.error().message;
  EXPECT_LT(elapsed, 1500ms);
  EXPECT_GE(elapsed, 900ms);
}

TEST(HttpTransport, DeadlineBoundsTrickledHeaders) {
  RawServer server([](StreamSocket& s, int) {
    if (!readRequest(s)) return;
    const std::string head = "HTTP/1.1 200 OK\r\nX-Slow: " + std::string(1000, 'a');
    for (char c : head) {
      std::this_thread::sleep_for(100ms);
      sendAll(s, std::string(1, c));
    }
  });
  TransportOptions o = fast();
  o.requestDeadline = 1s;
  HttpTransport transport(server.url(), o);
  auto start = Clock::now();
  auto r = transport.send(get());
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Transient);
  EXPECT_NE(r.error().message.find("deadline"), std::string::npos) << r.error().message;
  EXPECT_LT(elapsed, 1500ms);
}

TEST(HttpTransport, ReadTimeout) {
  RawServer server([](StreamSocket& s, int) {
    if (!readRequest(s)) return;
    readRequest(s);  // silent until the client gives up and closes
  });
  TransportOptions o = fast();
  o.readTimeout = 300ms;
  HttpTransport transport(server.url(), o);
  auto start = Clock::now();
  auto r = transport.send(get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Transient);
  EXPECT_TRUE(r.error().sent);
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(HttpTransport, ContentLengthOverTheCapIsRefusedBeforeReading) {
  RawServer server([](StreamSocket& s, int) {
    if (!readRequest(s)) return;
    sendAll(s, "HTTP/1.1 200 OK\r\nContent-Length: 9437184\r\n\r\n");
    readRequest(s);  // never sends the body; waits for the client to close
  });
  HttpTransport transport(server.url(), fast());
  auto start = Clock::now();
  auto r = transport.send(get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Malformed);
  EXPECT_NE(r.error().message.find("limit"), std::string::npos);
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(HttpTransport, ChunkedBodyOverTheCapIsCounted) {
  RawServer server([](StreamSocket& s, int) {
    if (!readRequest(s)) return;
    sendAll(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    const std::string chunk = "10000\r\n" + std::string(0x10000, 'y') + "\r\n";
    for (int i = 0; i < 200; ++i) sendAll(s, chunk);  // 12.5 MiB
    sendAll(s, "0\r\n\r\n");
  });
  HttpTransport transport(server.url(), fast());
  auto r = transport.send(get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Malformed);
}

TEST(HttpTransport, ChunkedBodyUnderTheCapIsRead) {
  RawServer server([](StreamSocket& s, int) {
    while (readRequest(s)) {
      sendAll(s,
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n "
              "world\r\n0\r\n\r\n");
    }
  });
  HttpTransport transport(server.url(), fast());
  for (int i = 0; i < 2; ++i) {
    auto r = transport.send(get());
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(r.value().body, "hello world");
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpTransport, PlainHttpOnlyToLoopback) {
  for (const char* url : {"http://example.com", "http://10.0.0.1:8080", "http://192.168.1.1",
                          "http://[2001:db8::1]:80", "http://127.0.0.1.evil.com"}) {
    try {
      HttpTransport t(url, TransportOptions{});
      ADD_FAILURE() << url << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("loopback"), std::string::npos) << e.what();
    }
  }
  for (const char* url :
       {"http://localhost:1", "http://127.0.0.1:1", "http://127.5.6.7:1", "http://[::1]:1"}) {
    EXPECT_NO_THROW(HttpTransport(url, TransportOptions{})) << url;
  }
  for (const char* url : {"", "example.com", "ftp://example.com", "https://", "https://h/x",
                          "https://user:pw@h", "https://h?x=1"}) {
    EXPECT_THROW(HttpTransport(url, TransportOptions{}), std::invalid_argument) << url;
  }
}

TEST(HttpTransport, ConnectionClosedInThePoolIsNotReused) {
  // Answers one request per connection, then closes without saying so.
  RawServer server([](StreamSocket& s, int) {
    if (readRequest(s)) sendAll(s, kOk);
  });
  HttpTransport transport(server.url(), fast());
  for (int i = 0; i < 3; ++i) {
    auto r = transport.send(patch());  // not idempotent: must not need a retry
    ASSERT_TRUE(r.ok()) << i << ": " << r.error().describe();
    std::this_thread::sleep_for(50ms);  // let the FIN arrive
  }
  EXPECT_EQ(server.connections(), 3);
}

// The first connection answers once, then reads the next request and closes without an answer:
// the race where a kept-alive connection dies just as it is reused.
void dropSecondRequest(StreamSocket& s, int index) {
  if (index == 0) {
    if (readRequest(s)) sendAll(s, kOk);
    readRequest(s);
    return;
  }
  while (readRequest(s)) sendAll(s, kOk);
}

TEST(HttpTransport, IdempotentRequestIsRetriedOnceAfterAStaleConnection) {
  RawServer server(dropSecondRequest);
  HttpTransport transport(server.url(), fast());
  ASSERT_TRUE(transport.send(get()).ok());
  auto r = transport.send(get());
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(transport.requestsSent(), 3);
}

TEST(HttpTransport, PatchIsNotRetriedAfterItWasSent) {
  RawServer server(dropSecondRequest);
  HttpTransport transport(server.url(), fast());
  ASSERT_TRUE(transport.send(get()).ok());
  auto r = transport.send(patch());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Transient);
  EXPECT_TRUE(r.error().sent);
  EXPECT_EQ(server.connections(), 1);
  // The broken connection was discarded: the next request opens a new one.
  ASSERT_TRUE(transport.send(get()).ok());
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpTransport, TruncatedBodyFailsAndTheConnectionIsDiscarded) {
  RawServer server([](StreamSocket& s, int index) {
    while (readRequest(s)) {
      if (index == 0) {
        sendAll(s, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        return;
      }
      sendAll(s, kOk);
    }
  });
  HttpTransport transport(server.url(), fast());
  auto r = transport.send(get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Transient);
  EXPECT_NE(r.error().message.find("truncated"), std::string::npos) << r.error().message;
  ASSERT_TRUE(transport.send(get()).ok());
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpTransport, ConnectionRefusedIsNotSent) {
  int port = 0;
  {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = probe.address().port();
  }
  HttpTransport transport("http://127.0.0.1:" + std::to_string(port), fast());
  auto r = transport.send(patch());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ApiError::Kind::Transient);
  EXPECT_FALSE(r.error().sent);
  EXPECT_EQ(r.error().http, 0);
  EXPECT_EQ(transport.requestsSent(), 0);
}

TEST(HttpTransport, ErrorStatusesAreResponses) {
  RawServer server([](StreamSocket& s, int) {
    while (readRequest(s)) {
      sendAll(s,
              "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nRetry-After: 30\r\n"
              "Date: Tue, 01 Jan 2030 00:00:00 GMT\r\n\r\n[]");
    }
  });
  HttpTransport transport(server.url(), fast());
  auto r = transport.send(get());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().status, 404);
  EXPECT_EQ(r.value().retryAfter, "30");
  EXPECT_EQ(r.value().date, "Tue, 01 Jan 2030 00:00:00 GMT");
  EXPECT_EQ(r.value().body, "[]");
}

}  // namespace
}  // namespace bulkwarden::salesforce
