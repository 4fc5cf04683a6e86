#include "status/Instruments.h"

#include <chrono>
#include <map>

namespace bulkwarden::status {

salesforce::Result<salesforce::ListStats> MeteredJobs::list(model::ResourceKind kind,
                                                            const PageSink& onPage) {
  std::map<model::JobState, int64_t> byState;
  auto r = inner_.list(kind, [&](salesforce::Page&& page) {
    for (const auto& j : page.jobs) ++byState[j.state];
    onPage(std::move(page));
  });
  // An incomplete listing says nothing about how many jobs there are: keep the last good one.
  if (r.ok()) monitor_.jobsListed(org_, kind, byState);
  return note(std::move(r));
}

salesforce::Result<model::Job> MeteredJobs::get(model::ResourceKind kind, const std::string& id) {
  return note(inner_.get(kind, id));
}

salesforce::Result<salesforce::ActionReply> MeteredJobs::abort(model::ResourceKind kind,
                                                               const std::string& id) {
  return note(inner_.abort(kind, id));
}

salesforce::Result<salesforce::ActionReply> MeteredJobs::remove(model::ResourceKind kind,
                                                                const std::string& id) {
  return note(inner_.remove(kind, id));
}

uint64_t TimedAudit::append(std::string_view type, std::string_view run,
                            const audit::Fields& fields, Sync sync) {
  auto start = std::chrono::steady_clock::now();
  try {
    uint64_t seq = inner_.append(type, run, fields, sync);
    monitor_.auditWrite(sync == Sync::Durable ? "durable" : "buffered",
                        std::chrono::steady_clock::now() - start, true, "");
    return seq;
  } catch (const audit::AuditError& e) {
    monitor_.auditWrite(sync == Sync::Durable ? "durable" : "buffered",
                        std::chrono::steady_clock::now() - start, false, e.what());
    throw;
  }
}

void TimedAudit::sync() {
  timedSync([this] { inner_.sync(); });
}

void TimedAudit::syncThrough(uint64_t seq) {
  timedSync([this, seq] { inner_.syncThrough(seq); });
}

}  // namespace bulkwarden::status
