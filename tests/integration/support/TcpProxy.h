// A loopback TCP proxy for tests that cut a process off from a server: it forwards every
// connection to `upstream` until cut(), after which it keeps the sockets open but forwards
// nothing (a network that silently drops everything), and accepts no new data either way.
// Thread-safe: cut() from any thread; one thread per connection, joined by the destructor.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace bulkwarden::testing {

class TcpProxy {
 public:
  explicit TcpProxy(int upstreamPort) : upstream_(upstreamPort) {
    listen_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_, 64) != 0) {
      throw std::runtime_error("proxy: bind");
    }
    socklen_t len = sizeof a;
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~TcpProxy() {
    stopping_ = true;
    ::shutdown(listen_, SHUT_RDWR);
    acceptor_.join();
    ::close(listen_);
    std::lock_guard lock(mutex_);
    for (auto& t : pumps_) t.join();
  }
  int port() const { return port_; }
  void cut() { cut_ = true; }

 private:
  void acceptLoop() {
    while (!stopping_) {
      pollfd p{listen_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int client = ::accept(listen_, nullptr, nullptr);
      if (client < 0) continue;
      if (cut_) {
        // A cut network: the connection is never answered. Kept until the end.
        std::lock_guard lock(mutex_);
        pumps_.emplace_back([this, client] {
          while (!stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(50));
          ::close(client);
        });
        continue;
      }
      int up = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(upstream_));
      if (::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(up);
        ::close(client);
        continue;
      }
      std::lock_guard lock(mutex_);
      pumps_.emplace_back([this, client, up] { pump(client, up); });
    }
  }
  void pump(int a, int b) {
    char buf[16384];
    while (!stopping_) {
      pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (::poll(p, 2, 50) <= 0) continue;
      if (cut_) {  // dropped on the floor: nothing more goes either way
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        ssize_t n = ::read(p[i].fd, buf, sizeof buf);
        if (n <= 0) {
          closed = true;
          break;
        }
        int to = i == 0 ? b : a;
        for (ssize_t off = 0; off < n;) {
          ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
          if (w <= 0) {
            closed = true;
            break;
          }
          off += w;
        }
      }
      if (closed) break;
    }
    // Once cut, hold the sockets open until the end (no FIN/RST tells the peer anything).
    while (cut_ && !stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ::close(a);
    ::close(b);
  }

  int upstream_;
  int listen_ = -1;
  int port_ = 0;
  std::atomic<bool> cut_{false};
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> pumps_;
};

}  // namespace bulkwarden::testing
