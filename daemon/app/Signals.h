// Turns SIGTERM and SIGINT into a stop request, on a thread of its own that waits with sigwait.
// Construct it before any other thread starts: the signals are blocked in the constructing thread
// and so in every thread created after it. SIGHUP is logged (reload comes with systemd support).
#pragma once

#include <csignal>
#include <thread>

#include "engine/StopSignal.h"

namespace bulkwarden::app {

class SignalWatcher {
 public:
  explicit SignalWatcher(engine::StopSignal& stop);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  engine::StopSignal& stop_;
  sigset_t set_{};
  std::thread thread_;
};

}  // namespace bulkwarden::app
