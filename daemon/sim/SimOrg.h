// The simulated org: its jobs, sim clock, token, API allowance, list snapshots and faults, and the
// Bulk API 2.0 behaviour of BULK_API.md served from the server side (handle()). SimServer only
// adapts HTTP to handle(). Thread-safe: one mutex guards all state; every public method locks it.
#pragma once

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

#include "sim/Scenario.h"
#include "sim/SimOAuth.h"

namespace bulkwarden::sim {

struct SimOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port
  std::string token;  // empty: generate one
  uint64_t seed = 1;
  double timeScale = 1.0;  // sim time runs this many times faster than wall time
  int pageSize = 1000;
  int64_t apiMax = 1'000'000;  // daily allowance for Sforce-Limit-Info / REQUEST_LIMIT_EXCEEDED
  bool queryNextUrlOnIngestPath = false;  // the docs quirk of BULK_API.md 12.1
  bool notFoundAs400 = false;             // PATCH/DELETE on an unknown id: 400 NOT_FOUND (12.4)
  std::optional<Scenario> scenario;       // unset: empty org
  SimOAuthOptions oauth;                  // the token endpoint (/services/oauth2/token)
  // HTTPS (SimServer): PEM certificate (chain) and private key files; empty: plain HTTP.
  std::string tlsCertificateFile;
  std::string tlsPrivateKeyFile;
  bool tlsOnly11 = false;  // serve TLS 1.0/1.1 only (tests: a client must refuse it)
};

// A snapshot of one job, dates in +0000 form.
struct SimJob {
  std::string id, kind, jobType, state, object, operation, createdById, createdDate, systemModstamp;
};

// One HTTP request as the org sees it.
struct SimRequest {
  std::string method;
  std::string uri;  // path and query string
  std::string authorization;
  std::string contentType;
  std::string body;
};

// What the network does to a reply (RELIABILITY.md C7-C9): the server adapter acts it out.
enum class NetFault {
  None,
  ResetBeforeApply,  // the connection is reset; the request was not applied
  ResetAfterApply,   // the request was applied, then the connection is reset: no reply
  Trickle,           // the reply is sent one byte at a time, `trickleEvery` apart
};

struct SimResponse {
  int status = 200;
  std::string contentType = "application/json;charset=UTF-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  NetFault netFault = NetFault::None;
  std::chrono::milliseconds trickleEvery{0};
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
  };
  Counters counters() const;
  // Aborts + deletes that this job accepted (2xx); must stay <= 1 per kind of action.
  int64_t appliedActions(const std::string& id) const;
  int64_t apiUsed() const;  // the USED of Sforce-Limit-Info
  void setApiUsed(int64_t used);

  std::string token() const;
  void setToken(std::string token);
  void revokeToken();  // every request answers 401 until setToken; issued tokens die too

  // Tokens issued by the token endpoint, with their expiry on the sim clock.
  void expireIssuedTokens();
  std::vector<std::string> issuedTokens()
      const;  // every token issued so far (secret sweeps)  // every issued token expires now (a
              // session timeout)
  void setUserApproved(bool approved);
  // The next `count` token requests answer exactly this (e.g. 503), before any check.
  void respondToTokenRequests(int count,
                              SimResponse response);  // false: logins fail with invalid_grant
  void setInstanceUrl(std::string url);               // instance_url in token replies
  // Called with each request before it is handled, outside the org's lock (tests: make a token
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

  // Serves one request of the Bulk API 2.0 surface. Choices where BULK_API.md is silent:
  // - /jobs/query lists V2Query + Classic jobs, /jobs/ingest every job but V2Query; with jobType=X
  //   either path lists exactly the jobs of type X. isPkChunkingEnabled is ignored.
  // - Per-job routes serve only jobs of their kind; Classic jobs there are 404 NOT_FOUND.
  // - A locator names a snapshot of ids taken at page 1 (the last 64 listings stay valid); jobs
  //   deleted or purged since are skipped, so a page may hold fewer than pageSize records.
  // - Scripted responses (failNextRequests/respondNext) come before authentication; those below
  //   500 other than 401 count against the allowance and carry Sforce-Limit-Info.
  // - The Date header follows the sim clock.
  SimResponse handle(const SimRequest& request);

 private:
  enum class State : uint8_t { Open, UploadComplete, InProgress, JobComplete, Failed, Aborted };
  static constexpr int64_t kNever = INT64_MAX;

  struct Job {
    std::string id;
    bool ingest = false;
    std::string jobType, object, operation, createdById;
    State state = State::InProgress;  // as stored; view() applies the lifecycle
    State finalState = State::JobComplete;
    int64_t createdMs = 0, modstampMs = 0;
    int64_t startAtMs = kNever, finishAtMs = kNever;  // absolute sim times
    int64_t closeStartMs = -1, closeFinishMs = -1;    // Open jobs: durations counted from close
    bool finishesOnAbort = false;
    bool deleted = false;
    double apiVersion = 62.0;
    int64_t numberRecords = 0;
  };
  struct View {
    State state;
    int64_t modstampMs;
    bool gone;
  };
  struct Snapshot {
    std::vector<uint32_t> jobs;  // indices into jobs_
  };
  struct PageFault {
    enum class Kind { RepeatLocator, DoneFalseWithoutUrl } kind;
    int page;
  };
  struct Route;

  int64_t nowLocked() const;
  View view(const Job& job, int64_t now) const;
  void settle(Job& job, int64_t now);  // stores view() into the job
  Job* findLocked(const std::string& id, bool ingest, int64_t now);
  std::string addJobLocked(const JobSeed& seed);

  SimResponse handleLocked(const SimRequest& request, int64_t now);
  SimResponse list(const Route& route, const std::string& query, int64_t now);
  SimResponse getJob(const Route& route, int64_t now);
  SimResponse patchJob(const Route& route, const std::string& body, int64_t now);
  SimResponse deleteJob(const Route& route, int64_t now);
  SimResponse limits() const;
  SimResponse tokenEndpoint(const SimRequest& request, int64_t now);
  bool tokenValidLocked(const std::string& token, int64_t now) const;
  SimResponse notFound(bool as400) const;

  void appendListRecord(std::string& out, const Job& job, const View& v) const;
  void appendCommon(std::string& out, const Job& job, const View& v) const;
  std::string shortInfo(const Job& job, const View& v) const;
  std::string fullInfo(const Job& job, const View& v, int64_t now) const;
  SimResponse withLimitInfo(SimResponse response) const;

  mutable std::mutex mutex_;
  SimOptions options_;
  std::mt19937_64 rng_;
  std::string pod_;
  std::string token_;
  bool revoked_ = false;
  int64_t apiUsed_ = 0;
  int64_t startWallMs_ = 0;
  std::chrono::steady_clock::time_point startSteady_;
  int64_t clockOffsetMs_ = 0;

  std::vector<Job> jobs_;
  std::unordered_map<std::string, uint32_t> index_;
  std::unordered_map<std::string, int64_t> applied_;
  std::unordered_map<std::string, Snapshot> snapshots_;
  std::deque<std::string> snapshotOrder_;

  std::vector<PageFault> pageFaults_;
  std::deque<SimResponse> canned_;
  struct NetFaultRule {
    NetFault fault;
    std::string method;
    std::chrono::milliseconds trickleEvery;
  };
  std::deque<NetFaultRule> netFaults_;
  double failureRate_ = 0.0;
  Counters counters_;

  SimOAuth oauth_;
  std::deque<SimResponse> cannedToken_;
  std::unordered_map<std::string, int64_t> issued_;  // token -> expiry (sim ms), kNever: none
  std::function<void(const SimRequest&)> hook_;
};

}  // namespace bulkwarden::sim
