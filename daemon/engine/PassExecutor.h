// A fixed pool of worker threads that runs the steps of many tasks (one task per org) from a
// timer queue of (due time, task): however many orgs there are, the threads are the same.
// Fairness: the earliest due step runs first (ties in the order they became due); a task is
// either queued once or running on one worker, never both, so a task never overlaps itself and a
// slow or blocked task holds at most one worker while the others keep the rest on time.
// Thread-safe: state() and busy() may be called from any thread while run() runs.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "model/StopSignal.h"
#include "model/ThreadSafety.h"

namespace bulkwarden::engine {

using SteadyTime = std::chrono::steady_clock::time_point;

// The queue alone, with time passed in: which task is due, in which order. Not thread-safe.
class TimerQueue {
 public:
  // Queues task `id` at `due`; a task already queued is moved to `due` (never queued twice).
  void schedule(size_t id, SteadyTime due);
  // Removes and returns the earliest task due at or before `now`; ties go in order of scheduling.
  std::optional<size_t> popDue(SteadyTime now);
  std::optional<SteadyTime> nextDue() const;
  std::optional<SteadyTime> dueOf(size_t id) const;
  bool contains(size_t id) const { return id < at_.size() && at_[id].has_value(); }
  size_t size() const { return queue_.size(); }
  // Every queued task becomes due at `now` (the wall clock stepped: each must look again).
  void allDueAt(SteadyTime now);

 private:
  using Key = std::tuple<SteadyTime, uint64_t, size_t>;  // due, order of scheduling, task
  std::set<Key> queue_;
  std::vector<std::optional<Key>> at_;
  uint64_t order_ = 0;
};

class PassExecutor {
 public:
  // One step of a task: returns when it wants its next step, or nullopt when it is done.
  using Step = std::function<std::optional<SteadyTime>()>;

  // `workers`: threads that run steps (at least 1). `idleWake`: if set, an idle worker wakes at
  // least this often (liveness for the watchdog; see lastIdleWake()).
  PassExecutor(size_t workers, model::StopSignal& stop,
               std::chrono::milliseconds idleWake = std::chrono::milliseconds(0));
  ~PassExecutor();
  PassExecutor(const PassExecutor&) = delete;
  PassExecutor& operator=(const PassExecutor&) = delete;

  // Before run(): adds a task whose first step is due at `due`. Returns its id (0, 1, ...).
  size_t add(std::string name, Step step, SteadyTime due);

  // Runs the tasks on min(workers, tasks) threads (the caller is one of them) until stop is
  // requested or every task is done. A step in progress when stop comes finishes first.
  void run();

  // Asks every queued task to step now (e.g. the wall clock was stepped).
  void wakeAll();

  struct TaskState {
    std::string name;
    std::optional<SteadyTime> runningSince;  // set while a step runs
    std::optional<SteadyTime> due;           // set while queued
    std::optional<SteadyTime> lastStepEnd;
    uint64_t steps = 0;
  };
  std::vector<TaskState> state() const;
  size_t busy() const;
  size_t threads() const;
  SteadyTime lastIdleWake() const;

 private:
  void work();

  struct Task {
    std::string name;
    Step step;
    std::optional<SteadyTime> runningSince;
    std::optional<SteadyTime> lastStepEnd;
    uint64_t steps = 0;
    bool done = false;
  };

  const size_t workers_;
  model::StopSignal& stop_;
  const std::chrono::milliseconds idleWake_;
  mutable model::Mutex mutex_;
  // One idle worker (the timer) waits for the earliest due time; the others wait on followers_
  // until there is work for more than one, so a due time wakes one thread, not the pool.
  std::condition_variable timer_;
  std::condition_variable followers_;
  bool timerTaken_ GUARDED_BY(mutex_) = false;
  std::vector<Task> tasks_ GUARDED_BY(mutex_);
  TimerQueue queue_ GUARDED_BY(mutex_);
  size_t running_ GUARDED_BY(mutex_) = 0;
  size_t live_ GUARDED_BY(mutex_) = 0;  // tasks not done
  size_t threads_ GUARDED_BY(mutex_) = 0;
  SteadyTime lastIdleWake_ GUARDED_BY(mutex_);
  int subscription_ = -1;
};

}  // namespace bulkwarden::engine
