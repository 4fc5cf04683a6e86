// Decorators that feed the Monitor without the engine knowing: MeteredJobs wraps an org's
// Salesforce client (jobs listed by state, API errors by kind), TimedAudit wraps the audit sink
// (write latency, failures). Both are as thread-safe as what they wrap.
#pragma once

#include <chrono>
#include <string>

#include "audit/AuditSink.h"
#include "salesforce/BulkJobs.h"
#include "status/Monitor.h"

namespace bulkwarden::status {

class MeteredJobs : public salesforce::BulkJobs {
 public:
  MeteredJobs(std::string org, salesforce::BulkJobs& inner, Monitor& monitor)
      : org_(std::move(org)), inner_(inner), monitor_(monitor) {}

  salesforce::Result<salesforce::ListStats> list(model::ResourceKind kind,
                                                 const PageSink& onPage) override;
  salesforce::Result<model::Job> get(model::ResourceKind kind, const std::string& id) override;
  salesforce::Result<salesforce::ActionReply> abort(model::ResourceKind kind,
                                                    const std::string& id) override;
  salesforce::Result<salesforce::ActionReply> remove(model::ResourceKind kind,
                                                     const std::string& id) override;
  // Bulk API 1.0 jobs: errors noted; the jobs-by-state gauge stays the 2.0 listing's. Forwarded
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
    if (!r.ok()) monitor_.apiError(org_, r.error());
    return r;
  }

  std::string org_;
  salesforce::BulkJobs& inner_;
  Monitor& monitor_;
};

class TimedAudit : public audit::AuditSink {
 public:
  TimedAudit(audit::AuditSink& inner, Monitor& monitor) : inner_(inner), monitor_(monitor) {}

  uint64_t append(std::string_view type, std::string_view run, const audit::Fields& fields,
                  Sync sync) override;
  void sync() override;
  void syncThrough(uint64_t seq) override;

 private:
  template <class F>
  void timedSync(F sync) {
    auto start = std::chrono::steady_clock::now();
    try {
      sync();
      monitor_.auditWrite("sync", std::chrono::steady_clock::now() - start, true, "");
    } catch (const audit::AuditError& e) {
      monitor_.auditWrite("sync", std::chrono::steady_clock::now() - start, false, e.what());
      throw;
    }
  }

  audit::AuditSink& inner_;
  Monitor& monitor_;
};

}  // namespace bulkwarden::status
