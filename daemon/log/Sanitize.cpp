#include "log/Sanitize.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <optional>

namespace bulkwarden::log {
namespace {

// Why a hand-written scanner: std::regex (libstdc++) recurses once per character a repetition
// consumes, so a 50 KB run after "Bearer " or a 200 KB PEM body overflowed the stack. Every
// pattern below starts with a literal, each check looks ahead over one run of characters, and
// no position is examined more than a constant number of times.

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
bool isAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
bool isJwtChar(char c) { return isAlnum(c) || c == '_' || c == '-'; }
bool isSessionTokenChar(char c) { return isAlnum(c) || c == '.' || c == '_' || c == '-'; }
bool isPemLabelChar(char c) { return (c >= 'A' && c <= 'Z') || c == ' '; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool startsWith(std::string_view s, size_t i, std::string_view lit) {
  return s.size() - i >= lit.size() && s.compare(i, lit.size(), lit) == 0;
}
// `lit` is lower case.
bool startsWithNoCase(std::string_view s, size_t i, std::string_view lit) {
  if (s.size() - i < lit.size()) return false;
  for (size_t k = 0; k < lit.size(); ++k) {
    if (lower(s[i + k]) != lit[k]) return false;
  }
  return true;
}

template <class Pred>
size_t runEnd(std::string_view s, size_t i, Pred pred) {
  while (i < s.size() && pred(s[i])) ++i;
  return i;
}

// A secret found at some position: s[start, keepEnd) stays (escaped like any text), then
// `replacement` stands for s[keepEnd, end).
struct Match {
  size_t keepEnd;
  size_t end;
  std::string_view replacement;
};

constexpr std::string_view kFormKeys[] = {"assertion", "client_secret", "refresh_token",
                                          "access_token", "password"};
constexpr std::string_view kJsonKeys[] = {"access_token", "refresh_token", "client_secret",
                                          "assertion",    "signature",     "password"};

class Redactor {
 public:
  explicit Redactor(std::string_view s) : s_(s) {}

  // The secret that starts at `i`, if one does.
  std::optional<Match> at(size_t i) {
    switch (s_[i]) {
      case '0':
        return session(i);
      case 'B':
      case 'b':
        return bearer(i);
      case '-':
        return pem(i);
      case '"':
        return json(i);
      case 'e':
        if (auto m = jwt(i)) return m;
        return std::nullopt;
      case 'A':
      case 'a':
        if (auto m = authorization(i)) return m;
        return form(i);
      case 'C':
      case 'c':
      case 'R':
      case 'r':
      case 'P':
      case 'p':
        return form(i);
      default:
        return std::nullopt;
    }
  }

 private:
  // 00D + 12 to 15 id characters + '!' + token text.
  std::optional<Match> session(size_t i) const {
    if (!startsWith(s_, i, "00D")) return std::nullopt;
    size_t j = i + 3;
    const size_t limit = std::min(s_.size(), j + 16);
    size_t k = j;
    while (k < limit && isAlnum(s_[k])) ++k;
    const size_t idLen = k - j;
    if (idLen < 12 || idLen > 15 || k >= s_.size() || s_[k] != '!') return std::nullopt;
    const size_t end = runEnd(s_, k + 1, isSessionTokenChar);
    if (end == k + 1) return std::nullopt;
    return Match{i + 3, end, "***"};
  }

  // "Bearer", whitespace, then the token up to whitespace, a quote or a comma.
  std::optional<Match> bearer(size_t i) const {
    if (!startsWithNoCase(s_, i, "bearer")) return std::nullopt;
    const size_t ws = runEnd(s_, i + 6, isSpace);
    if (ws == i + 6) return std::nullopt;
    const size_t end =
        runEnd(s_, ws, [](char c) { return !isSpace(c) && c != '"' && c != '\'' && c != ','; });
    if (end == ws) return std::nullopt;
    return Match{ws, end, "***"};
  }

  // After "-----BEGIN " or "-----END ": upper-case words ending in "PRIVATE KEY", then "-----".
  // The end of that line, or npos.
  size_t privateKeyLabelEnd(size_t j) const {
    const size_t label = runEnd(s_, j, isPemLabelChar);
    constexpr std::string_view kLabel = "PRIVATE KEY";
    if (label - j < kLabel.size() ||
        s_.compare(label - kLabel.size(), kLabel.size(), kLabel) != 0 ||
        !startsWith(s_, label, "-----")) {
      return std::string_view::npos;
    }
    return label + 5;
  }

  // A PEM private key block to its END line, or to the end of the text when it has none.
  std::optional<Match> pem(size_t i) {
    if (!startsWith(s_, i, "-----BEGIN ")) return std::nullopt;
    const size_t body = privateKeyLabelEnd(i + 11);
    if (body == std::string_view::npos) return std::nullopt;
    size_t from = body;
    while (true) {
      const size_t end = s_.find("-----END ", from);
      if (end == std::string_view::npos) return Match{i, s_.size(), "[PEM redacted]"};
      const size_t after = privateKeyLabelEnd(end + 9);
      if (after != std::string_view::npos) return Match{i, after, "[PEM redacted]"};
      from = end + 9;
    }
  }

  // key=value in a form body or a query string; the value ends at '&', whitespace or a quote.
  std::optional<Match> form(size_t i) const {
    for (std::string_view key : kFormKeys) {
      if (!startsWithNoCase(s_, i, key) || !startsWith(s_, i + key.size(), "=")) continue;
      const size_t v = i + key.size() + 1;
      const size_t end = runEnd(s_, v, [](char c) { return c != '&' && c != '"' && !isSpace(c); });
      if (end == v) return std::nullopt;
      return Match{v, end, "***"};
    }
    return std::nullopt;
  }

  // "key" : "value" in JSON; the value ends at its closing quote (escaped quotes skipped) or at
  // the end of the text.
  std::optional<Match> json(size_t i) const {
    for (std::string_view key : kJsonKeys) {
      if (!startsWithNoCase(s_, i + 1, key) || !startsWith(s_, i + 1 + key.size(), "\"")) {
        continue;
      }
      size_t j = runEnd(s_, i + key.size() + 2, isSpace);
      if (!startsWith(s_, j, ":")) return std::nullopt;
      j = runEnd(s_, j + 1, isSpace);
      if (!startsWith(s_, j, "\"")) return std::nullopt;
      const size_t v = j + 1;
      size_t end = v;
      while (end < s_.size() && s_[end] != '"') end += s_[end] == '\\' ? 2 : 1;
      return Match{v, std::min(end, s_.size()), "***"};
    }
    return std::nullopt;
  }

  // "Authorization:" and its value to the end of the line (the value may start on the next one).
  std::optional<Match> authorization(size_t i) const {
    if (!startsWithNoCase(s_, i, "authorization:")) return std::nullopt;
    const size_t v = runEnd(s_, i + 14, isSpace);
    const size_t end = runEnd(s_, v, [](char c) { return c != '\r' && c != '\n'; });
    if (end == v) return std::nullopt;
    return Match{v, end, "***"};
  }

  // eyJ<header>.eyJ<payload>.<signature>: a signed JWT.
  std::optional<Match> jwt(size_t i) {
    if (i < jwtClear_ || !startsWith(s_, i, "eyJ")) return std::nullopt;
    const size_t header = runEnd(s_, i + 3, isJwtChar);
    // No JWT starts inside this header's run either: it would reach the same '.' and payload.
    jwtClear_ = header;
    if (header == i + 3 || !startsWith(s_, header, ".eyJ")) return std::nullopt;
    const size_t payload = runEnd(s_, header + 4, isJwtChar);
    if (payload == header + 4 || !startsWith(s_, payload, ".")) return std::nullopt;
    const size_t end = runEnd(s_, payload + 1, isJwtChar);
    return Match{i, end, "[JWT redacted]"};
  }

  std::string_view s_;
  size_t jwtClear_ = 0;  // no JWT starts before this position
};

// The length of the well-formed UTF-8 sequence at s[i] (2 to 4) and its code point; 0 if the
// bytes there are not one (overlong forms, surrogates and values above U+10FFFF are not).
size_t utf8Sequence(std::string_view s, size_t i, char32_t& cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    const unsigned char t = b(k);
    if (t < (k == 1 ? lo : 0x80) || t > (k == 1 ? hi : 0xBF)) return 0;
    cp = (cp << 6) | (t & 0x3F);
  }
  return n;
}

bool escapedCodePoint(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

// One character of text as it is shown: itself, or its escape.
struct Piece {
  char buf[8];
  size_t len = 0;
  size_t consumed = 0;
  std::string_view view() const { return {buf, len}; }
};

Piece shown(std::string_view s, size_t i, bool escape) {
  Piece p;
  const auto c = static_cast<unsigned char>(s[i]);
  const auto hex = [&](std::string_view prefix, unsigned value, int digits) {
    auto r = fmt::format_to_n(p.buf, sizeof p.buf, "{}{:0{}x}", prefix, value, digits);
    p.len = static_cast<size_t>(r.size);
  };
  p.consumed = 1;
  if (!escape || (c >= 0x20 && c < 0x7F)) {
    p.buf[0] = static_cast<char>(c);
    p.len = 1;
    return p;
  }
  if (c < 0x80) {
    const char* named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : nullptr;
    if (named != nullptr) {
      p.buf[0] = named[0];
      p.buf[1] = named[1];
      p.len = 2;
    } else {
      hex("\\x", c, 2);
    }
    return p;
  }
  char32_t cp = 0;
  const size_t n = utf8Sequence(s, i, cp);
  if (n == 0) {
    hex("\\x", c, 2);
    return p;
  }
  p.consumed = n;
  if (escapedCodePoint(cp)) {
    hex("\\u", static_cast<unsigned>(cp), 4);
  } else {
    std::copy_n(s.data() + i, n, p.buf);
    p.len = n;
  }
  return p;
}

// Bytes that are shown as they are and start no secret, for each mode: runs of them are copied
// at once.
using ByteTable = std::array<bool, 256>;
constexpr ByteTable plainBytes(bool redact, bool escape) {
  ByteTable t{};
  for (unsigned c = 0; c < 256; ++c) t[c] = !escape || (c >= 0x20 && c < 0x7f);
  if (redact) {
    for (char c : std::string_view("0Bb-\"eAaCcRrPp")) t[static_cast<unsigned char>(c)] = false;
  }
  return t;
}
constexpr ByteTable kPlainRedactEscape = plainBytes(true, true);
constexpr ByteTable kPlainRedact = plainBytes(true, false);
constexpr ByteTable kPlainEscape = plainBytes(false, true);

std::string process(std::string_view in, bool redact, bool escape, size_t maxBytes) {
  const ByteTable& plainByte = redact ? (escape ? kPlainRedactEscape : kPlainRedact) : kPlainEscape;
  const bool capped = maxBytes != std::numeric_limits<size_t>::max();
  const std::string_view s = capped ? in.substr(0, std::max(maxBytes, kMaxScanBytes)) : in;
  std::string out;
  out.reserve(std::min(s.size(), maxBytes) + 16);
  Redactor redactor(s);
  size_t i = 0;
  // Appends `piece` if it fits under the cap; a piece (an escape, a UTF-8 character, a mask) is
  // never cut.
  const auto fits = [&](std::string_view piece) {
    if (piece.size() > maxBytes - out.size()) return false;
    out += piece;
    return true;
  };
  const auto plain = [&](size_t end) {
    while (i < end) {
      const Piece p = shown(s, i, escape);
      if (!fits(p.view())) return false;
      i += p.consumed;
    }
    return true;
  };
  while (i < s.size()) {
    if (plainByte[static_cast<unsigned char>(s[i])]) {
      size_t j = i + 1;
      while (j < s.size() && plainByte[static_cast<unsigned char>(s[j])]) ++j;
      const size_t n = std::min(j - i, maxBytes - out.size());
      out.append(s, i, n);
      i += n;
      if (i < j) break;
      continue;
    }
    std::optional<Match> m = redact ? redactor.at(i) : std::nullopt;
    if (!m) {
      if (!plain(i + 1)) break;  // a multi-byte character moves i past i + 1
      continue;
    }
    if (!plain(m->keepEnd) || !fits(m->replacement)) break;
    i = m->end;
  }
  if (i < in.size()) out += fmt::format("...[truncated {} bytes]", in.size() - i);
  return out;
}

}  // namespace

std::string redactSecrets(std::string_view text) {
  return process(text, true, false, std::numeric_limits<size_t>::max());
}

std::string escapeControl(std::string_view text) {
  return process(text, false, true, std::numeric_limits<size_t>::max());
}

std::string outside(std::string_view text, std::size_t maxBytes) {
  return process(text, true, true, maxBytes);
}

}  // namespace bulkwarden::log
