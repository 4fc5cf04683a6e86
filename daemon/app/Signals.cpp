#include "app/Signals.h"

#include <pthread.h>

#include "log/Log.h"

namespace bulkwarden::app {

SignalWatcher::SignalWatcher(engine::StopSignal& stop) : stop_(stop) {
  sigemptyset(&set_);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGHUP);
  sigaddset(&set_, SIGUSR2);  // used only to wake this thread when it should end
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  thread_ = std::thread([this] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set_, &sig) != 0) continue;
      if (sig == SIGUSR2 && stop_.requested()) return;
      if (sig == SIGHUP) {
        log::notice("SIGHUP: reloading is not supported yet; restart to apply a new config");
        continue;
      }
      if (sig == SIGTERM || sig == SIGINT) {
        log::notice("{}: finishing the actions in flight, then stopping",
                    sig == SIGTERM ? "SIGTERM" : "SIGINT");
        stop_.request();
        return;
      }
    }
  });
}

SignalWatcher::~SignalWatcher() {
  if (!stop_.requested()) stop_.request();
  pthread_kill(thread_.native_handle(), SIGUSR2);
  thread_.join();
}

}  // namespace bulkwarden::app
