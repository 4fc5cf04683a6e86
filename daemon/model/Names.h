// One table of (value, name) pairs per enum, read both ways: an enum's name and its parse come
// from the same rows, so that they cannot disagree. Pure, constexpr.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace bulkwarden::model {

template <class E>
struct Named {
  E value;
  std::string_view name;
};

// The name of `value` in `table`; `unknown` for a value without a row (a corrupt enum).
template <class E, std::size_t N>
constexpr std::string_view nameOf(const std::array<Named<E>, N>& table, E value,
                                  std::string_view unknown = "?") {
  for (const auto& row : table) {
    if (row.value == value) return row.name;
  }
  return unknown;
}

// The value named `name` in `table` (exact, case-sensitive); none for any other text.
template <class E, std::size_t N>
constexpr std::optional<E> valueNamed(const std::array<Named<E>, N>& table, std::string_view name) {
  for (const auto& row : table) {
    if (row.name == name) return row.value;
  }
  return std::nullopt;
}

}  // namespace bulkwarden::model
