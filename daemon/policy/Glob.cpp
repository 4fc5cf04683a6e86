#include "policy/Glob.h"

#include <fmt/format.h>

namespace bulkwarden::policy {
namespace {

// Reads the bracket expression starting at pattern[p] == '['. On success sets `end` to the index
// after the closing ']' and returns whether `c` is in the set; returns false with end == npos when
// the bracket never closes (the '[' is then a literal character).
bool bracket(std::string_view pattern, size_t p, char c, size_t& end) {
  size_t i = p + 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool found = false;
  bool firstItem = true;
  while (i < pattern.size() && (pattern[i] != ']' || firstItem)) {
    firstItem = false;
    char lo = pattern[i];
    if (lo == '\\' && i + 1 < pattern.size()) lo = pattern[++i];
    ++i;
    char hi = lo;
    if (i + 1 < pattern.size() && pattern[i] == '-' && pattern[i + 1] != ']') {
      hi = pattern[i + 1];
      if (hi == '\\' && i + 2 < pattern.size()) {
        hi = pattern[i + 2];
        ++i;
      }
      i += 2;
    }
    auto uc = static_cast<unsigned char>(c);
    if (static_cast<unsigned char>(lo) <= uc && uc <= static_cast<unsigned char>(hi)) found = true;
  }
  if (i >= pattern.size()) {
    end = std::string_view::npos;
    return false;
  }
  end = i + 1;
  return found != negate;
}

}  // namespace

bool globMatch(std::string_view pattern, std::string_view text) {
  // Iterative matching with one backtrack point (the last '*'): linear in practice, never
  // exponential, whatever the pattern.
  size_t p = 0, t = 0;
  size_t starP = std::string_view::npos, starT = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      char pc = pattern[p];
      if (pc == '*') {
        while (p < pattern.size() && pattern[p] == '*') ++p;
        if (p == pattern.size()) return true;
        starP = p;
        starT = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        size_t end;
        bool in = bracket(pattern, p, text[t], end);
        if (end != std::string_view::npos) {
          if (in) {
            p = end;
            ++t;
            continue;
          }
        } else if (text[t] == '[') {
          ++p;
          ++t;
          continue;
        }
      } else {
        if (pc == '\\' && p + 1 < pattern.size()) {
          if (pattern[p + 1] == text[t]) {
            p += 2;
            ++t;
            continue;
          }
        } else if (pc == text[t]) {
          ++p;
          ++t;
          continue;
        }
      }
    }
    if (starP == std::string_view::npos) return false;
    p = starP;
    t = ++starT;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::optional<std::string> globError(std::string_view pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      if (i + 1 == pattern.size()) return std::string("a trailing '\\' escapes nothing");
      ++i;
    } else if (pattern[i] == '[') {
      size_t end;
      bracket(pattern, i, '\0', end);
      if (end == std::string_view::npos) return fmt::format("unclosed '[' at offset {}", i);
      i = end - 1;
    }
  }
  return std::nullopt;
}

}  // namespace bulkwarden::policy
