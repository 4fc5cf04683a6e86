// Three-valued truth (Kleene logic) for filters: a filter holds, does not hold, or could not be
// decided (a matcher that gave up). Unknown propagates so that `not` of an undecided filter is
// never mistaken for a match. Plain values; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace bulkwarden::policy {

enum class Truth : uint8_t { False, True, Unknown };

constexpr Truth truthOf(bool b) { return b ? Truth::True : Truth::False; }

constexpr std::string_view toString(Truth t) {
  return t == Truth::True ? "true" : (t == Truth::False ? "false" : "unknown");
}

// not Unknown = Unknown.
constexpr Truth kleeneNot(Truth t) {
  if (t == Truth::Unknown) return Truth::Unknown;
  return t == Truth::True ? Truth::False : Truth::True;
}

// False wins over Unknown: (Unknown and False) = False.
constexpr Truth kleeneAnd(Truth a, Truth b) {
  if (a == Truth::False || b == Truth::False) return Truth::False;
  if (a == Truth::Unknown || b == Truth::Unknown) return Truth::Unknown;
  return Truth::True;
}

// True wins over Unknown: (Unknown or True) = True.
constexpr Truth kleeneOr(Truth a, Truth b) {
  if (a == Truth::True || b == Truth::True) return Truth::True;
  if (a == Truth::Unknown || b == Truth::Unknown) return Truth::Unknown;
  return Truth::False;
}

}  // namespace bulkwarden::policy
