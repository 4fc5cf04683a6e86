// Sends each policy's per-pass digest to the notifications it names (docs/notifications.md).
// A PassListener: at the end of a pass it builds the digests, keeps each one in the Outbox
// (state directory) and queues it for its target; every target has a delivery thread of its own
// with a bounded queue, so a slow or dead receiver never delays a pass nor another target.
// Failed deliveries are retried with exponential backoff (1 s doubling to 5 min); what is still
// undelivered at a stop or a crash is sent again at the next start; a digest a crash kept from
// being queued at all is rebuilt from the audit trail at the next start (recoverFromTrail). Secrets
// (webhook URLs, SMTP passwords) are resolved at construction and never logged: logs name the
// notification only. Pass events are forwarded to `next`. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/Config.h"
#include "engine/Pass.h"
#include "model/ThreadSafety.h"
#include "notify/Outbox.h"
#include "notify/Rebuild.h"

namespace bulkwarden::notify {

// Queued digests per target beyond which the oldest is dropped (with a warning).
inline constexpr size_t kMaxQueued = 200;

struct NotifyOptions {
  // Every network call: connect, each read or write; a webhook request as a whole takes at most
  // three times this. BULKWARDEN_NOTIFY_TIMEOUT (a duration) overrides the default.
  std::chrono::milliseconds timeout{10'000};
  std::chrono::milliseconds backoffMin{1'000};
  std::chrono::milliseconds backoffMax{5 * 60'000};
};

// Delivers one payload to one target; returns why it failed (never a secret), or nothing.
class Sender {
 public:
  virtual ~Sender() = default;
  virtual std::optional<std::string> send(const std::string& payload) = 0;
};

// The sender for a notification; resolves its secrets. Throws config::ConfigError (naming the
// notification and where its secret comes from, never the value).
std::unique_ptr<Sender> makeSender(const config::NotificationConfig& n, const NotifyOptions& o);

class Notifications : public engine::PassListener {
 public:
  // Throws config::ConfigError when a secret cannot be resolved or a URL is unusable.
  Notifications(const std::vector<config::NotificationConfig>& targets, std::string stateDir,
                engine::PassListener* next, NotifyOptions options = {});
  ~Notifications() override;
  Notifications(const Notifications&) = delete;
  Notifications& operator=(const Notifications&) = delete;

  // At start, before start(): queues (in the outbox) the digests of the passes in the audit
  // trail whose digests were never queued, a crash having cut them short (notify/Rebuild.h),
  // for the policies of `policies` that name notifications; then marks every pass up to the
  // end of the trail settled. Returns how many digests it queued. The first time (no marks in
  // the state directory yet) it only marks the trail's end: nothing older is sent.
  size_t recoverFromTrail(const std::vector<std::string>& trailFiles,
                          const std::vector<const policy::Policy*>& policies);
  // Loads what the outbox still holds and starts the delivery threads.
  void start();
  // Stops the delivery threads (a delivery in progress ends within its timeouts); what is not
  // delivered stays in the outbox.
  void stop();

  void onDecision(const engine::PassSummary& s, const engine::Decision& d) override;
  void onResult(const engine::PassSummary& s, const engine::Decision& d) override;
  void onSkipped(const engine::PassSummary& s, const salesforce::SkippedRecord& r) override;
  void onPassDecisions(const engine::PassSummary& s,
                       const std::vector<engine::Decision>& decisions) override;
  void onPassEnd(const engine::PassSummary& s) override;

 private:
  struct Target {
    config::NotificationConfig config;
    std::unique_ptr<Sender> sender;
    model::Mutex mutex;
    std::condition_variable cv;
    std::deque<OutboxEntry> queue GUARDED_BY(mutex);
    bool stop GUARDED_BY(mutex) = false;
    std::thread thread;
  };
  void enqueue(Target& t, OutboxEntry entry);
  static std::string payloadFor(const Target& t, const Digest& d);
  void deliver(Target& t);
  Target* find(const std::string& name);

  std::vector<std::unique_ptr<Target>> targets_;
  Outbox outbox_;
  DigestMarks marks_;  // which passes' digests were queued (`notify-queued`)
  engine::PassListener* next_;
  NotifyOptions options_;
  bool started_ = false;
};

}  // namespace bulkwarden::notify
