// The HTTP endpoint against clients that trickle their request (one header byte at a time, over
// raw loopback sockets): /healthz still answers at once while a few of them hang on, and each is
// cut at the whole-request deadline even though every single read succeeds in time.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "status/Monitor.h"
#include "status/StatusServer.h"

namespace bulkwarden::status {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

template <class Done>
bool waitFor(Done done, std::chrono::milliseconds timeout = 10s) {
  auto deadline = Steady::now() + timeout;
  while (!done() && Steady::now() < deadline) std::this_thread::sleep_for(5ms);
  return done();
}

// A client that sends a request line, then one header byte every `gap`, never ending the
// headers; it notices when the server closes the connection.
class Trickler {
 public:
  Trickler(uint16_t port, std::chrono::milliseconds gap)
      : socket_(Poco::Net::SocketAddress("127.0.0.1", port)), thread_([this, gap] {
          std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
          // MSG_NOSIGNAL: a send after the server cut the connection fails, never kills the test.
          socket_.sendBytes(head.data(), static_cast<int>(head.size()), MSG_NOSIGNAL);
          while (!stop_.load()) {
            try {
              if (socket_.sendBytes("a", 1, MSG_NOSIGNAL) <= 0) break;
              // A closed connection: the read returns 0 (or fails) at once.
              if (socket_.poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ)) {
                char c;
                if (socket_.receiveBytes(&c, 1) <= 0) break;
              }
            } catch (const Poco::Exception&) {
              break;
            }
            std::this_thread::sleep_for(gap);  // the attack's pace, not a wait for an event
          }
          closed_ = Steady::now();
          done_.store(true);
        }) {}
  ~Trickler() {
    stop_.store(true);
    thread_.join();
  }
  bool dropped() const { return done_.load(); }
  Steady::time_point droppedAt() const { return closed_; }

 private:
  Poco::Net::StreamSocket socket_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  Steady::time_point closed_;
  std::thread thread_;
};

// GET /healthz with a client timeout; the status code, or 0 when no answer came in time.
int healthz(uint16_t port, std::chrono::milliseconds timeout, std::string* body = nullptr) {
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(timeout.count() * 1000));
    Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, "/healthz",
                               Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(req);
    Poco::Net::HTTPResponse resp;
    std::istream& in = session.receiveResponse(resp);
    std::stringstream ss;
    ss << in.rdbuf();
    if (body) *body = ss.str();
    return resp.getStatus();
  } catch (const Poco::Exception&) {
    return 0;
  }
}

TEST(StatusServerSlowClients, FourTricklingClientsDoNotDelayHealthz) {
  Monitor monitor;
  StatusServerOptions options;  // the defaults the daemon runs with...
  options.deadline = 60s;       // ...but a deadline no test run reaches
  StatusServer server("127.0.0.1:0", monitor, options);
  server.start();
  std::vector<std::unique_ptr<Trickler>> slow;
  for (int i = 0; i < 4; ++i) slow.push_back(std::make_unique<Trickler>(server.port(), 100ms));
  ASSERT_TRUE(waitFor([&] { return server.activeConnections() == 4; }))
      << server.activeConnections() << " slow connections being served";
  auto started = Steady::now();
  std::string body;
  // Prompt: a free thread answers at once (the slow ones would hold it for the 60 s deadline).
  EXPECT_EQ(healthz(server.port(), 3s, &body), 200);
  EXPECT_EQ(body, "ok\n");
  EXPECT_LT(Steady::now() - started, 2s);
  for (const auto& t : slow) EXPECT_FALSE(t->dropped()) << "cut before its deadline";
  server.stop();
  // stop() cuts the connections in progress.
  for (const auto& t : slow) EXPECT_TRUE(waitFor([&] { return t->dropped(); }));
}

TEST(StatusServerSlowClients, ATricklingClientIsCutAtTheWholeRequestDeadline) {
  Monitor monitor;
  StatusServerOptions options;
  options.threads = 2;
  options.deadline = 400ms;  // each read (a byte every 50 ms) is far within it
  StatusServer server("127.0.0.1:0", monitor, options);
  server.start();
  auto started = Steady::now();
  std::vector<std::unique_ptr<Trickler>> slow;
  for (int i = 0; i < 2; ++i) slow.push_back(std::make_unique<Trickler>(server.port(), 50ms));
  for (const auto& t : slow) {
    ASSERT_TRUE(waitFor([&] { return t->dropped(); })) << "a trickling client was never cut";
    EXPECT_GE(t->droppedAt() - started, 400ms);
    EXPECT_LT(t->droppedAt() - started, 5s);
  }
  EXPECT_EQ(server.droppedConnections(), 2u);
  // Both threads were taken by the slow ones; once cut, the endpoint answers again.
  EXPECT_EQ(healthz(server.port(), 2s), 200);
}

TEST(StatusServerSlowClients, MoreSlowClientsThanThreadsDelayHealthzByAtMostTheDeadline) {
  Monitor monitor;
  StatusServerOptions options;
  options.threads = 2;
  options.deadline = 500ms;
  StatusServer server("127.0.0.1:0", monitor, options);
  server.start();
  std::vector<std::unique_ptr<Trickler>> slow;
  for (int i = 0; i < 2; ++i) slow.push_back(std::make_unique<Trickler>(server.port(), 50ms));
  ASSERT_TRUE(waitFor([&] { return server.activeConnections() == 2; }));
  // Every thread is busy: the request waits in the queue until a slow one is cut.
  auto started = Steady::now();
  EXPECT_EQ(healthz(server.port(), 5s), 200);
  EXPECT_LT(Steady::now() - started, 500ms + 2s);
}

}  // namespace
}  // namespace bulkwarden::status
