#include "model/BudgetSpec.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <string>

namespace bulkwarden::model {

std::string BudgetSpec::describe() const {
  if (calls > 0) return fmt::format("{} calls a day", calls);
  return fmt::format("{:g}% of the daily allowance", percent);
}

std::variant<BudgetSpec, std::string> parseBudget(std::string_view text) {
  const std::string_view hint =
      "expected calls a day (api-budget: 5000) or a share of the org's "
      "daily allowance (api-budget: 10%)";
  if (text.empty() || text.size() > 32) return std::string(hint);
  BudgetSpec spec;
  if (text.back() == '%') {
    std::string number(text.substr(0, text.size() - 1));
    double p = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), p);
    if (ec != std::errc() || end != number.data() + number.size() || !std::isfinite(p) ||
        number.empty()) {
      return std::string(hint);
    }
    if (p <= 0 || p > 100) return std::string("api-budget must be more than 0% and at most 100%");
    spec.percent = p;
    return spec;
  }
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return std::string(hint);
  if (n < 1) return std::string("api-budget must allow at least 1 call a day");
  spec.calls = n;
  return spec;
}

}  // namespace bulkwarden::model
