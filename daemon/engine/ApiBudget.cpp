#include "engine/ApiBudget.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "log/Log.h"
#include "state/SqliteStateStore.h"

namespace bulkwarden::engine {

using salesforce::CallPurpose;

std::string_view levelName(BudgetLevel level) {
  switch (level) {
    case BudgetLevel::Ok:
      return "ok";
    case BudgetLevel::Low:
      return "low";
    case BudgetLevel::Exhausted:
      return "exhausted";
  }
  return "ok";
}

std::string pagesFact(model::ResourceKind kind) {
  return fmt::format("pages:{}", model::resourceName(kind));
}

ApiBudget::ApiBudget(std::string org, BudgetSpec spec, const model::Clock& clock)
    : org_(std::move(org)), spec_(spec), clock_(clock) {}

int64_t ApiBudget::nowMinute() const {
  auto ms = clock_.now().time_since_epoch().count();
  // Floor division: a clock before the epoch still maps to whole minutes.
  return ms >= 0 ? ms / 60'000 : -((-ms + 59'999) / 60'000);
}

void ApiBudget::forgetOld(int64_t minute) const {
  // The window keeps the current minute and the 1,440 before it: a call is forgotten between 24 h
  // and 24 h + 1 min after it was sent, never earlier.
  const int64_t oldest = minute - kBudgetWindow.count();
  for (auto it = perMinute_.begin(); it != perMinute_.end() && it->first < oldest;) {
    spent_ -= it->second;
    it = perMinute_.erase(it);
  }
}

void ApiBudget::attach(state::StateStore& store) {
  const int64_t minute = nowMinute();
  auto stored = store.callsSince(org_, minute - kBudgetWindow.count());
  auto allowance = store.orgFact(org_, std::string(kAllowanceFact));
  std::map<model::ResourceKind, int> pages;
  for (auto kind : {model::ResourceKind::Query, model::ResourceKind::Ingest}) {
    if (auto p = store.orgFact(org_, pagesFact(kind)); p && *p > 0) {
      pages[kind] = static_cast<int>(std::min<int64_t>(*p, 1'000'000));
    }
  }
  model::MutexLock lock(mutex_);
  // Calls counted before the store was attached (none in the daemon, which attaches first) are
  // written now, so the store holds every call this process made.
  for (const auto& [key, n] : unsaved_) {
    if (key.first >= minute - kBudgetWindow.count()) {
      store.addCalls(org_, key.first, std::string(salesforce::purposeName(key.second)), n);
    }
  }
  unsaved_.clear();
  for (const auto& b : stored) {
    // A minute in the future (a clock set back, or a hostile file) counts as now: the budget
    // only ever overcounts, and nothing stays in the window longer than 24 h.
    if (b.calls <= 0) continue;
    perMinute_[std::clamp(b.minute, minute - kBudgetWindow.count(), minute)] += b.calls;
    spent_ += b.calls;
  }
  if (allowance && *allowance > 0) allowance_ = std::max(allowance_, *allowance);
  for (auto& [k, p] : pages) pages_.try_emplace(k, p);
  store_ = &store;
  level_ = levelLocked();
  if (level_ != BudgetLevel::Ok) {
    ++stats_.warnings;
    log::warning("{}: the API budget ({}) is {} at start: {} of {} calls spent in the last 24 h",
                 org_, spec_.describe(), levelName(level_), spent_, limitLocked());
  }
}

bool ApiBudget::refresh() {
  const int64_t minute = nowMinute();
  model::MutexLock lock(mutex_);
  forgetOld(minute);
  const bool ok = refreshLocked(minute);
  noteLevel();
  return ok;
}

bool ApiBudget::refreshLocked(int64_t minute) {
  if (!store_) return true;
  std::vector<state::StateStore::CallBucket> stored;
  try {
    stored = store_->callsSince(org_, minute - kBudgetWindow.count());
  } catch (const state::StateError&) {
    return false;  // this process's own count stands
  }
  std::map<int64_t, int64_t> byMinute;
  for (const auto& b : stored) {
    if (b.calls <= 0) continue;
    byMinute[std::clamp(b.minute, minute - kBudgetWindow.count(), minute)] += b.calls;
  }
  // The ledger holds this process's calls and those of others (`plan`, `validate --connect`):
  // where it has more than this process counted, the difference is theirs. Never less: a store
  // that keeps nothing leaves the count as it is.
  for (const auto& [m, n] : byMinute) {
    auto& mine = perMinute_[m];
    if (n > mine) {
      spent_ += n - mine;
      mine = n;
    }
  }
  return true;
}

int64_t ApiBudget::limitLocked() const {
  // A fixed budget above the org's whole allowance means the allowance: bulkwarden never plans
  // on calls the org does not have (validate and plan warn about it).
  if (spec_.calls > 0) return allowance_ > 0 ? std::min(spec_.calls, allowance_) : spec_.calls;
  const int64_t base = allowance_ > 0 ? allowance_ : kSmallestDailyAllowance;
  auto n = static_cast<int64_t>(std::floor(static_cast<double>(base) * spec_.percent / 100.0));
  return std::max<int64_t>(n, 1);
}

int64_t ApiBudget::availableLocked() const {
  int64_t reserved = 0;
  for (auto r : reserved_) reserved += r;
  return std::max<int64_t>(limitLocked() - spent_ - reserved, 0);
}

BudgetLevel ApiBudget::levelLocked() const {
  const int64_t a = availableLocked();
  if (a <= 0) return BudgetLevel::Exhausted;
  if (static_cast<double>(a) < kLowBudgetShare * static_cast<double>(limitLocked())) {
    return BudgetLevel::Low;
  }
  return BudgetLevel::Ok;
}

void ApiBudget::noteLevel() {
  BudgetLevel now = levelLocked();
  if (now == level_) return;
  // Once per change, not per call: the log says when the budget began to bind and when it
  // stopped binding.
  if (static_cast<int>(now) > static_cast<int>(level_)) {
    ++stats_.warnings;
    log::warning(
        "{}: the API budget ({}, {} calls in the rolling 24 h) is {}: {} spent, {} left; {}", org_,
        spec_.describe(), limitLocked(), levelName(now), spent_, availableLocked(),
        now == BudgetLevel::Low
            ? "scheduled passes are spaced out and follow-ups wait for the next pass"
            : "no call is made until calls of the last 24 h age out");
  } else {
    log::info("{}: the API budget is {} again: {} of {} calls left", org_, levelName(now),
              availableLocked(), limitLocked());
  }
  level_ = now;
}

std::optional<salesforce::ApiError> ApiBudget::refuse(CallPurpose purpose) const {
  return salesforce::ApiError{
      salesforce::ApiError::Kind::Transient, 0, std::string(salesforce::kBudgetErrorCode),
      fmt::format("not sent: a {} call does not fit the API budget ({}; {} of {} spent in the "
                  "rolling 24 h)",
                  salesforce::purposeName(purpose), spec_.describe(), spent_, limitLocked()),
      false};
}

std::optional<salesforce::ApiError> ApiBudget::admit(CallPurpose purpose) {
  const int64_t minute = nowMinute();
  model::MutexLock lock(mutex_);
  forgetOld(minute);
  auto i = static_cast<size_t>(purpose);
  auto& ahead = ahead_[i];
  // A new minute: the calls written ahead in the old one and not made go back, so that only the
  // current minute's (fewer than a chunk per purpose) could be overcounted after a crash.
  if (ahead.first != minute) giveBack(i);
  bool reserved = reserved_[i] > 0;
  const bool prepaid = store_ && ahead.second > 0 && ahead.first == minute;
  if (!reserved && !prepaid && availableLocked() < 1) {
    noteLevel();
    return refuse(purpose);
  }
  if (reserved) --reserved_[i];
  if (prepaid) {
    // Written ahead and counted as spent when it was: this call uses one of them.
    --ahead.second;
    ++totals_[i];
    noteLevel();
    return std::nullopt;
  }
  // Written in chunks of up to a hundredth of the budget (at most kLedgerChunk): one commit per
  // call would write a WAL page per call. The chunk counts as spent at once (a crash can only
  // overcount), and never takes the ledger past the limit.
  // `plan` and `validate --connect` (a LedgerStateStore, or the shared ledger in cluster mode)
  // write each call: they end within a minute, and no later minute would give the unused part of
  // a chunk back.
  const bool perCall = store_ && store_->writesEachCall();
  const int64_t chunk =
      store_ && !perCall
          ? std::clamp<int64_t>(std::min(availableLocked(), limitLocked() / 100), 1, kLedgerChunk)
          : 1;
  if (store_) {
    try {
      store_->addCalls(org_, minute, std::string(salesforce::purposeName(purpose)), chunk);
    } catch (const state::StateError& e) {
      if (reserved) ++reserved_[i];
      // Not in the ledger, not sent: a restart must never find fewer calls than were made.
      return salesforce::ApiError{salesforce::ApiError::Kind::Transient, 0,
                                  std::string(salesforce::kBudgetErrorCode),
                                  fmt::format("not sent: the API budget's ledger could not be "
                                              "written: {}",
                                              e.what()),
                                  false};
    }
  }
  if (!store_) ++unsaved_[{minute, purpose}];
  ahead = {minute, chunk - 1};
  perMinute_[minute] += chunk;
  spent_ += chunk;
  ++totals_[i];
  noteLevel();
  return std::nullopt;
}

void ApiBudget::giveBack(size_t i) {
  auto& ahead = ahead_[i];
  if (!store_ || ahead.second <= 0) return;
  try {
    store_->addCalls(org_, ahead.first,
                     std::string(salesforce::purposeName(static_cast<CallPurpose>(i))),
                     -ahead.second);
    if (auto it = perMinute_.find(ahead.first); it != perMinute_.end()) {
      it->second -= ahead.second;
      spent_ -= ahead.second;
    }
    ahead.second = 0;
  } catch (const state::StateError&) {
    // Left counted: the budget only overcounts. Tried again later.
  }
}

void ApiBudget::allowance(int64_t max) {
  if (max <= 0) return;
  model::MutexLock lock(mutex_);
  if (max == allowance_) return;
  allowance_ = max;
  // The limit changed (a percentage of the allowance): chunks written ahead under the old one
  // go back, so that a smaller limit is not eaten by calls never made.
  for (size_t i = 0; i < ahead_.size(); ++i) giveBack(i);
  if (store_) {
    try {
      store_->setOrgFact(org_, std::string(kAllowanceFact), max);
    } catch (const state::StateError& e) {
      log::warning("{}: cannot keep the daily allowance in the state store: {}", org_, e.what());
    }
  }
}

int64_t ApiBudget::limit() const {
  model::MutexLock lock(mutex_);
  return limitLocked();
}

int64_t ApiBudget::spent() const {
  const int64_t minute = nowMinute();
  model::MutexLock lock(mutex_);
  forgetOld(minute);
  return spent_;
}

int64_t ApiBudget::available() const {
  const int64_t minute = nowMinute();
  model::MutexLock lock(mutex_);
  forgetOld(minute);
  return availableLocked();
}

int64_t ApiBudget::allowanceMax() const {
  model::MutexLock lock(mutex_);
  return allowance_;
}

BudgetLevel ApiBudget::level() const {
  const int64_t minute = nowMinute();
  model::MutexLock lock(mutex_);
  forgetOld(minute);
  return levelLocked();
}

int64_t ApiBudget::reserve(CallPurpose purpose, int64_t n) {
  const int64_t minute = nowMinute();
  model::MutexLock lock(mutex_);
  forgetOld(minute);
  int64_t granted = std::clamp<int64_t>(availableLocked(), 0, std::max<int64_t>(n, 0));
  reserved_[static_cast<size_t>(purpose)] += granted;
  noteLevel();
  return granted;
}

void ApiBudget::release(CallPurpose purpose, int64_t n) {
  model::MutexLock lock(mutex_);
  auto& r = reserved_[static_cast<size_t>(purpose)];
  r -= std::clamp<int64_t>(n, 0, r);
  noteLevel();
}

salesforce::CallCounts ApiBudget::totals() const {
  model::MutexLock lock(mutex_);
  return totals_;
}

std::optional<std::string> ApiBudget::passRefusal(model::ResourceKind kind) {
  const model::Timestamp now = clock_.now();
  const int64_t minute = nowMinute();
  model::MutexLock lock(mutex_);
  forgetOld(minute);
  refreshLocked(minute);  // calls other commands added to the ledger meanwhile
  noteLevel();
  // The listing costs what the last one did (one call a page), and one more for a renewed token
  // or a retried page; a listing that grew since is stopped by admit() and acts on nothing.
  auto it = pages_.find(kind);
  const int64_t cost = (it == pages_.end() ? 1 : std::max(it->second, 1)) + 1;
  const int64_t left = availableLocked();
  const int64_t lim = limitLocked();
  if (left < cost) {
    ++stats_.passesDeferred;
    return fmt::format(
        "the API budget ({}) cannot afford the listing: it needs about {} calls and {} of {} "
        "are left in the rolling 24 h",
        spec_.describe(), cost, left, lim);
  }
  if (levelLocked() == BudgetLevel::Low) {
    // Spaced so that what is left would last a day at this pace; calls aging out of the window
    // only make it last longer.
    auto gap = std::chrono::duration_cast<model::Duration>(kBudgetWindow) * cost / left;
    auto last = lastPass_.find(kind);
    if (last != lastPass_.end() && now < last->second + gap) {
      ++stats_.passesDeferred;
      return fmt::format(
          "the API budget ({}) is low, {} of {} calls left: passes of this resource are spaced "
          "to one every {}; the next may start at {}",
          spec_.describe(), left, lim, model::formatDuration(gap),
          model::formatRfc3339(last->second + gap));
    }
  }
  lastPass_[kind] = now;
  return std::nullopt;
}

std::optional<std::string> ApiBudget::followUpRefusal(size_t reads) {
  const int64_t minute = nowMinute();
  model::MutexLock lock(mutex_);
  forgetOld(minute);
  noteLevel();
  const int64_t left = availableLocked();
  if (levelLocked() == BudgetLevel::Ok && left >= static_cast<int64_t>(reads) + 1) {
    return std::nullopt;
  }
  ++stats_.followUpsDeferred;
  return fmt::format("the API budget ({}) is {}: {} of {} calls left, {} reads needed",
                     spec_.describe(), levelName(levelLocked()), left, limitLocked(), reads);
}

void ApiBudget::listed(model::ResourceKind kind, int pages) {
  model::MutexLock lock(mutex_);
  auto [it, fresh] = pages_.try_emplace(kind, pages);
  if (!fresh && it->second == pages) return;
  it->second = pages;
  if (store_) {
    try {
      store_->setOrgFact(org_, pagesFact(kind), pages);
    } catch (const state::StateError& e) {
      log::warning("{}: cannot keep the listing's page count in the state store: {}", org_,
                   e.what());
    }
  }
}

int ApiBudget::lastPages(model::ResourceKind kind) const {
  model::MutexLock lock(mutex_);
  auto it = pages_.find(kind);
  return it == pages_.end() ? 0 : it->second;
}

void ApiBudget::actionsDeferred(int64_t n) {
  model::MutexLock lock(mutex_);
  stats_.actionsDeferred += n;
}

ApiBudget::Stats ApiBudget::stats() const {
  model::MutexLock lock(mutex_);
  return stats_;
}

}  // namespace bulkwarden::engine
