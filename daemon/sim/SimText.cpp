#include "sim/SimText.h"

#include <fmt/format.h>

#include <chrono>
#include <iterator>

namespace bulkwarden::sim {

namespace {
constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kTokenChars =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._";

char pick(std::string_view chars, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::size_t> dist(0, chars.size() - 1);
  return chars[dist(rng)];
}
}  // namespace

void appendTimestamp(std::string& out, int64_t epochMs) {
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{epochMs}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> hms{tp - day};
  fmt::format_to(std::back_inserter(out), "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}+0000",
                 static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                 static_cast<unsigned>(ymd.day()), hms.hours().count(), hms.minutes().count(),
                 hms.seconds().count(), hms.subseconds().count());
}

std::string formatTimestamp(int64_t epochMs) {
  std::string out;
  appendTimestamp(out, epochMs);
  return out;
}

void appendJsonEscaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
}

std::string jsonString(std::string_view text) {
  std::string out = "\"";
  appendJsonEscaped(out, text);
  out += '"';
  return out;
}

std::string idChecksum(std::string_view id15) {
  constexpr std::string_view kSuffixChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
  std::string suffix;
  for (std::size_t chunk = 0; chunk < 3; ++chunk) {
    unsigned flags = 0;
    for (std::size_t i = 0; i < 5; ++i) {
      const std::size_t pos = chunk * 5 + i;
      const char c = pos < id15.size() ? id15[pos] : '0';
      if (c >= 'A' && c <= 'Z') flags |= 1U << i;
    }
    suffix += kSuffixChars[flags];
  }
  return suffix;
}

std::string makeSalesforceId(std::string_view prefix, std::string_view pod, std::mt19937_64& rng) {
  std::string id;
  id.reserve(18);
  id.append(prefix.substr(0, 3));
  id.append(pod.substr(0, 2));
  id.append("0000");
  while (id.size() < 15) id += pick(kBase62, rng);
  id += idChecksum(id);
  return id;
}

std::string makeSessionToken(std::mt19937_64& rng) {
  std::string org = "00D";
  while (org.size() < 15) org += pick(kBase62, rng);
  org += idChecksum(org);
  std::string token = org + "!AQ";
  while (token.size() < org.size() + 1 + 42) token += pick(kTokenChars, rng);
  return token;
}

}  // namespace bulkwarden::sim
