// Turns SIGHUP into a reload request and SIGUSR1 into an audit-log reopen request, and (when
// onStop is given) SIGTERM and SIGINT into a stop request, on a thread of its own that waits with
// sigwait. Construct it before any other thread starts: the signals are blocked in the
// constructing thread and so in every thread created after it. Without onStop (the service
// under ServerApplication), SIGTERM, SIGINT and SIGQUIT are blocked too but left to
// ServerApplication::waitForTerminationRequest on the main thread: one waiter per signal, or
// sigwait in two threads would race for it. The callbacks run on the signal thread and must be
// quick (set a flag, notify).
#pragma once

#include <atomic>
#include <csignal>
#include <functional>
#include <thread>

namespace bulkwarden::app {

class SignalWatcher {
 public:
  // onStop may be empty: see above. onReload may be empty: SIGHUP is then logged and ignored.
  // onReopen (SIGUSR1: logrotate moved the audit log) may be empty likewise.
  SignalWatcher(std::function<void()> onStop, std::function<void()> onReload,
                std::function<void()> onReopen = nullptr);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  std::function<void()> onStop_;
  std::function<void()> onReload_;
  std::function<void()> onReopen_;
  std::atomic<bool> done_{false};
  sigset_t set_{};
  std::thread thread_;
};

}  // namespace bulkwarden::app
