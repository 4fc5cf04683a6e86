// Metering hooks: what the engine sees of each org's Salesforce calls, told to a MeterListener
// (the daemon's status::Monitor) so that metrics need no view of the client. MeteredJobs is the
// engine's side: it wraps an org's client and tells its listener each complete listing (jobs by
// state) and each failed call (its error kind), whichever path made the call (pass listings,
// actions and their verification reads, follow-up reads, usage probes, Bulk API 1.0 calls). The
// Scheduler tells the org's API usage after each pass.
// Thread-safety: MeteredJobs is as thread-safe as the client it wraps; it calls its listener from
// whichever thread made the call (an org's worker thread, an action thread, a follow-up read
// thread), so a MeterListener must be thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "model/Job.h"
#include "salesforce/BulkJobs.h"

namespace bulkwarden::engine {

class MeterListener {
 public:
  virtual ~MeterListener() = default;
  // A complete listing of `kind` (Bulk API 2.0; not a follow-up's reads), its jobs counted by
  // state as listed (a job listed twice counts twice). An incomplete listing is not told.
  virtual void onJobsListed(const std::string& org, model::ResourceKind kind,
                            const std::map<model::JobState, int64_t>& byState) = 0;
  // A call to the org failed: the error's kind (salesforce::kindName: "transient",
  // "not-found"...), its HTTP status (0: no reply) and Salesforce errorCode (may be empty).
  virtual void onApiError(const std::string& org, std::string_view kind, int http,
                          std::string_view code) = 0;
  // After each pass of the org: its daily API usage as Salesforce last reported it (only when
  // the maximum is known).
  virtual void onApiUsage(const std::string& org, int64_t used, int64_t max) = 0;
};

// An org's client whose calls are metered. Build it around the client itself, inside any
// wrapper whose refusals are not Salesforce's (the cluster fence), so that only calls to the org
// are counted.
class MeteredJobs : public salesforce::BulkJobs {
 public:
  MeteredJobs(std::string org, salesforce::BulkJobs& inner, MeterListener& listener)
      : org_(std::move(org)), inner_(inner), listener_(listener) {}

  salesforce::Result<salesforce::ListStats> list(model::ResourceKind kind,
                                                 const PageSink& onPage) override;
  salesforce::Result<model::Job> get(model::ResourceKind kind, const std::string& id) override {
    return note(inner_.get(kind, id));
  }
  salesforce::Result<salesforce::ActionReply> abort(model::ResourceKind kind,
                                                    const std::string& id) override {
    return note(inner_.abort(kind, id));
  }
  salesforce::Result<salesforce::ActionReply> remove(model::ResourceKind kind,
                                                     const std::string& id) override {
    return note(inner_.remove(kind, id));
  }
  // Bulk API 1.0 jobs: errors told; the jobs-by-state count stays the 2.0 listing's. Forwarded
  // explicitly: BulkJobs' defaults would refuse them.
  salesforce::Result<salesforce::ListStats> listClassic(model::ResourceKind kind,
                                                        const PageSink& onPage) override {
    return note(inner_.listClassic(kind, onPage));
  }
  salesforce::Result<model::Job> getClassic(const std::string& id) override {
    return note(inner_.getClassic(id));
  }
  salesforce::Result<salesforce::ActionReply> abortClassic(const std::string& id) override {
    return note(inner_.abortClassic(id));
  }
  int64_t calls() const override { return inner_.calls(); }
  salesforce::ApiUsage usage() const override { return inner_.usage(); }
  salesforce::Result<salesforce::ApiUsage> probeUsage() override {
    return note(inner_.probeUsage());
  }
  void closeIdleConnections() override { inner_.closeIdleConnections(); }

 private:
  template <class T>
  salesforce::Result<T> note(salesforce::Result<T> r) {
    if (!r.ok()) noteError(r.error());
    return r;
  }
  void noteError(const salesforce::ApiError& e);

  std::string org_;
  salesforce::BulkJobs& inner_;
  MeterListener& listener_;
};

}  // namespace bulkwarden::engine
