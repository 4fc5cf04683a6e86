// Pure mapping between Salesforce Bulk API 2.0 response bodies and bulkwarden's model: job lists,
// single jobs, error bodies and the Sforce-Limit-Info header. No I/O; every function is
// thread-safe. Nothing from outside is trusted: bad input becomes an ApiError or a SkippedRecord.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "model/Job.h"
#include "salesforce/ApiError.h"
#include "salesforce/BulkJobs.h"
#include "salesforce/StrictJson.h"

namespace bulkwarden::salesforce {

// Messages kept from Salesforce error bodies are cut to this many bytes.
inline constexpr std::size_t kMaxErrorMessage = 300;

// The longest value a job record may carry in a text field, in bytes. Salesforce's own limits are
// shorter (object API names are at most 40 characters plus a namespace prefix and suffix; user
// ids are 15 or 18 characters; the other fields are short codes such as "V2Query" or "CRLF"); a
// longer value is a broken or lying server, and the record is skipped with a reason.
inline constexpr std::size_t kMaxNameField = 255;  // object
inline constexpr std::size_t kMaxIdField = 18;     // createdById (a job id is checked as an id)
inline constexpr std::size_t kMaxCodeField = 40;   // operation, jobType, apiVersion, ...

// Why `job` has a field longer than its cap ("object is 10000 bytes, over 255"), if it does.
std::optional<std::string> overlongField(const model::Job& job);

// One page of GET /jobs/{query|ingest}.
struct ListPage {
  Page page;                   // trusted jobs, and the records that were skipped with a reason
  bool done = true;            // Salesforce's `done`
  std::string nextRecordsUrl;  // empty when null or missing
};

// Parses a list page. The body must be an object with a boolean `done`, an array `records` and a
// `nextRecordsUrl` that is a string or null (missing = null); otherwise ApiError Malformed naming
// what was wrong. Invalid UTF-8, duplicate keys, nesting deeper than kMaxJsonDepth and numbers out
// of range make the whole body Malformed. A record that cannot be trusted (not an object, missing
// or bad id/state/createdDate, a Bulk 1.0 job, a field over its length cap) is skipped with a
// reason, never fatal.
Result<ListPage> parseJobList(std::string_view body, model::ResourceKind kind);

// Parses the body of GET /jobs/{kind}/{id} (counters are ignored). Malformed if the body is not a
// job object with a valid id, state and createdDate.
Result<model::Job> parseJob(std::string_view body, model::ResourceKind kind);

// The `state` of an abort reply (the short JobInfo), if the body has one.
std::optional<std::string> parseReplyState(std::string_view body);

// Maps an HTTP error status and its body (normally [{"errorCode":..,"message":..}], but possibly
// empty, HTML, an object or garbage) to an ApiError (docs/salesforce.md 6.2). `sent` is set to
// true.
ApiError classify(int status, std::string_view body);

// `api-usage=10018/100000`, possibly followed by `; per-app-api-usage=...`.
std::optional<ApiUsage> parseLimitInfo(std::string_view header);

// True for a Bulk job id: ^750[A-Za-z0-9]{12,15}$.
bool isJobId(std::string_view id);

}  // namespace bulkwarden::salesforce
