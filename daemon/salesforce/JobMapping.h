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
// `listing` Classic: the page of a `jobType=Classic` listing; only Bulk API 1.0 jobs of `kind`
// (classicKind) are kept, records of the other kind are dropped without a reason, and a record of
// another jobType is skipped.
enum class Listing { V2, Classic };
Result<ListPage> parseJobList(std::string_view body, model::ResourceKind kind,
                              Listing listing = Listing::V2);

// ---- Bulk API 1.0 ("Classic") jobs: docs/salesforce.md 14.6 ----

// A 1.0 reply (JobInfo or error) longer than this is refused unread: a real one is under 2 KiB.
inline constexpr std::size_t kMaxClassicReply = 64 * 1024;

// The resource a 1.0 job belongs to: Query for operation query/queryAll, Ingest otherwise.
model::ResourceKind classicKind(std::string_view operation);

// A 1.0 state name (Open, Closed, Aborted, Failed) or a 2.0 one, as bulkwarden's state. Closed
// (no more batches; some may still run) is UploadComplete: all data is in, not finished.
std::optional<model::JobState> classicJobState(std::string_view name);

// Parses a 1.0 JobInfo in JSON (`{"id":..,"state":..}`) or XML (`<jobInfo xmlns=..><id>..`),
// whichever the body is: at most kMaxClassicReply bytes, valid UTF-8; JSON strictly (as
// parseJob); XML as a flat element of text-only children, with no DTD, comment, CDATA, nested
// element, duplicate child or undeclared entity. id, state, createdDate and systemModstamp are
// required; the job's kind is classicKind(operation). A Closed job is InProgress while
// numberBatchesInProgress > 0, JobComplete when no batch is queued or in progress, else
// UploadComplete. Anything else is Malformed.
Result<model::Job> parseClassicJob(std::string_view body);

// Maps a 1.0 error reply (HTTP 400 with {"exceptionCode","exceptionMessage"} or the XML
// <error>, or any other status and body) to an ApiError: InvalidSessionId is Unauthorized,
// InvalidJobState InvalidState, InvalidJob "Unable to find object" NotFound, ExceededQuota
// LimitExceeded, InvalidUser a permission refusal (isPermissionRefusal); a 2.0-shaped body is
// classify()'d. `sent` is set to true.
ApiError classifyClassic(int status, std::string_view body);

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
