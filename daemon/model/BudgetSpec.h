// The value of config key `api-budget` (engine/ApiBudget.h enforces it). Plain data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace bulkwarden::model {

// `api-budget`: a number of calls per rolling 24 hours, or a percentage of the org's daily
// allowance as Sforce-Limit-Info reports it.
struct BudgetSpec {
  int64_t calls = 0;             // > 0: this many calls a day
  double percent = 10.0;         // when calls == 0: this share (0 < p <= 100) of the allowance
  std::string describe() const;  // "5000 calls a day", "10% of the daily allowance"
};
// "5000" or "10%" (at most 100%, at least one call); the error says what is wrong.
std::variant<BudgetSpec, std::string> parseBudget(std::string_view text);

}  // namespace bulkwarden::model
