// Differential: the streaming list-page mapping (parseJobList, parseJob) against the document-tree
// mapping it replaced (tests/support/JobMappingReference.cpp). For any bytes, both must accept or
// refuse alike, with the same message, and map the same jobs and skip the same records for the
// same reasons. Any difference traps.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "JobMappingReference.h"

namespace {

using namespace bulkwarden;

[[noreturn]] void differ(const char* what) {
  std::fprintf(stderr, "fuzz_job_list_diff: %s differs\n", what);
  __builtin_trap();
}

bool sameJob(const model::Job& a, const model::Job& b) {
  for (auto field : model::kAllJobFields) {
    if (model::isTimeField(field) ? a.time(field) != b.time(field)
                                  : a.view(field) != b.view(field)) {
      return false;
    }
  }
  return a.kind == b.kind && a.state == b.state;
}

template <typename T>
void sameError(const salesforce::Result<T>& a, const salesforce::Result<T>& b) {
  if (a.ok() != b.ok()) differ("acceptance");
  // POCO's document builder refuses a scalar at the top level with a message of its own ("empty
  // stack"), before or instead of the parser's; refusing it is what matters.
  bool builderOnly = !b.ok() && b.error().message.find("empty stack") != std::string::npos;
  if (!a.ok() && a.error().kind != b.error().kind) differ("error kind");
  if (!a.ok() && !builderOnly && a.error().message != b.error().message) {
    std::fprintf(stderr, "  streaming: %s\n  reference: %s\n", a.error().message.c_str(),
                 b.error().message.c_str());
    differ("error");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  // The first byte picks the listing's kind, so that both kinds' jobType checks are exercised.
  auto kind = size > 0 && (data[0] & 1) ? model::ResourceKind::Ingest : model::ResourceKind::Query;

  auto page = salesforce::parseJobList(body, kind);
  auto expected = salesforce::referenceParseJobList(body, kind);
  sameError(page, expected);
  if (page.ok()) {
    const auto& a = page.value();
    const auto& b = expected.value();
    if (a.done != b.done || a.nextRecordsUrl != b.nextRecordsUrl) differ("page");
    if (a.page.jobs.size() != b.page.jobs.size()) differ("job count");
    for (size_t i = 0; i < a.page.jobs.size(); ++i) {
      if (!sameJob(a.page.jobs[i], b.page.jobs[i])) differ("job");
    }
    if (a.page.skipped.size() != b.page.skipped.size()) differ("skipped count");
    for (size_t i = 0; i < a.page.skipped.size(); ++i) {
      if (a.page.skipped[i].id != b.page.skipped[i].id ||
          a.page.skipped[i].reason != b.page.skipped[i].reason) {
        std::fprintf(stderr, "  streaming: %s %s\n  reference: %s %s\n",
                     a.page.skipped[i].id.c_str(), a.page.skipped[i].reason.c_str(),
                     b.page.skipped[i].id.c_str(), b.page.skipped[i].reason.c_str());
        differ("skipped record");
      }
    }
  }

  auto job = salesforce::parseJob(body, kind);
  auto expectedJob = salesforce::referenceParseJob(body, kind);
  sameError(job, expectedJob);
  if (job.ok() && !sameJob(job.value(), expectedJob.value())) differ("single job");
  return 0;
}
