// Audit record lines, as `audit verify`, `audit show` and recovery read them: the trail is a file
// anyone with write access to its folder can edit. Whatever the bytes, the reader returns a record
// or an error; a record's typed accessors never throw or crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "audit/Records.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bulkwarden::audit;
  std::string_view line(reinterpret_cast<const char*>(data), size);
  static RecordParser parser;
  for (bool requireHeader : {true, false}) {
    ParsedLine parsed = parser.parse(line, requireHeader);
    if (!parsed) {
      if (parsed.failure == ParseFailure::None || parsed.error.empty()) __builtin_trap();
      continue;
    }
    const Record& r = *parsed.record;
    if (r.type && parseRecordType(toString(*r.type)) != r.type) __builtin_trap();
    (void)r.org();
    (void)r.intent();
    (void)r.outcome();
    (void)r.attempt();
    if (auto job = r.job()) {
      // The job object is carried into a result as JSON: it must read back.
      auto again = parseRecord(R"({"job":)" + job->json + "}", false);
      if (!again || !again.record->job()) __builtin_trap();
    }
    (void)openIntentOf(r);
  }
  return 0;
}
