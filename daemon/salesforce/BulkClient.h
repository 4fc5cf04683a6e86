// BulkJobs for one Salesforce org over HTTPS: lists jobs page by page, gets, aborts and deletes
// them, renews an expired token once, and keeps the API usage Salesforce reports. Requests go
// through a Transport (salesforce/Transport.h) it makes per instance URL; its retries sleep on
// the injected clock, which a stop request interrupts.
// Thread-safe: one BulkClient per org, shared by every thread that acts on that org.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "model/Clock.h"
#include "model/StopSignal.h"
#include "salesforce/Backoff.h"
#include "salesforce/BulkJobs.h"
#include "salesforce/CallGate.h"
#include "salesforce/JobMapping.h"
#include "salesforce/TokenProvider.h"
#include "salesforce/Transport.h"

namespace bulkwarden::salesforce {

struct ClientOptions {
  // https://acme.my.salesforce.com (http:// for loopback only). Empty: the instance URL the token
  // provider learns with the first token (OAuth flows).
  std::string instanceUrl;
  std::string apiVersion = "62.0";
  int concurrency = 8;  // actions in flight; sizes the connection pool
  std::chrono::milliseconds connectTimeout{10'000};
  std::chrono::milliseconds readTimeout{60'000};
  std::chrono::milliseconds requestDeadline{120'000};
  int maxPages = 1000;                    // a listing with more pages than this fails as Malformed
  std::string clientName = "bulkwarden";  // Sforce-Call-Options: client=<name>
  std::string caFile;                     // extra CA bundle for https; empty: system CAs only
  // Idempotent reads (list pages, GET) that fail transiently (5xx, 406, 420, network) are tried
  // again after a full-jitter backoff, at least as long as Retry-After asks; a Retry-After longer
  // than maxRetryAfter ends the attempt (the next pass tries again). PATCH and DELETE are never
  // retried here.
  BackoffPolicy backoff;
  std::chrono::milliseconds maxRetryAfter{30'000};
  // Reads refused with the concurrent long-running request limit (isConcurrentLimit) are tried
  // again on this slower schedule: the limit clears when other long requests end, in seconds.
  BackoffPolicy concurrentLimitBackoff{4, model::Duration(5'000), model::Duration(30'000)};
  // Before the first request, ask `GET /services/data/` whether the org serves apiVersion: if
  // not, every call fails with a Permanent error saying so; if it is old (kOldApiVersions or
  // more releases behind the newest served), warn once. A failed check is logged and skipped.
  bool checkApiVersion = false;
  // The org's API budget (engine/ApiBudget.h): every request, token requests included, is
  // admitted by it before it is sent, and counted by purpose; refused, it is not sent and the
  // call returns its ApiError (code API_BUDGET). None: no budget.
  std::shared_ptr<CallGate> gate;
  // Makes the transport to the instance (and to a new instance_url). Empty: HttpTransport.
  TransportFactory transports;
  // The time (Retry-After dates) and the retry backoff's sleep. None: the system clock. Outlives
  // the client.
  const model::Clock* clock = nullptr;
  // Ends a retry's backoff sleep at once (SIGTERM, a reload): the call returns the failure it was
  // about to retry. None: never stopped. Outlives the client.
  const model::StopSignal* stop = nullptr;
  // Every request that may change the org (not idempotent: PATCH, DELETE, a 1.0 abort's POST)
  // is sent only if the SendFence of the calling thread (salesforce/CallGate.h) allows it, asked
  // just before each send, the one after a token renewal included; with no fence on the thread
  // it is refused (code NOT_SENT, not sent). Cluster mode sets it: every action is fenced by the
  // lease (docs/scaling.md). False: writes go out unless a fence on the thread refuses them.
  bool writesNeedFence = false;
};

// api-version this many releases (three a year) behind the newest the org serves is "old":
// Salesforce supports a version at least three years, then may retire it (410 GONE).
inline constexpr int kOldApiVersions = 9;

// A non-2xx reply as an ApiError (classify), with 403 REQUEST_LIMIT_EXCEEDED split by its message:
// "TotalRequests" is the daily allowance (LimitExceeded), "Concurrent..." the concurrent
// long-running request limit (Transient, isConcurrentLimit). Any other message is the daily kind
// unless the reply's Sforce-Limit-Info shows usage under 95% of the maximum.
ApiError classifyReply(int status, std::string_view body, std::string_view limitInfo);

// The outcome of comparing the configured api-version with the versions list of
// `GET /services/data/` (a JSON array of {"version":"62.0",...}): an error message if the org
// does not serve it or the list is unusable, else a warning (empty if none) and the newest.
struct VersionCheck {
  std::string error;
  std::string warning;
  std::string newest;
};
VersionCheck checkVersionList(std::string_view body, const std::string& configured);

// Where to fetch the next list page. `beganWith` is the path the listing began with
// (/services/data/v62.0/jobs/query). If `nextRecordsUrl` carries a queryLocator, it is re-issued
// on `beganWith` (docs/salesforce.md 12.1: the docs' query list points at /jobs/ingest); otherwise
// the URL is followed only if its path, percent-decoded, is `beganWith` itself (no dot segments, no
// escaped slashes, no other resource on the same host), and is re-issued on `beganWith` with its
// query. Anything else is ApiError Malformed.
Result<std::string> nextListTarget(std::string_view beganWith, std::string_view nextRecordsUrl);

class BulkClient final : public BulkJobs {
 public:
  // Throws std::invalid_argument for a bad instance URL or API version (see HttpTransport).
  BulkClient(ClientOptions options, std::shared_ptr<TokenProvider> tokens);

  Result<ListStats> list(model::ResourceKind kind, const PageSink& onPage) override;
  Result<model::Job> get(model::ResourceKind kind, const std::string& id) override;
  Result<ActionReply> abort(model::ResourceKind kind, const std::string& id) override;
  Result<ActionReply> remove(model::ResourceKind kind, const std::string& id) override;

  // Bulk API 1.0 jobs: the listing with jobType=Classic; GET and POST {"state":"Aborted"} on
  // /services/async/{ver}/job/{id} with the session in X-SFDC-Session, in JSON. A 1.0
  // InvalidSessionId (HTTP 400) renews the token once, as a 401 does.
  Result<ListStats> listClassic(model::ResourceKind kind, const PageSink& onPage) override;
  Result<model::Job> getClassic(const std::string& id) override;
  Result<ActionReply> abortClassic(const std::string& id) override;

  int64_t calls() const override;
  ApiUsage usage() const override;
  // GET /services/data/vNN.N/limits: the usage from its Sforce-Limit-Info, or from its
  // DailyApiRequests when the header is missing.
  Result<ApiUsage> probeUsage() override;
  void closeIdleConnections() override;

  // GET of `target` (a path on the instance, with its query) with the session, as list pages are
  // read: the token renewed once on 401, transient failures tried again. For the few reads that
  // are not about jobs (salesforce/Permissions.h); the reply as it came, whatever its status.
  Result<HttpResponse> read(const std::string& target);

  // The base URL later calls go to: the instance_url of the newest token, else the configured
  // one; empty before the first call when neither is known.
  std::string instanceUrl() const;

  // The path every request of `kind` starts with: /services/data/v62.0/jobs/query.
  std::string basePath(model::ResourceKind kind) const;
  // The 1.0 job resource: /services/async/62.0/job/{id}.
  std::string classicPath(const std::string& id) const;

 private:
  // Which API a request speaks: 2.0 (Authorization: Bearer, 401 when the session expired) or
  // 1.0 (X-SFDC-Session, 400 InvalidSessionId when it expired).
  enum class Api { V2, Classic };
  Result<ListStats> listWith(model::ResourceKind kind, std::string_view jobType, Listing listing,
                             const PageSink& onPage);
  // Sends one request with the current token; on 401 INVALID_SESSION_ID renews the token once
  // and sends it once more.
  Result<HttpResponse> call(const std::string& method, const std::string& target,
                            const std::string& body, bool idempotent, CallPurpose purpose,
                            Api api = Api::V2);
  Result<HttpResponse> callOnce(const std::string& method, const std::string& target,
                                const std::string& body, bool idempotent, CallPurpose purpose,
                                Api api);
  // Asks the gate (if any), then sends.
  Result<HttpResponse> sendLogged(Transport& transport, const HttpRequest& request,
                                  CallPurpose purpose);
  // The transport to the instance: created on first use when the instance URL comes from the
  // token response, and replaced when a new token names another instance_url.
  Result<std::shared_ptr<Transport>> transport();
  // The version check (checkApiVersion), once; the error every call then returns, if any.
  std::optional<ApiError> versionChecked(Transport& transport);
  HttpRequest makeRequest(const std::string& method, const std::string& target,
                          const std::string& body, bool idempotent, const std::string& token,
                          Api api) const;

  const ClientOptions options_;
  const model::SystemClock systemClock_;  // when no clock is given
  const model::StopSignal neverStop_;     // when no stop signal is given
  const model::Clock& clock_;
  const model::StopSignal& stop_;
  std::shared_ptr<TokenProvider> tokens_;
  mutable std::mutex transportMutex_;
  std::shared_ptr<Transport> transport_;  // guarded by transportMutex_
  std::string transportUrl_;              // guarded: the URL transport_ sends to
  // Transports replaced by a new instance_url, kept for calls() until no call uses them.
  mutable std::vector<std::shared_ptr<Transport>> retired_;  // guarded
  mutable int64_t retiredCalls_ = 0;                         // guarded

  std::mutex versionMutex_;
  bool versionDone_ = false;              // guarded by versionMutex_
  std::optional<ApiError> versionError_;  // guarded by versionMutex_

  std::mutex rngMutex_;
  std::mt19937_64 rng_{std::random_device{}()};  // guarded by rngMutex_: backoff jitter
  mutable std::mutex usageMutex_;
  ApiUsage usage_;  // guarded by usageMutex_
  // When usage_'s request went out, on the clock: the count is over the org's rolling 24 hours.
  model::Timestamp usageSent_{};
};

}  // namespace bulkwarden::salesforce
