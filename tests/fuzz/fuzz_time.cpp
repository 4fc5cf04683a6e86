// Timestamps and durations, from Salesforce and from policies: parse, and what parses must
// format and parse back to the same value.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/Time.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bulkwarden::model;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto t = parseTimestamp(text)) {
    if (parseTimestamp(formatSalesforce(*t)) != t) __builtin_trap();
  }
  if (auto d = parseDuration(text)) {
    if (parseDuration(formatDuration(*d)) != d) __builtin_trap();
  }
  return 0;
}
