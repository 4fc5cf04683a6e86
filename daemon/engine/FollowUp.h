// Follow-ups that cost one read per job: at an age-threshold crossing the scheduler reads the
// crossing jobs themselves (GET, which returns every field a filter uses) instead of relisting the
// resource, and runs them through the same Pass (filters, exemptions, windows, limits, write-ahead
// actions, audit records). FollowUpReads is the BulkJobs a follow-up Pass lists from: its
// "listing" is the parallel reads of the given ids, delivered as one page.
// Thread-safe as BulkJobs requires: list() runs its reads on threads it owns; the other calls
// go straight to the wrapped client.
#pragma once

#include <string>
#include <vector>

#include "salesforce/BulkJobs.h"

namespace bulkwarden::engine {

class FollowUpReads : public salesforce::BulkJobs {
 public:
  // `ids`: the crossing jobs (each read once, however often it is named); at most `concurrency`
  // reads in flight.
  FollowUpReads(salesforce::BulkJobs& inner, std::vector<std::string> ids, int concurrency);

  // Reads every id; a job gone (404) is left out. Any other error fails the whole "listing", so
  // the Pass acts on nothing and the next scheduled pass decides those jobs.
  salesforce::Result<salesforce::ListStats> list(model::ResourceKind kind,
                                                 const PageSink& onPage) override;
  salesforce::Result<model::Job> get(model::ResourceKind kind, const std::string& id) override {
    return inner_.get(kind, id);
  }
  salesforce::Result<salesforce::ActionReply> abort(model::ResourceKind kind,
                                                    const std::string& id) override {
    return inner_.abort(kind, id);
  }
  salesforce::Result<salesforce::ActionReply> remove(model::ResourceKind kind,
                                                     const std::string& id) override {
    return inner_.remove(kind, id);
  }
  salesforce::Result<model::Job> getClassic(const std::string& id) override {
    return inner_.getClassic(id);
  }
  salesforce::Result<salesforce::ActionReply> abortClassic(const std::string& id) override {
    return inner_.abortClassic(id);
  }
  int64_t calls() const override { return inner_.calls(); }
  salesforce::ApiUsage usage() const override { return inner_.usage(); }
  salesforce::Result<salesforce::ApiUsage> probeUsage() override { return inner_.probeUsage(); }

 private:
  salesforce::BulkJobs& inner_;
  std::vector<std::string> ids_;
  int concurrency_;
};

}  // namespace bulkwarden::engine
