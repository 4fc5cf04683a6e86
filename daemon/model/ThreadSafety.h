// Clang's thread-safety analysis (-Wthread-safety): the attribute macros, and an annotated Mutex
// with its scoped lock, so that the state a lock guards is declared GUARDED_BY it and clang
// checks every access at compile time (scripts/thread-safety.sh). Under GCC the macros expand
// to nothing and Mutex is a std::mutex. Mutex is thread-safe as std::mutex is; a MutexLock
// belongs to the thread that made it.
#pragma once

#include <mutex>

#if defined(__clang__)
#define BW_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define BW_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) BW_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY BW_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) BW_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) BW_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) BW_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) BW_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) BW_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) BW_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) BW_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) BW_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) BW_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) BW_THREAD_ANNOTATION(assert_capability(x))
#define RETURN_CAPABILITY(x) BW_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS BW_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace bulkwarden::model {

// A std::mutex the analysis knows as a capability.
class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { m_.lock(); }
  void unlock() RELEASE() { m_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return m_.try_lock(); }
  // The mutex itself, for a std::condition_variable through MutexLock::native().
  std::mutex& native() { return m_; }

 private:
  std::mutex m_;
};

// Holds a Mutex for its scope (a std::unique_lock inside). Waiting on a std::condition_variable
// with native() releases and retakes the mutex inside the wait; the analysis treats it as held
// throughout, which is what the code after the wait may assume. unlock()/lock() for a stretch
// that must run without it (I/O, a callback).
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& m) ACQUIRE(m) : lock_(m.native()) {}
  ~MutexLock() RELEASE() {}
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void unlock() RELEASE() { lock_.unlock(); }
  void lock() ACQUIRE() { lock_.lock(); }
  std::unique_lock<std::mutex>& native() { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace bulkwarden::model
