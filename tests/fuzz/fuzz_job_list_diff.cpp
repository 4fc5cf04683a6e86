// Differential: the streaming list-page mapping (parseJobList, parseJob) against the document-tree
// mapping it replaced (tests/support/JobMappingReference.cpp). For any bytes, both must accept or
// refuse alike, with the same message, and map the same jobs and skip the same records for the
// same reasons. Any difference traps.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "JobMappingReference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bulkwarden;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  // The first byte picks the listing's kind, so that both kinds' jobType checks are exercised.
  auto kind = size > 0 && (data[0] & 1) ? model::ResourceKind::Ingest : model::ResourceKind::Query;
  if (auto d = salesforce::differenceFromReference(body, kind)) {
    std::fprintf(stderr, "fuzz_job_list_diff: %s\n", d->c_str());
    __builtin_trap();
  }
  return 0;
}
