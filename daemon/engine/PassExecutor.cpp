#include "engine/PassExecutor.h"

#include <algorithm>
#include <exception>
#include <thread>

#include "log/Log.h"

namespace bulkwarden::engine {

using Steady = std::chrono::steady_clock;

void TimerQueue::schedule(size_t id, SteadyTime due) {
  if (id >= at_.size()) at_.resize(id + 1);
  if (at_[id]) queue_.erase(*at_[id]);
  Key key{due, order_++, id};
  queue_.insert(key);
  at_[id] = key;
}

std::optional<size_t> TimerQueue::popDue(SteadyTime now) {
  if (queue_.empty() || std::get<0>(*queue_.begin()) > now) return std::nullopt;
  size_t id = std::get<2>(*queue_.begin());
  queue_.erase(queue_.begin());
  at_[id].reset();
  return id;
}

std::optional<SteadyTime> TimerQueue::nextDue() const {
  if (queue_.empty()) return std::nullopt;
  return std::get<0>(*queue_.begin());
}

std::optional<SteadyTime> TimerQueue::dueOf(size_t id) const {
  if (!contains(id)) return std::nullopt;
  return std::get<0>(*at_[id]);
}

void TimerQueue::allDueAt(SteadyTime now) {
  // In their present order, so that the earliest due still goes first.
  std::vector<size_t> ids;
  for (const auto& key : queue_) ids.push_back(std::get<2>(key));
  for (size_t id : ids) {
    if (std::get<0>(*at_[id]) > now) schedule(id, now);
  }
}

PassExecutor::PassExecutor(size_t workers, model::StopSignal& stop,
                           std::chrono::milliseconds idleWake)
    : workers_(std::max<size_t>(1, workers)),
      stop_(stop),
      idleWake_(idleWake),
      lastIdleWake_(Steady::now()) {
  // Locked, so that a worker between its stop check and its wait cannot miss the notification.
  subscription_ = stop_.subscribe([this] {
    model::MutexLock lock(mutex_);
    timer_.notify_all();
    followers_.notify_all();
  });
}

PassExecutor::~PassExecutor() { stop_.unsubscribe(subscription_); }

size_t PassExecutor::add(std::string name, Step step, SteadyTime due) {
  model::MutexLock lock(mutex_);
  size_t id = tasks_.size();
  tasks_.push_back(Task{std::move(name), std::move(step), std::nullopt, std::nullopt, 0, false});
  queue_.schedule(id, due);
  ++live_;
  return id;
}

void PassExecutor::run() {
  size_t n = 0;
  {
    model::MutexLock lock(mutex_);
    n = std::min(workers_, tasks_.size());
    threads_ = n;
  }
  if (n == 0) return;
  std::vector<std::thread> pool;
  pool.reserve(n - 1);
  for (size_t i = 1; i < n; ++i) pool.emplace_back([this] { work(); });
  work();
  for (auto& t : pool) t.join();
  model::MutexLock lock(mutex_);
  threads_ = 0;
}

void PassExecutor::wakeAll() {
  model::MutexLock lock(mutex_);
  queue_.allDueAt(Steady::now());
  timer_.notify_one();
}

void PassExecutor::work() {
  model::MutexLock lock(mutex_);
  while (!stop_.requested() && live_ > 0) {
    SteadyTime now = Steady::now();
    if (auto id = queue_.popDue(now)) {
      // tasks_ is not resized once run() has begun: the reference stays valid unlocked.
      Task& task = tasks_[*id];
      task.runningSince = now;
      ++running_;
      lock.unlock();
      std::optional<SteadyTime> next;
      try {
        next = task.step();
      } catch (const std::exception& e) {
        // A step must not take the pool down; the task tries again a minute later.
        log::error("{}: unexpected error, retrying in a minute: {}", task.name, e.what());
        next = Steady::now() + std::chrono::minutes(1);
      }
      lock.lock();
      --running_;
      task.runningSince.reset();
      task.lastStepEnd = Steady::now();
      ++task.steps;
      if (next) {
        queue_.schedule(*id, *next);
      } else {
        task.done = true;
        --live_;
      }
      if (live_ == 0) {
        timer_.notify_all();
        followers_.notify_all();
      } else {
        timer_.notify_one();  // the head of the queue may have moved earlier
      }
      continue;
    }
    if (timerTaken_) {
      followers_.wait(lock.native());
      continue;
    }
    timerTaken_ = true;
    SteadyTime deadline = queue_.nextDue().value_or(SteadyTime::max());
    if (idleWake_.count() > 0) deadline = std::min(deadline, now + idleWake_);
    timer_.wait_until(lock.native(), deadline);
    timerTaken_ = false;
    lastIdleWake_ = Steady::now();
    // This thread may go to work now: another idle one takes over the timer.
    followers_.notify_one();
  }
}

std::vector<PassExecutor::TaskState> PassExecutor::state() const {
  model::MutexLock lock(mutex_);
  std::vector<TaskState> out;
  out.reserve(tasks_.size());
  for (size_t i = 0; i < tasks_.size(); ++i) {
    const Task& t = tasks_[i];
    out.push_back(TaskState{t.name, t.runningSince, queue_.dueOf(i), t.lastStepEnd, t.steps});
  }
  return out;
}

size_t PassExecutor::busy() const {
  model::MutexLock lock(mutex_);
  return running_;
}

size_t PassExecutor::threads() const {
  model::MutexLock lock(mutex_);
  return threads_;
}

SteadyTime PassExecutor::lastIdleWake() const {
  model::MutexLock lock(mutex_);
  return lastIdleWake_;
}

}  // namespace bulkwarden::engine
