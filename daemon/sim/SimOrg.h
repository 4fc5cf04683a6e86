// The simulated org: Salesforce's Bulk API behaviour served from the server side (handle()),
// composed of a job store (JobStore: jobs and their lifecycle), a route table (RouteTable), a
// fault plan (FaultPlan) and a renderer (SimRender.h); this class keeps the sim clock, the
// sessions and the API allowance. SimServer only adapts HTTP to handle().
// Thread-safe: each part has its own lock (store, fault plan, sessions, meter, hook). The only
// nesting: a listing asks the fault plan for page faults under the store's lock (store, then plan).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sim/FaultPlan.h"
#include "sim/JobStore.h"
#include "sim/RouteTable.h"
#include "sim/Scenario.h"
#include "sim/SimMessages.h"
#include "sim/SimOAuth.h"

namespace bulkwarden::sim {

struct SimOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port
  std::string token;  // empty: generate one
  uint64_t seed = 1;
  double timeScale = 1.0;  // sim time runs this many times faster than wall time
  // With timeScale: the sim clock reads clockEpochMs + (wall - clockEpochMs) * timeScale, the
  // formula of a test daemon's scaled clock (model/TestClock.h), so both agree. 0: the start.
  int64_t clockEpochMs = 0;
  int pageSize = 1000;
  // Daily allowance for Sforce-Limit-Info and 403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit
  // exceeded." (a Developer Edition has 15,000).
  int64_t apiMax = 1'000'000;
  // The allowance is a rolling 24-hour window (sim time): a call stops counting 24 h after it was
  // made. apiUsedAtStart calls were already made apiUsedAgo before the start (other integrations).
  int64_t apiUsedAtStart = 0;
  std::chrono::milliseconds apiUsedAgo{0};
  // More than this many requests in flight at once (a response counts until it is sent, so
  // `latency` makes requests long): 403 REQUEST_LIMIT_EXCEEDED "ConcurrentPerOrgLongTxn Limit
  // exceeded." for the extra ones. 0: no limit.
  int concurrentLimit = 0;
  // Every Nth request (not the token endpoint's) is refused with 503 SERVER_UNAVAILABLE before it
  // is processed, with Retry-After when failRetryAfterSeconds > 0. 0: never.
  int failEvery = 0;
  int failRetryAfterSeconds = 0;
  // Each request (not the token endpoint's) is refused with 503 with this probability, drawn
  // from the seed; with Retry-After when failRetryAfterSeconds > 0. 0: never.
  double failRate = 0.0;
  // The session's user may abort and delete other users' jobs ("Manage Data Integrations");
  // false: those get 403 INVALIDUSER. The session's user is oauth.userId.
  bool manageDataIntegrations = true;
  // Set: the user is given "Manage Data Integrations" this much sim time after the start.
  std::optional<std::chrono::milliseconds> grantManageDataIntegrationsAfter;
  // > 0: a new job arrives every this much sim time (Scenario.h arrivingJob), created when a
  // request first sees the sim clock past its arrival, with its arrival as createdDate.
  std::chrono::milliseconds newJobsEvery{0};
  // Every reply with a body is sent with Transfer-Encoding: chunked in random (seeded) chunk
  // sizes instead of Content-Length (SimServer).
  bool chunked = false;
  bool queryNextUrlOnIngestPath = false;  // the docs quirk of docs/salesforce.md 12.1
  bool notFoundAs400 = false;             // PATCH/DELETE on an unknown id: 400 NOT_FOUND (12.4)
  std::optional<Scenario> scenario;       // unset: empty org
  SimOAuthOptions oauth;                  // the token endpoint (/services/oauth2/token)
  // HTTPS (SimServer): PEM certificate (chain) and private key files; empty: plain HTTP.
  std::string tlsCertificateFile;
  std::string tlsPrivateKeyFile;
  bool tlsOnly11 = false;  // serve TLS 1.0/1.1 only (tests: a client must refuse it)
  // Added before every response is sent (outside the org's lock), to stand in for the WAN round
  // trip to Salesforce in benchmarks. 0: answer at once.
  std::chrono::milliseconds latency{0};
};

class SimOrg {
 public:
  explicit SimOrg(SimOptions options = {});

  std::string addJob(const JobSeed& seed);  // returns the id; throws std::invalid_argument
  void addScenario(const Scenario& s);
  // Current state; nullopt when there is no such job (deleted, purged or never existed).
  std::optional<std::string> state(const std::string& id) const;
  std::vector<SimJob> jobs() const;  // snapshot of every job, current states

  struct Counters {
    int64_t requests = 0, lists = 0, gets = 0, patches = 0, deletes = 0, unauthorized = 0,
            appliedAborts = 0, appliedDeletes = 0;
    // The token endpoint: every request, the tokens issued, the requests refused.
    int64_t tokenRequests = 0, tokensIssued = 0, tokenErrors = 0;
    // Faults that fired: 503s refused (every Nth and random), concurrent-limit 403s, daily-limit
    // 403s, refresh tokens rotated, jobs arrived (newJobsEvery), permission refusals (INVALIDUSER).
    int64_t unavailable = 0, concurrentLimited = 0, dailyLimited = 0, rotations = 0,
            arrivedJobs = 0, forbidden = 0;
  };
  Counters counters() const;
  // Aborts + deletes that this job accepted (2xx); must stay <= 1 per kind of action.
  int64_t appliedActions(const std::string& id) const;
  int64_t apiUsed() const;  // the USED of Sforce-Limit-Info
  void setApiUsed(int64_t used);

  std::string token() const;
  void setToken(std::string token);
  std::string refreshToken() const;  // the refresh token the org accepts now (rotation moves it)
  void setManageDataIntegrations(bool allowed);
  // From now until `window` of wall time has passed, every request gets the concurrent-limit 403.
  void exceedConcurrentLimitFor(std::chrono::milliseconds window);
  // Every Nth request from now on is refused with 503 (see SimOptions::failEvery).
  void failEvery(int n, int retryAfterSeconds = 0);
  // A request in flight for the concurrent limit, from before handle() until its reply is sent
  // (SimServer holds one per request). Movable RAII guard.
  class InFlight {
   public:
    explicit InFlight(std::atomic<int>* count) : count_(count) { ++*count_; }
    InFlight(InFlight&& other) noexcept : count_(std::exchange(other.count_, nullptr)) {}
    InFlight& operator=(InFlight&&) = delete;
    ~InFlight() {
      if (count_ != nullptr) --*count_;
    }

   private:
    std::atomic<int>* count_;
  };
  InFlight enter() { return InFlight(&inFlight_); }
  void revokeToken();  // every request answers 401 until setToken; issued tokens die too

  // Tokens issued by the token endpoint expire on the sim clock. Every issued token expires now
  // (a session timeout).
  void expireIssuedTokens();
  std::vector<std::string> issuedTokens() const;  // every token issued so far (secret sweeps)
  void setUserApproved(bool approved);            // false: logins fail with invalid_grant
  // The next `count` token requests answer exactly this (e.g. 503), before any check.
  void respondToTokenRequests(int count, SimResponse response);
  void setInstanceUrl(std::string url);  // instance_url in token replies
  // Called with each request before it is handled, outside every lock (tests: make a token
  // expire at an exact point of a pass).
  void setRequestHook(std::function<void(const SimRequest&)> hook);

  // Faults. Page faults fire once, on the next listing that reaches that page (1-based).
  void repeatLocatorOnPage(int page);        // page N's nextRecordsUrl repeats page N-1's locator
  void doneFalseWithoutUrlOnPage(int page);  // page N: done false and nextRecordsUrl null
  // The next `count` requests answer `status` with [{"errorCode","message"}] (empty body when
  // both are empty). A 401 comes with WWW-Authenticate and without Sforce-Limit-Info.
  void failNextRequests(int count, int status, std::string errorCode, std::string message);
  // The next `count` requests answer exactly this (e.g. 502 with an HTML body).
  void respondNext(int count, SimResponse response);
  void clearFaults();
  // The next `count` requests whose method is `method` (any method when empty) suffer `fault`.
  void injectNetFault(int count, NetFault fault, std::string method = "",
                      std::chrono::milliseconds trickleEvery = std::chrono::milliseconds(100));
  // From now on each request fails with 503 SERVER_UNAVAILABLE with probability `rate` (seeded).
  void setFailureRate(double rate);

  std::string nowText() const;  // sim clock in +0000 form
  int64_t nowMs() const;        // sim clock, ms since the epoch
  // Moves the sim clock forward (tests: lifecycles and purges without sleeping).
  void advanceClock(std::chrono::milliseconds by);

  // Serves one request of the Bulk API 2.0 surface. Choices where docs/salesforce.md is silent:
  // - /jobs/query lists V2Query + Classic jobs, /jobs/ingest every job but V2Query; with jobType=X
  //   either path lists exactly the jobs of type X. isPkChunkingEnabled is ignored.
  // - Per-job routes serve only jobs of their kind; Classic jobs there are 404 NOT_FOUND.
  // - A locator names a snapshot of ids taken at page 1 (the last 64 listings stay valid); jobs
  //   deleted or purged since are skipped, so a page may hold fewer than pageSize records.
  // - Scripted responses (failNextRequests/respondNext) come before authentication; those below
  //   500 other than 401 count against the allowance and carry Sforce-Limit-Info.
  // - The Date header follows the sim clock.
  // - Aborting or deleting another user's job without "Manage Data Integrations" is 403
  //   INVALIDUSER (Bulk's InvalidUser; status and text are not documented).
  // - The concurrent-limit 403 and the every-Nth 503 use no allowance; the first carries
  //   Sforce-Limit-Info.
  // - Bulk API 1.0: GET/POST /services/async/{62.0}/job/{id} with X-SFDC-Session serve Classic
  //   jobs in 1.0 states (Open, Closed, Aborted, Failed), JSON or XML as the request asks;
  //   errors are 400 {"exceptionCode","exceptionMessage"} (InvalidSessionId, InvalidJob,
  //   InvalidJobState...).
  SimResponse handle(const SimRequest& request);

 private:
  SimResponse dispatch(const SimRequest& request, int64_t now, std::optional<SimResponse> scripted);
  void buildRoutes();
  bool sessionValid(const std::string& token, int64_t now) const;
  // Uses one call of the allowance; false (nothing used) when it is spent.
  bool useAllowance();
  void useAllowanceLocked(int64_t now, int64_t calls);  // meterMutex_ held
  int64_t usedLocked(int64_t now) const;                // meterMutex_ held: drops calls > 24 h old
  void countForbidden();
  void addArrivingJobs(int64_t now);
  SimResponse withLimitInfo(SimResponse response) const;
  SimResponse notFound(bool as400) const;

  SimResponse userInfo() const;
  SimResponse soqlQuery(const RouteCall& call) const;
  SimResponse list(const RouteCall& call, bool ingest);
  SimResponse getJob(const RouteCall& call, bool ingest);
  SimResponse patchJob(const RouteCall& call, bool ingest);
  SimResponse deleteJob(const RouteCall& call, bool ingest);
  SimResponse tokenEndpoint(const RouteCall& call);
  SimResponse classicJob(const RouteCall& call);
  SimResponse dispatchClassic(const SimRequest& request, const RouteTable::Match& match,
                              RouteCall& call);
  JobStore::Caller caller() const;

  SimOptions options_;
  std::string pod_;

  // The sim clock: wall time at start, plus scaled elapsed time, plus advanceClock() offsets.
  int64_t startWallMs_ = 0;
  std::chrono::steady_clock::time_point startSteady_;
  std::atomic<int64_t> clockOffsetMs_{0};

  JobStore store_;
  FaultPlan faults_;
  RouteTable routes_;

  // Sessions: the configured token, tokens issued by the token endpoint, the OAuth checks.
  mutable std::mutex sessionMutex_;
  std::mt19937_64 sessionRng_;
  std::string token_;
  bool revoked_ = false;
  SimOAuth oauth_;
  std::unordered_map<std::string, int64_t> issued_;  // token -> expiry (sim ms), kNeverMs: none
  bool manageDataIntegrations_ = true;
  std::atomic<int> inFlight_{0};

  // The meter: request counters and the allowance used.
  mutable std::mutex meterMutex_;
  Counters counters_;
  // The rolling window: calls per sim minute, oldest first, and their sum.
  mutable std::deque<std::pair<int64_t, int64_t>> usage_;
  mutable int64_t usageSum_ = 0;
  int64_t grantAtMs_ = -1;  // grantManageDataIntegrationsAfter as a sim time; -1: none

  // Arriving jobs (newJobsEvery): the next arrival's sim time, and their draws.
  std::mutex arrivalsMutex_;
  int64_t nextArrivalMs_ = 0;
  std::mt19937_64 arrivalsRng_;

  mutable std::mutex hookMutex_;
  std::function<void(const SimRequest&)> hook_;
};

}  // namespace bulkwarden::sim
