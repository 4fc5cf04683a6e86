// The daily API budget of one org (config `api-budget`, docs/operations.md "API budget"): a
// ledger of the calls sent in the rolling 24 hours, counted by purpose and kept in the state store
// before each call goes out, so that a restart forgets none; and the rules that keep bulkwarden
// under the budget as it runs low (passes spaced, follow-ups deferred, actions held).
// Thread-safe: one ApiBudget per org, asked by every thread that calls the org.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "model/BudgetSpec.h"
#include "model/Clock.h"
#include "model/Job.h"
#include "model/ThreadSafety.h"
#include "salesforce/CallGate.h"
#include "state/StateStore.h"

namespace bulkwarden::engine {

using model::BudgetSpec;

// The smallest daily allowance an org has (Developer Edition): a percentage budget is taken of
// it until the org's own allowance is first reported, so that it is never too large.
inline constexpr int64_t kSmallestDailyAllowance = 15'000;
// Below this share of the budget left, the budget is "low": passes spaced, follow-ups deferred.
inline constexpr double kLowBudgetShare = 0.25;
inline constexpr std::chrono::minutes kBudgetWindow{24 * 60};
// The most calls written to the ledger in one commit, ahead of being made (ApiBudget::admit).
inline constexpr int64_t kLedgerChunk = 32;

enum class BudgetLevel { Ok, Low, Exhausted };
std::string_view levelName(BudgetLevel level);

class ApiBudget final : public salesforce::CallGate {
 public:
  ApiBudget(std::string org, BudgetSpec spec, const model::Clock& clock);

  // Keeps the ledger in `store` from now on (and reads what it holds of the last 24 hours and the
  // allowance last reported). Throws state::StateError when it cannot read it.
  void attach(state::StateStore& store);

  // Counts the calls the ledger holds beyond this process's own (another command's, or in cluster
  // mode another node's: a node that takes an org over does it before its first call on the org).
  // False when the ledger cannot be read (the count stays as it was).
  bool refresh();

  // CallGate: counts the call (durably when attached) or refuses it when it does not fit. A call
  // of a purpose with calls reserved uses one of them.
  [[nodiscard]] std::optional<salesforce::ApiError> admit(salesforce::CallPurpose purpose) override;
  void allowance(int64_t max) override;

  int64_t limit() const;         // calls allowed in the rolling 24 h, now
  int64_t spent() const;         // calls sent in the rolling 24 h
  int64_t available() const;     // limit - spent - reserved, at least 0
  int64_t allowanceMax() const;  // the org's daily allowance; 0: not known yet
  BudgetLevel level() const;
  const BudgetSpec& spec() const { return spec_; }
  const std::string& org() const { return org_; }

  // Sets aside up to `n` calls of `purpose` (actions, before their intents are written): returns
  // how many fit. Calls not sent go back with release().
  int64_t reserve(salesforce::CallPurpose purpose, int64_t n);
  void release(salesforce::CallPurpose purpose, int64_t n);

  // Calls admitted since this process started, by purpose (metrics, each pass's run-end record).
  salesforce::CallCounts totals() const;

  // Scheduler rules. Why a scheduled pass of `kind` must not start now (nullopt: it may): its
  // listing (the pages of the last one, plus one) does not fit, or the budget is low and the
  // pass comes sooner than the pace that makes what is left last a day.
  [[nodiscard]] std::optional<std::string> passRefusal(model::ResourceKind kind);
  // Why a follow-up reading `reads` jobs must wait for the next scheduled pass.
  [[nodiscard]] std::optional<std::string> followUpRefusal(size_t reads);
  // After a complete listing: its page count (kept in the state store: estimates and `plan`).
  void listed(model::ResourceKind kind, int pages);
  int lastPages(model::ResourceKind kind) const;  // 0: never listed
  // Actions held back because the budget could not afford them.
  void actionsDeferred(int64_t n);

  struct Stats {
    int64_t warnings = 0;  // times the budget became low or exhausted
    int64_t passesDeferred = 0;
    int64_t followUpsDeferred = 0;
    int64_t actionsDeferred = 0;
  };
  Stats stats() const;

 private:
  int64_t nowMinute() const;
  void forgetOld(int64_t minute) const REQUIRES(mutex_);
  // Counts the calls the ledger holds beyond this process's own (another command's).
  bool refreshLocked(int64_t minute) REQUIRES(mutex_);
  int64_t limitLocked() const REQUIRES(mutex_);
  int64_t availableLocked() const REQUIRES(mutex_);
  BudgetLevel levelLocked() const REQUIRES(mutex_);
  void noteLevel() REQUIRES(mutex_);  // logs and counts a change of level, once
  std::optional<salesforce::ApiError> refuse(salesforce::CallPurpose purpose) const
      REQUIRES(mutex_);
  void giveBack(size_t purpose) REQUIRES(mutex_);  // returns the calls written ahead

  const std::string org_;
  const BudgetSpec spec_;
  const model::Clock& clock_;
  mutable model::Mutex mutex_;
  state::StateStore* store_ GUARDED_BY(mutex_) = nullptr;
  mutable std::map<int64_t, int64_t> perMinute_ GUARDED_BY(mutex_);  // calls per minute (window)
  // Calls admitted before attach(), by minute and purpose: written to the store by attach().
  std::map<std::pair<int64_t, salesforce::CallPurpose>, int64_t> unsaved_ GUARDED_BY(mutex_);
  // Per purpose: calls written to the store ahead of being made (a chunk), in which minute.
  std::array<std::pair<int64_t, int64_t>, salesforce::kCallPurposes> ahead_ GUARDED_BY(mutex_){};
  mutable int64_t spent_ GUARDED_BY(mutex_) = 0;  // the sum of perMinute_
  salesforce::CallCounts totals_ GUARDED_BY(mutex_){};
  salesforce::CallCounts reserved_ GUARDED_BY(mutex_){};
  int64_t allowance_ GUARDED_BY(mutex_) = 0;
  std::map<model::ResourceKind, int> pages_ GUARDED_BY(mutex_);
  std::map<model::ResourceKind, model::Timestamp> lastPass_ GUARDED_BY(mutex_);  // spacing
  BudgetLevel level_ GUARDED_BY(mutex_) = BudgetLevel::Ok;  // the level last logged
  Stats stats_ GUARDED_BY(mutex_);
};

// The key of a resource's last page count in the state store's org facts.
std::string pagesFact(model::ResourceKind kind);
inline constexpr std::string_view kAllowanceFact = "allowance";

}  // namespace bulkwarden::engine
