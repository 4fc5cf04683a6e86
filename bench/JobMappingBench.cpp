// The JSON list-page mapping: parseJobList of a page of 1,000 records as Salesforce (and the sim)
// send them. items_per_second = records mapped per second; bytes_per_second = JSON throughput.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <string>

#include "JobMappingReference.h"
#include "salesforce/JobMapping.h"

namespace bulkwarden {
namespace {

std::string makeListBody(int records) {
  std::string body = R"({"done":false,"records":[)";
  for (int i = 0; i < records; ++i) {
    if (i) body += ',';
    body += fmt::format(
        R"({{"id":"750R0000000{:07d}","operation":"query","object":"Account",)"
        R"("createdById":"005R0000000GiwjIAC","createdDate":"2026-11-29T09:31:40.000+0000",)"
        R"("systemModstamp":"2026-11-29T09:31:41.000+0000","state":"{}",)"
        R"("concurrencyMode":"Parallel","contentType":"CSV","apiVersion":62.0,)"
        R"("jobType":"V2Query","lineEnding":"LF","columnDelimiter":"COMMA"}})",
        i, i % 3 ? "JobComplete" : "InProgress");
  }
  body +=
      R"(],"nextRecordsUrl":"/services/data/v62.0/jobs/query?queryLocator=01gR0000000opRTIAY-2000"})";
  return body;
}

// `parse` is parseJobList (streaming) or the document-tree mapping it replaced (the oracle of
// tests/support), for comparison.
template <auto parse>
void BM_ParseJobList1000(benchmark::State& state) {
  const std::string body = makeListBody(1000);
  for (auto _ : state) {
    auto page = parse(body, model::ResourceKind::Query);
    if (!page || page.value().page.jobs.size() != 1000) {
      state.SkipWithError("page did not parse");
      break;
    }
    benchmark::DoNotOptimize(page.value().page.jobs.data());
  }
  state.SetItemsProcessed(state.iterations() * 1000);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
  state.counters["page_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(BM_ParseJobList1000<salesforce::parseJobList>)
    ->Name("BM_ParseJobList1000")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParseJobList1000<salesforce::referenceParseJobList>)
    ->Name("BM_ParseJobList1000DocumentTree")
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bulkwarden
