#include "engine/Metering.h"

namespace bulkwarden::engine {

salesforce::Result<salesforce::ListStats> MeteredJobs::list(model::ResourceKind kind,
                                                            const PageSink& onPage) {
  // Counted as the pages arrive, before the pass drops repeats: what the org listed.
  std::map<model::JobState, int64_t> byState;
  auto r = inner_.list(kind, [&](salesforce::Page&& page) {
    for (const auto& j : page.jobs) ++byState[j.state];
    onPage(std::move(page));
  });
  // An incomplete listing says nothing about how many jobs there are: the last good one stands.
  if (r.ok()) listener_.onJobsListed(org_, kind, byState);
  return note(std::move(r));
}

void MeteredJobs::noteError(const salesforce::ApiError& e) {
  listener_.onApiError(org_, salesforce::kindName(e.kind), e.http, e.code);
}

}  // namespace bulkwarden::engine
