// A NOTIFY_SOCKET for tests: an AF_UNIX datagram socket in a temporary folder that records every
// sd_notify message the child sends, with the time it arrived, on a thread of its own.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace bulkwarden::testing {

class NotifySocket {
 public:
  struct Message {
    std::chrono::steady_clock::time_point at;
    std::string text;
    bool has(const std::string& field) const {  // "READY=1", or a prefix such as "STATUS="
      size_t pos = 0;
      while (pos <= text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        if (text.compare(pos, field.size(), field) == 0) return true;
        pos = end + 1;
      }
      return false;
    }
    std::string value(const std::string& key) const {  // "STATUS" -> its value
      size_t pos = text.find(key + "=");
      if (pos == std::string::npos) return "";
      size_t end = text.find('\n', pos);
      return text.substr(pos + key.size() + 1,
                         end == std::string::npos ? std::string::npos : end - pos - key.size() - 1);
    }
  };

  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) throw std::runtime_error("path too long");
    std::strcpy(addr.sun_path, path.c_str());
    ::unlink(path.c_str());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      throw std::runtime_error("bind " + path);
    }
    timeval tv{0, 100'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    thread_ = std::thread([this] {
      char buf[4096];
      while (!done_.load()) {
        ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
        if (n <= 0) continue;
        std::lock_guard lock(mutex_);
        messages_.push_back({std::chrono::steady_clock::now(), std::string(buf, n)});
      }
    });
  }
  ~NotifySocket() {
    done_.store(true);
    thread_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
  }

  std::string env() const { return "NOTIFY_SOCKET=" + path_; }

  std::vector<Message> messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  // Waits until a message after index `from` has `field`; returns its index, or -1 on timeout.
  int waitFor(const std::string& field, size_t from = 0,
              std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mutex_);
        for (size_t i = from; i < messages_.size(); ++i) {
          if (messages_[i].has(field)) return static_cast<int>(i);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> done_{false};
  mutable std::mutex mutex_;
  std::vector<Message> messages_;
  std::thread thread_;
};

}  // namespace bulkwarden::testing
