#include "app/Notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdlib>
#include <string>

#include "log/Log.h"

namespace bulkwarden::app {

Notifier::Notifier() {
  enabled_ = std::getenv("NOTIFY_SOCKET") != nullptr;
  uint64_t usec = 0;
  // 0 keeps WATCHDOG_USEC/WATCHDOG_PID in the environment: the pid check then also covers
  // children we never start, and the values stay readable for diagnostics.
  if (sd_watchdog_enabled(0, &usec) > 0) watchdog_ = std::chrono::microseconds(usec);
}

void Notifier::send(std::string_view message) {
  if (!enabled_) return;
  std::string m(message);
  int rc = sd_notify(0, m.c_str());
  if (rc < 0) log::warning("sd_notify failed: {}", -rc);
}

namespace {
// STATUS= is one line: a newline would end the field early and start a field of the server's
// choosing (READY=1, MAINPID=...). The status quotes the org's errors, so it is escaped, masked
// and capped like a log line.
constexpr size_t kMaxStatusBytes = 1024;
std::string oneLine(std::string_view text) { return log::outside(text, kMaxStatusBytes); }
}  // namespace

void Notifier::ready(std::string_view status) { send("READY=1\nSTATUS=" + oneLine(status)); }

void Notifier::status(std::string_view status) {
  if (stopping_.load()) return;
  send("STATUS=" + oneLine(status));
}

void Notifier::reloading() {
  // MONOTONIC_USEC lets newer systemd (Type=notify-reload) match the reload to this message.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t usec =
      static_cast<uint64_t>(ts.tv_sec) * 1'000'000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
  send("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=" + std::to_string(usec));
}

void Notifier::stopping() {
  stopping_.store(true);
  send("STOPPING=1\nSTATUS=stopping: finishing the actions in flight");
}

void Notifier::watchdog() { send("WATCHDOG=1"); }

}  // namespace bulkwarden::app
