// What Salesforce (or anything pretending to be it) sends: a job-list page, a single job, an error
// body. Nothing may crash, hang or leak; a malformed record is skipped, never trusted.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "salesforce/JobMapping.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bulkwarden;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto page = salesforce::parseJobList(body, model::ResourceKind::Query);
  if (page.ok()) {
    for (const auto& job : page.value().page.jobs) {
      // Every job that came through must satisfy what the engine relies on.
      if (!salesforce::isJobId(job.id)) __builtin_trap();
    }
  }
  (void)salesforce::parseJob(body, model::ResourceKind::Ingest);  // must not crash; result unused
  salesforce::parseReplyState(body);
  salesforce::parseLimitInfo(body);
  int status = size > 0 ? 400 + data[0] % 200 : 500;
  salesforce::classify(status, body);
  return 0;
}
