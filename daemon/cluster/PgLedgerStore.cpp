#include "cluster/PgLedgerStore.h"

#include <fmt/format.h>

#include <charconv>

namespace bulkwarden::cluster {

namespace {

// The most rows callsSince reads: every slot of every purpose of 64 nodes. More is not a ledger
// any node wrote (the table is outside input): refused rather than read without end.
constexpr int kMaxLedgerRows = static_cast<int>(kLedgerSlots) * 8 * 64;

int64_t slotOf(int64_t minute) { return ((minute % kLedgerSlots) + kLedgerSlots) % kLedgerSlots; }

[[noreturn]] void fail(const std::string& what, const std::string& why) {
  throw state::StateError(fmt::format("the API budget's ledger in PostgreSQL: {}: {}", what, why),
                          state::StateError::Kind::Temporary);
}

int64_t number(const std::string& text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    fail("cannot read", "not a number in bw_api_calls");
  }
  return v;
}

}  // namespace

PgLedgerStore::PgLedgerStore(std::shared_ptr<state::StateStore> local, std::string conninfo,
                             std::string password, std::string node,
                             std::chrono::milliseconds timeout, bool eachCall)
    : local_(std::move(local)),
      node_(std::move(node)),
      eachCall_(eachCall),
      db_(std::move(conninfo), std::move(password), timeout) {}

void PgLedgerStore::addCalls(const std::string& org, int64_t minute, const std::string& purpose,
                             int64_t n) {
  if (n == 0) return;
  PgParams p = {org,   std::to_string(slotOf(minute)), purpose,
                node_, std::to_string(minute),         std::to_string(n)};
  model::MutexLock lock(mutex_);
  try {
    if (n > 0) {
      // A new minute takes over its slot (the old one is out of the window); a minute older than
      // the slot's (this node's clock set back) adds to it: the budget only ever overcounts.
      db_.exec(
          "INSERT INTO bw_api_calls (org, slot, purpose, node, minute, calls) "
          "VALUES ($1, $2::bigint, $3, $4, $5::bigint, $6::bigint) "
          "ON CONFLICT (org, slot, purpose, node) DO UPDATE SET "
          "calls = CASE WHEN bw_api_calls.minute >= EXCLUDED.minute "
          "THEN bw_api_calls.calls + EXCLUDED.calls ELSE EXCLUDED.calls END, "
          "minute = GREATEST(bw_api_calls.minute, EXCLUDED.minute)",
          p);
    } else {
      // Calls written ahead and not made go back to the minute they were written in, only while
      // its row still holds it; never below zero.
      db_.exec(
          "UPDATE bw_api_calls SET calls = GREATEST(calls + $6::bigint, 0) WHERE org = $1 AND "
          "slot = $2::bigint AND purpose = $3 AND node = $4 AND minute = $5::bigint",
          p);
    }
  } catch (const PgError& e) {
    fail("cannot write", e.what());
  }
}

std::vector<state::StateStore::CallBucket> PgLedgerStore::callsSince(const std::string& org,
                                                                     int64_t sinceMinute) {
  std::vector<CallBucket> out = local_->callsSince(org, sinceMinute);
  model::MutexLock lock(mutex_);
  try {
    auto r = db_.exec(
        "SELECT minute, purpose, sum(calls)::bigint FROM bw_api_calls WHERE org = $1 AND "
        "minute >= $2::bigint AND calls > 0 GROUP BY minute, purpose LIMIT " +
            std::to_string(kMaxLedgerRows + 1),
        {org, std::to_string(sinceMinute)});
    if (r.rows() > kMaxLedgerRows) fail("cannot read", "more rows than any ledger holds");
    out.reserve(out.size() + static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(
          CallBucket{number(r.get(i, 0)), r.get(i, 1).substr(0, 64), number(r.get(i, 2))});
    }
  } catch (const PgError& e) {
    fail("cannot read", e.what());
  }
  return out;
}

}  // namespace bulkwarden::cluster
