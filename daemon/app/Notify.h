// Talks to the service manager through sd_notify(3): READY, STATUS, RELOADING, STOPPING and the
// watchdog ping. Outside systemd (no NOTIFY_SOCKET) every call does nothing. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <string_view>

namespace bulkwarden::app {

class Notifier {
 public:
  Notifier();

  bool enabled() const { return enabled_; }
  // The WatchdogSec= interval (WATCHDOG_USEC), or zero when the watchdog is off.
  std::chrono::microseconds watchdogInterval() const { return watchdog_; }

  void ready(std::string_view status);
  void status(std::string_view status);
  void reloading();
  void stopping();
  void watchdog();

 private:
  void send(std::string_view message);

  bool enabled_ = false;
  std::chrono::microseconds watchdog_{0};
  // After STOPPING=1 the status stays "stopping": a pass that ends while the daemon stops does
  // not replace it.
  std::atomic<bool> stopping_{false};
};

}  // namespace bulkwarden::app
