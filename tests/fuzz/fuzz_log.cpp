// The log sanitiser and redactor (log/Sanitize.h) over any bytes, as a server or a policy may
// send them. Invariants: nothing crashes or takes long; the output holds no control character,
// no invalid UTF-8 and no C1/line-separator/bidi control; it stays under its cap plus the marker,
// and what it shows of a capped text is a prefix of the uncapped output; uncapped, outside() is
// escapeControl() of redactSecrets() and escaping is idempotent; and secrets planted between the
// fuzzer's bytes in each shape the redactor knows never come out.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "log/Sanitize.h"

namespace {

using namespace bulkwarden::log;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// No control character, well-formed UTF-8, none of the code points escapeControl() escapes.
void checkSafe(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      check(c >= 0x20 && c != 0x7f);
      ++i;
      continue;
    }
    const size_t n = c >= 0xF5 ? 0 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    check(n != 0 && i + n <= s.size());
    char32_t cp = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (size_t k = 1; k < n; ++k) {
      const auto t = static_cast<unsigned char>(s[i + k]);
      check((t & 0xC0) == 0x80);
      cp = (cp << 6) | (t & 0x3F);
    }
    check(!(n == 3 && cp < 0x800) && !(n == 4 && (cp < 0x10000 || cp > 0x10FFFF)));
    check(!(cp >= 0xD800 && cp <= 0xDFFF));
    check(!(cp >= 0x80 && cp <= 0x9F) && cp != 0x2028 && cp != 0x2029 &&
          !(cp >= 0x202A && cp <= 0x202E) && !(cp >= 0x2066 && cp <= 0x2069));
    i += n;
  }
}

// `capped` is outside(in, cap); `full` the uncapped output.
void checkCapped(std::string_view in, std::string_view capped, std::string_view full, size_t cap) {
  checkSafe(capped);
  check(capped.size() <= cap + kMaxMarkerBytes);
  if (capped == full && full.size() <= cap) return;
  // Cut (or, by chance, the uncapped text itself ends in what looks like the marker).
  constexpr std::string_view kMarker = "...[truncated ";
  const size_t at = capped.rfind(kMarker);
  check(at != std::string_view::npos && at <= cap);
  check(full.substr(0, at) == capped.substr(0, at));
  std::string_view tail = capped.substr(at + kMarker.size());
  size_t digits = 0, n = 0;
  while (digits < tail.size() && tail[digits] >= '0' && tail[digits] <= '9') {
    n = n * 10 + static_cast<size_t>(tail[digits] - '0');
    ++digits;
  }
  check(digits > 0 && tail.substr(digits) == " bytes]");
  check(n >= 1 && n <= in.size());
}

// Each shape the redactor masks, with a value that must not come out. They go after ",\n": a
// comma and a newline end every value a match starting in the fuzzer's bytes could take, so the
// planted prefix is never swallowed by the bytes before it.
constexpr std::string_view kPlanted[] = {
    "Bearer SECRETbearer0",
    "00D000000000001AAA!SECRETsession1",
    "-----BEGIN RSA PRIVATE KEY-----\nSECRETpem2\n-----END RSA PRIVATE KEY-----",
    "assertion=SECRETform3",
    "\"refresh_token\": \"SECRETjson4\"",
    "Authorization: SECRETauth5",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.SECRETjwt6",
    "PASSWORD=SECRETpw7",
};

void checkAll(std::string_view in, size_t cap) {
  const std::string redacted = redactSecrets(in);
  check(redacted.size() <= 3 * in.size());
  const std::string escaped = escapeControl(in);
  checkSafe(escaped);
  check(escapeControl(escaped) == escaped);
  // Escapes take at most 6 bytes for 3 (\u2028) or 4 for 1 (\xff), masks at most 3 for 1.
  const size_t roomy = 12 * in.size() + 64;
  const std::string full = outside(in, roomy);
  check(full == escapeControl(redacted));
  checkSafe(full);
  checkCapped(in, outside(in, cap), full, cap);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // First byte: the cap (0 to 1020, or the log line's); second: which secrets to plant.
  const size_t cap = data[0] == 0xff ? kMaxLineBytes : static_cast<size_t>(data[0]) * 4;
  const unsigned plant = data[1];
  const std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
  checkAll(rest, cap);

  if (rest.find("SECRET") != std::string_view::npos) return 0;  // the fuzzer wrote one itself
  std::string text;
  const size_t chunk = rest.size() / 8 + 1;
  for (size_t k = 0; k < 8; ++k) {
    if (k * chunk < rest.size()) text += rest.substr(k * chunk, chunk);
    if ((plant & (1u << k)) != 0) {
      text += ",\n";
      text += kPlanted[k];
    }
  }
  checkAll(text, cap);
  for (const std::string& out :
       {redactSecrets(text), outside(text, 12 * text.size() + 64), outside(text, cap)}) {
    check(out.find("SECRET") == std::string::npos);
  }
  return 0;
}
