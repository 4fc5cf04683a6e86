// The interface the engine uses to read and change one org's Bulk API 2.0 jobs. The concrete
// BulkClient speaks HTTP to Salesforce; tests may put the simulated org behind it.
// Implementations must be safe to call from several threads at once (actions run concurrently).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/Job.h"
#include "salesforce/ApiError.h"

namespace bulkwarden::salesforce {

// A list record that could not be trusted (missing id, unknown state, bad date...): skipped, with
// the reason, never acted on.
struct SkippedRecord {
  std::string id;  // as sent, possibly empty
  std::string reason;
};

struct Page {
  std::vector<model::Job> jobs;
  std::vector<SkippedRecord> skipped;
};

struct ListStats {
  int pages = 0;
  int64_t jobs = 0;
  int64_t skipped = 0;
};

// What Salesforce said to an abort or delete that it accepted.
struct ActionReply {
  int http = 0;       // 200 for abort, 204 for delete
  std::string state;  // state in the reply body (abort), else empty
};

// `api-usage=USED/MAX` from the last Sforce-Limit-Info header; max 0 when never seen.
struct ApiUsage {
  int64_t used = 0;
  int64_t max = 0;
};

class BulkJobs {
 public:
  using PageSink = std::function<void(Page&& page)>;

  virtual ~BulkJobs() = default;

  // Lists every job of `kind`, calling `onPage` for each page as it arrives (in order, one call at
  // a time, possibly on another thread; what it throws reaches the caller). Returns the stats
  // when the listing is complete; an error otherwise (pages already delivered stay delivered, and
  // the caller must treat the listing as incomplete).
  virtual Result<ListStats> list(model::ResourceKind kind, const PageSink& onPage) = 0;
  virtual Result<model::Job> get(model::ResourceKind kind, const std::string& id) = 0;
  // PATCH {"state":"Aborted"}.
  virtual Result<ActionReply> abort(model::ResourceKind kind, const std::string& id) = 0;
  // DELETE. Named `remove` because `delete` is a keyword.
  virtual Result<ActionReply> remove(model::ResourceKind kind, const std::string& id) = 0;

  // Bulk API 1.0 ("Classic") jobs. listClassic lists those the 2.0 endpoint of `kind` names with
  // jobType=Classic (a 1.0 query job under Query, every other 1.0 job under Ingest), as list()
  // does; getClassic and abortClassic use the 1.0 job resource /services/async/{ver}/job/{id}.
  // A 1.0 job cannot be deleted through the API. The defaults, for implementations that do not
  // speak 1.0, refuse without sending anything.
  virtual Result<ListStats> listClassic(model::ResourceKind kind, const PageSink& onPage);
  virtual Result<model::Job> getClassic(const std::string& id);
  virtual Result<ActionReply> abortClassic(const std::string& id);

  // HTTP requests sent so far (each counts against the org's daily allowance, except the one
  // version check `GET /services/data/`).
  virtual int64_t calls() const = 0;
  virtual ApiUsage usage() const = 0;

  // One cheap call that learns the org's API usage, while the org is paused after the daily
  // allowance ran out: usage, or the error (LimitExceeded while it is still used up). The
  // default, for implementations that cannot ask, is the usage last seen.
  virtual Result<ApiUsage> probeUsage() { return usage(); }

  // Closes kept-alive connections not in use: called after an org's pass, so that an idle org
  // holds no sockets (many orgs per daemon). The next call opens a fresh one.
  virtual void closeIdleConnections() {}
};

// What the default Classic calls answer: Permanent, not sent.
ApiError classicUnsupported();

inline Result<ListStats> BulkJobs::listClassic(model::ResourceKind, const PageSink&) {
  return classicUnsupported();
}
inline Result<model::Job> BulkJobs::getClassic(const std::string&) { return classicUnsupported(); }
inline Result<ActionReply> BulkJobs::abortClassic(const std::string&) {
  return classicUnsupported();
}

}  // namespace bulkwarden::salesforce
