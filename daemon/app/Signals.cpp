#include "app/Signals.h"

#include <pthread.h>

#include "log/Log.h"

namespace bulkwarden::app {

SignalWatcher::SignalWatcher(std::function<void()> onStop, std::function<void()> onReload,
                             std::function<void()> onReopen)
    : onStop_(std::move(onStop)), onReload_(std::move(onReload)), onReopen_(std::move(onReopen)) {
  sigemptyset(&set_);
  sigaddset(&set_, SIGHUP);
  sigaddset(&set_, SIGUSR1);
  sigaddset(&set_, SIGUSR2);  // used only to wake this thread when it should end
  sigset_t blocked = set_;
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  if (onStop_) {
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
  } else {
    // waitForTerminationRequest also waits for SIGQUIT: no other thread may take it first.
    sigaddset(&blocked, SIGQUIT);
  }
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  thread_ = std::thread([this] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set_, &sig) != 0) continue;
      if (sig == SIGUSR2 && done_.load()) return;
      if (sig == SIGHUP) {
        if (onReload_) {
          log::notice("SIGHUP: reloading the configuration");
          onReload_();
        } else {
          log::notice("SIGHUP ignored: this command does not reload");
        }
        continue;
      }
      if (sig == SIGUSR1) {
        if (onReopen_) {
          log::notice("SIGUSR1: reopening the audit log");
          onReopen_();
        } else {
          log::notice("SIGUSR1 ignored: this command keeps no audit log open");
        }
        continue;
      }
      if (sig == SIGTERM || sig == SIGINT) {
        log::notice("{}: finishing the actions in flight, then stopping",
                    sig == SIGTERM ? "SIGTERM" : "SIGINT");
        onStop_();
        // Keep waiting: a second SIGTERM must not kill the process while actions finish.
      }
    }
  });
}

SignalWatcher::~SignalWatcher() {
  done_.store(true);
  pthread_kill(thread_.native_handle(), SIGUSR2);
  thread_.join();
}

}  // namespace bulkwarden::app
