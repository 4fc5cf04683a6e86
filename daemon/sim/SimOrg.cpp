#include "sim/SimOrg.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <iterator>
#include <stdexcept>

#include "sim/SimText.h"

namespace bulkwarden::sim {

namespace {

constexpr int64_t kSevenDaysMs = 7LL * 24 * 3600 * 1000;
constexpr std::size_t kMaxSnapshots = 64;  // listings whose locators stay valid at once
constexpr std::array<std::string_view, 6> kStateNames = {
    "Open", "UploadComplete", "InProgress", "JobComplete", "Failed", "Aborted"};

SimResponse errorResponse(int status, std::string_view code, std::string_view message) {
  SimResponse r;
  r.status = status;
  r.body =
      fmt::format(R"([{{"errorCode":{},"message":{}}}])", jsonString(code), jsonString(message));
  return r;
}

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string::npos ? path.size() : slash;
    if (end > start) segments.push_back(path.substr(start, end - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return segments;
}

// "v62.0" -> 62; -1 when the segment is not a version.
int parseVersion(const std::string& segment) {
  if (segment.size() != 5 || segment[0] != 'v' || segment[3] != '.') return -1;
  int major = 0;
  const auto [ptr, ec] = std::from_chars(segment.data() + 1, segment.data() + 3, major);
  if (ec != std::errc{} || ptr != segment.data() + 3 || segment[4] < '0' || segment[4] > '9') {
    return -1;
  }
  return major;
}

constexpr int kOldestVersion = 31;
constexpr int kNewestVersion = 66;

std::string versionLabel(int major) {
  // 62.0 is Winter '25; three releases a year: Winter, Spring, Summer.
  constexpr std::array<std::string_view, 3> kSeasons = {"Winter", "Spring", "Summer"};
  const int offset = major - 62;
  const int season = ((offset % 3) + 3) % 3;
  const int year = 25 + (offset - season) / 3;
  return fmt::format("{} '{:02d}", kSeasons[static_cast<std::size_t>(season)], year);
}

}  // namespace

struct SimOrg::Route {
  std::string base;  // "/services/data/v62.0"
  bool ingest = false;
  std::string id;
};

SimOrg::SimOrg(SimOptions options)
    : options_(std::move(options)),
      rng_(options_.seed),
      startWallMs_(std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count()),
      startSteady_(std::chrono::steady_clock::now()),
      oauth_(options_.oauth) {
  if (options_.pageSize < 1) throw std::invalid_argument("pageSize must be at least 1");
  if (options_.timeScale <= 0) throw std::invalid_argument("timeScale must be positive");
  constexpr std::array<std::string_view, 5> kPods = {"R0", "3h", "8Z", "Do", "5g"};
  pod_ = std::string(kPods[std::uniform_int_distribution<std::size_t>(0, kPods.size() - 1)(rng_)]);
  token_ = options_.token.empty() ? makeSessionToken(rng_) : options_.token;
  if (options_.scenario) {
    const Scenario scenario = std::move(*options_.scenario);
    options_.scenario.reset();
    addScenario(scenario);
  }
}

// ---------------------------------------------------------------------------------------------
// Clock and lifecycle

int64_t SimOrg::nowLocked() const {
  const std::chrono::duration<double, std::milli> elapsed =
      std::chrono::steady_clock::now() - startSteady_;
  return startWallMs_ + clockOffsetMs_ + static_cast<int64_t>(elapsed.count() * options_.timeScale);
}

int64_t SimOrg::nowMs() const {
  std::lock_guard lock(mutex_);
  return nowLocked();
}

std::string SimOrg::nowText() const { return formatTimestamp(nowMs()); }

void SimOrg::advanceClock(std::chrono::milliseconds by) {
  std::lock_guard lock(mutex_);
  clockOffsetMs_ += by.count();
}

SimOrg::View SimOrg::view(const Job& job, int64_t now) const {
  View v{job.state, job.modstampMs, job.deleted};
  if (v.state == State::UploadComplete && job.startAtMs <= now) {
    v.state = State::InProgress;
    v.modstampMs = job.startAtMs;
  }
  if (v.state == State::InProgress && job.finishAtMs <= now) {
    v.state = job.finalState;
    v.modstampMs = job.finishAtMs;
  }
  const bool terminal =
      v.state == State::JobComplete || v.state == State::Failed || v.state == State::Aborted;
  if (terminal && v.modstampMs + kSevenDaysMs <= now) v.gone = true;
  return v;
}

void SimOrg::settle(Job& job, int64_t now) {
  const View v = view(job, now);
  job.state = v.state;
  job.modstampMs = v.modstampMs;
  if (v.state != State::UploadComplete) job.startAtMs = kNever;
  if (v.state != State::UploadComplete && v.state != State::InProgress) job.finishAtMs = kNever;
}

SimOrg::Job* SimOrg::findLocked(const std::string& id, bool ingest, int64_t now) {
  const auto it = index_.find(id);
  if (it == index_.end()) return nullptr;
  Job& job = jobs_[it->second];
  // Bulk 1.0 (Classic) jobs are listed but not served by the Bulk 2.0 per-job resources.
  if (job.ingest != ingest || job.jobType == "Classic") return nullptr;
  settle(job, now);
  if (view(job, now).gone) {
    job.deleted = true;  // purged by the 7-day retention
    index_.erase(it);
    return nullptr;
  }
  return &job;
}

// ---------------------------------------------------------------------------------------------
// Jobs

std::string SimOrg::addJob(const JobSeed& seed) {
  std::lock_guard lock(mutex_);
  return addJobLocked(seed);
}

void SimOrg::addScenario(const Scenario& s) {
  std::lock_guard lock(mutex_);
  for (const auto& group : s.groups) {
    for (const auto& seed : expandGroup(group, rng_)) addJobLocked(seed);
  }
  for (const auto& seed : s.jobs) addJobLocked(seed);
}

std::string SimOrg::addJobLocked(const JobSeed& seed) {
  if (seed.kind != "query" && seed.kind != "ingest") {
    throw std::invalid_argument(fmt::format("job kind '{}': want query or ingest", seed.kind));
  }
  const auto stateIt = std::find(kStateNames.begin(), kStateNames.end(), seed.state);
  if (stateIt == kStateNames.end()) {
    throw std::invalid_argument(fmt::format("job state '{}' unknown", seed.state));
  }
  Job job;
  job.ingest = seed.kind == "ingest";
  job.state = static_cast<State>(stateIt - kStateNames.begin());
  if (job.state == State::Open && !job.ingest) {
    throw std::invalid_argument("only ingest jobs can be Open");
  }
  if (seed.finalState == "JobComplete") {
    job.finalState = State::JobComplete;
  } else if (seed.finalState == "Failed") {
    job.finalState = State::Failed;
  } else {
    throw std::invalid_argument(
        fmt::format("final state '{}': want JobComplete or Failed", seed.finalState));
  }
  job.jobType = !seed.jobType.empty() ? seed.jobType : (job.ingest ? "V2Ingest" : "V2Query");
  job.object = seed.object;
  job.operation = !seed.operation.empty() ? seed.operation : (job.ingest ? "insert" : "query");
  job.createdById = seed.createdById;
  job.finishesOnAbort = seed.finishesOnAbort;
  job.apiVersion = seed.apiVersion;
  const int64_t now = nowLocked();
  job.createdMs = now - seed.age.count();
  job.modstampMs = seed.modifiedAgo.count() < 0 ? job.createdMs : now - seed.modifiedAgo.count();
  if (seed.finishAfter) {
    const int64_t finish = std::max<int64_t>(seed.finishAfter->count(), 0);
    const int64_t start =
        std::clamp<int64_t>(seed.startAfter ? seed.startAfter->count() : finish / 2, 0, finish);
    if (job.state == State::Open) {
      job.closeStartMs = start;
      job.closeFinishMs = finish;
    } else if (job.state == State::UploadComplete) {
      job.startAtMs = now + start;
      job.finishAtMs = now + finish;
    } else if (job.state == State::InProgress) {
      job.finishAtMs = now + finish;
    }
  } else if (seed.startAfter && job.state == State::UploadComplete) {
    job.startAtMs = now + std::max<int64_t>(seed.startAfter->count(), 0);
  }
  if (seed.numberRecords >= 0) {
    job.numberRecords = seed.numberRecords;
  } else {
    // Spread over magnitudes: most jobs are small, a few are large.
    const int magnitude = std::uniform_int_distribution<int>(1, 6)(rng_);
    int64_t top = 1;
    for (int i = 0; i < magnitude; ++i) top *= 10;
    job.numberRecords = std::uniform_int_distribution<int64_t>(top / 10, top)(rng_);
  }
  if (seed.id.empty()) {
    do {
      job.id = makeSalesforceId("750", pod_, rng_);
    } while (index_.count(job.id) != 0);
  } else {
    if (index_.count(seed.id) != 0) {
      throw std::invalid_argument(fmt::format("job id '{}' already exists", seed.id));
    }
    job.id = seed.id;
  }
  index_.emplace(job.id, static_cast<uint32_t>(jobs_.size()));
  jobs_.push_back(std::move(job));
  return jobs_.back().id;
}

std::optional<std::string> SimOrg::state(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  const View v = view(jobs_[it->second], nowLocked());
  if (v.gone) return std::nullopt;
  return std::string(kStateNames[static_cast<std::size_t>(v.state)]);
}

std::vector<SimJob> SimOrg::jobs() const {
  std::lock_guard lock(mutex_);
  const int64_t now = nowLocked();
  std::vector<SimJob> out;
  out.reserve(jobs_.size());
  for (const Job& job : jobs_) {
    const View v = view(job, now);
    if (v.gone) continue;
    out.push_back(SimJob{job.id, job.ingest ? "ingest" : "query", job.jobType,
                         std::string(kStateNames[static_cast<std::size_t>(v.state)]), job.object,
                         job.operation, job.createdById, formatTimestamp(job.createdMs),
                         formatTimestamp(v.modstampMs)});
  }
  return out;
}

SimOrg::Counters SimOrg::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

int64_t SimOrg::appliedActions(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const auto it = applied_.find(id);
  return it == applied_.end() ? 0 : it->second;
}

int64_t SimOrg::apiUsed() const {
  std::lock_guard lock(mutex_);
  return apiUsed_;
}

void SimOrg::setApiUsed(int64_t used) {
  std::lock_guard lock(mutex_);
  apiUsed_ = used;
}

std::string SimOrg::token() const {
  std::lock_guard lock(mutex_);
  return token_;
}

void SimOrg::setToken(std::string token) {
  std::lock_guard lock(mutex_);
  token_ = std::move(token);
  revoked_ = false;
}

void SimOrg::revokeToken() {
  std::lock_guard lock(mutex_);
  revoked_ = true;
  issued_.clear();
}

void SimOrg::expireIssuedTokens() {
  std::lock_guard lock(mutex_);
  const int64_t now = nowLocked();
  for (auto& [token, expiry] : issued_) expiry = std::min(expiry, now);
}

std::vector<std::string> SimOrg::issuedTokens() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [token, expiry] : issued_) out.push_back(token);
  return out;
}

void SimOrg::setUserApproved(bool approved) {
  std::lock_guard lock(mutex_);
  oauth_.mutableOptions().userApproved = approved;
}

void SimOrg::respondToTokenRequests(int count, SimResponse response) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < count; ++i) cannedToken_.push_back(response);
}

void SimOrg::setInstanceUrl(std::string url) {
  std::lock_guard lock(mutex_);
  oauth_.mutableOptions().instanceUrl = std::move(url);
}

void SimOrg::setRequestHook(std::function<void(const SimRequest&)> hook) {
  std::lock_guard lock(mutex_);
  hook_ = std::move(hook);
}

bool SimOrg::tokenValidLocked(const std::string& token, int64_t now) const {
  if (token == token_) return !revoked_;
  const auto it = issued_.find(token);
  return it != issued_.end() && it->second > now;
}

// Token endpoint choices where BULK_API.md is silent: no Sforce-Limit-Info and no API usage
// (logins do not count against the allowance); a JWT's exp is checked against the wall clock
// (the client's clock), while issued tokens expire on the sim clock.
SimResponse SimOrg::tokenEndpoint(const SimRequest& request, int64_t now) {
  ++counters_.tokenRequests;
  if (!cannedToken_.empty()) {
    SimResponse r = std::move(cannedToken_.front());
    cannedToken_.pop_front();
    if (r.status != 200) ++counters_.tokenErrors;
    return r;
  }
  const TokenVerdict v = oauth_.check(request.method, request.contentType, request.body);
  SimResponse r;
  r.status = v.status;
  if (v.status != 200) {
    ++counters_.tokenErrors;
    r.body = SimOAuth::errorBody(v);
    return r;
  }
  std::string token = makeSessionToken(rng_);
  const auto lifetime = oauth_.options().tokenLifetime.count();
  issued_[token] = lifetime > 0 ? now + lifetime : kNever;
  ++counters_.tokensIssued;
  r.body = oauth_.successBody(token, now);
  r.headers.emplace_back("Cache-Control", "no-cache,must-revalidate,max-age=0,no-store,private");
  return r;
}

// ---------------------------------------------------------------------------------------------
// Faults

void SimOrg::repeatLocatorOnPage(int page) {
  std::lock_guard lock(mutex_);
  pageFaults_.push_back({PageFault::Kind::RepeatLocator, page});
}

void SimOrg::doneFalseWithoutUrlOnPage(int page) {
  std::lock_guard lock(mutex_);
  pageFaults_.push_back({PageFault::Kind::DoneFalseWithoutUrl, page});
}

void SimOrg::failNextRequests(int count, int status, std::string errorCode, std::string message) {
  SimResponse r = errorCode.empty() && message.empty() ? SimResponse{}
                                                       : errorResponse(status, errorCode, message);
  r.status = status;
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Token");
  respondNext(count, std::move(r));
}

void SimOrg::respondNext(int count, SimResponse response) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < count; ++i) canned_.push_back(response);
}

void SimOrg::clearFaults() {
  std::lock_guard lock(mutex_);
  pageFaults_.clear();
  canned_.clear();
  cannedToken_.clear();
  netFaults_.clear();
  failureRate_ = 0.0;
}

void SimOrg::injectNetFault(int count, NetFault fault, std::string method,
                            std::chrono::milliseconds trickleEvery) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < count; ++i) netFaults_.push_back({fault, method, trickleEvery});
}

void SimOrg::setFailureRate(double rate) {
  std::lock_guard lock(mutex_);
  failureRate_ = rate;
}

// ---------------------------------------------------------------------------------------------
// HTTP surface

SimResponse SimOrg::withLimitInfo(SimResponse response) const {
  response.headers.emplace_back("Sforce-Limit-Info",
                                fmt::format("api-usage={}/{}", apiUsed_, options_.apiMax));
  return response;
}

SimResponse SimOrg::notFound(bool as400) const {
  return errorResponse(as400 ? 400 : 404, "NOT_FOUND", "The requested resource does not exist");
}

SimResponse SimOrg::handle(const SimRequest& request) {
  std::function<void(const SimRequest&)> hook;
  {
    std::lock_guard lock(mutex_);
    hook = hook_;
  }
  if (hook) hook(request);
  std::lock_guard lock(mutex_);
  ++counters_.requests;
  const int64_t now = nowLocked();
  std::optional<NetFaultRule> net;
  for (auto it = netFaults_.begin(); it != netFaults_.end(); ++it) {
    if (it->method.empty() || it->method == request.method) {
      net = *it;
      netFaults_.erase(it);
      break;
    }
  }
  if (net && net->fault == NetFault::ResetBeforeApply) {
    SimResponse reset;
    reset.netFault = NetFault::ResetBeforeApply;
    return reset;
  }
  if (failureRate_ > 0.0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < failureRate_) {
    return errorResponse(503, "SERVER_UNAVAILABLE", "Server too busy");
  }
  SimResponse response = handleLocked(request, now);
  if (net) {
    response.netFault = net->fault;
    response.trickleEvery = net->trickleEvery;
  }
  response.headers.emplace_back("Date",
                                Poco::DateTimeFormatter::format(Poco::Timestamp(now * 1000),
                                                                Poco::DateTimeFormat::HTTP_FORMAT));
  return response;
}

SimResponse SimOrg::handleLocked(const SimRequest& request, int64_t now) {
  if (!canned_.empty()) {
    SimResponse r = std::move(canned_.front());
    canned_.pop_front();
    // A scripted client error still counts against the allowance; 401 and 5xx do not.
    if (r.status != 401 && r.status < 500) {
      ++apiUsed_;
      return withLimitInfo(std::move(r));
    }
    return r;
  }

  std::string path;
  std::string query;
  try {
    const Poco::URI uri(request.uri);
    path = uri.getPath();
    query = uri.getRawQuery();
  } catch (const Poco::Exception&) {
    return errorResponse(400, "INVALID_URL", "The URL could not be parsed");
  }
  const auto segments = splitPath(path);
  if (segments.size() == 3 && segments[0] == "services" && segments[1] == "oauth2" &&
      segments[2] == "token") {
    return tokenEndpoint(request, now);
  }
  const bool underData = segments.size() >= 2 && segments[0] == "services" && segments[1] == "data";

  // The Versions resource needs no session and carries no Sforce-Limit-Info.
  if (underData && segments.size() == 2) {
    if (request.method != "GET") {
      SimResponse r = errorResponse(
          405, "METHOD_NOT_ALLOWED",
          fmt::format("HTTP Method '{}' not allowed. Allowed are GET", request.method));
      r.headers.emplace_back("Allow", "GET");
      return r;
    }
    std::string body = "[";
    for (int v = kOldestVersion; v <= kNewestVersion; ++v) {
      if (v > kOldestVersion) body += ',';
      fmt::format_to(std::back_inserter(body),
                     R"({{"label":{},"url":"/services/data/v{}.0","version":"{}.0"}})",
                     jsonString(versionLabel(v)), v, v);
    }
    body += ']';
    SimResponse r;
    r.body = std::move(body);
    return r;
  }

  const std::string& auth = request.authorization;
  constexpr std::string_view kBearer = "Bearer ";
  const bool authorized = auth.size() > kBearer.size() &&
                          auth.compare(0, kBearer.size(), kBearer) == 0 &&
                          tokenValidLocked(auth.substr(kBearer.size()), now);
  if (!authorized) {
    ++counters_.unauthorized;
    SimResponse r;
    r.status = 401;
    r.body = R"([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}])";
    r.headers.emplace_back("WWW-Authenticate", "Token");
    return r;
  }
  if (apiUsed_ >= options_.apiMax) {
    return withLimitInfo(
        errorResponse(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."));
  }
  ++apiUsed_;

  if (!underData || segments.size() < 3) return withLimitInfo(notFound(false));
  const int version = parseVersion(segments[2]);
  if (version < 0 || version > kNewestVersion) return withLimitInfo(notFound(false));
  if (version < kOldestVersion) {
    return withLimitInfo(errorResponse(
        410, "GONE", fmt::format("API version {} has been retired", segments[2].substr(1))));
  }
  auto methodNotAllowed = [&](std::string_view allowed) {
    SimResponse r = errorResponse(
        405, "METHOD_NOT_ALLOWED",
        fmt::format("HTTP Method '{}' not allowed. Allowed are {}", request.method, allowed));
    r.headers.emplace_back("Allow", std::string(allowed));
    return withLimitInfo(std::move(r));
  };

  Route route;
  route.base = "/services/data/" + segments[2];
  if (segments.size() == 4 && segments[3] == "limits") {
    if (request.method != "GET") return methodNotAllowed("GET");
    return withLimitInfo(limits());
  }
  if (segments.size() < 5 || segments.size() > 6 || segments[3] != "jobs" ||
      (segments[4] != "query" && segments[4] != "ingest")) {
    return withLimitInfo(notFound(false));
  }
  route.ingest = segments[4] == "ingest";
  if (segments.size() == 5) {
    if (request.method != "GET") return methodNotAllowed("GET");
    ++counters_.lists;
    return withLimitInfo(list(route, query, now));
  }
  route.id = segments[5];
  if (request.method == "GET") {
    ++counters_.gets;
    return withLimitInfo(getJob(route, now));
  }
  if (request.method == "PATCH") {
    ++counters_.patches;
    return withLimitInfo(patchJob(route, request.body, now));
  }
  if (request.method == "DELETE") {
    ++counters_.deletes;
    return withLimitInfo(deleteJob(route, now));
  }
  return methodNotAllowed("GET,PATCH,DELETE");
}

SimResponse SimOrg::limits() const {
  SimResponse r;
  r.body = fmt::format(
      R"({{"DailyApiRequests":{{"Max":{},"Remaining":{}}},"DailyBulkV2QueryJobs":{{"Max":10000,"Remaining":10000}},"DailyBulkApiBatches":{{"Max":15000,"Remaining":15000}}}})",
      options_.apiMax, std::max<int64_t>(options_.apiMax - apiUsed_, 0));
  return r;
}

SimResponse SimOrg::list(const Route& route, const std::string& query, int64_t now) {
  std::string locator;
  std::string jobType;
  try {
    for (const auto& [key, value] : Poco::URI("?" + query).getQueryParameters()) {
      if (key == "queryLocator") locator = value;
      if (key == "jobType") jobType = value;
    }
  } catch (const Poco::Exception&) {
    return errorResponse(400, "INVALID_URL", "The query string could not be parsed");
  }

  std::string snapshotId;
  std::size_t offset = 0;
  if (locator.empty()) {
    if (!jobType.empty() && jobType != "V2Query" && jobType != "V2Ingest" && jobType != "Classic" &&
        jobType != "BigObjectIngest") {
      return errorResponse(400, "INVALIDJOBTYPE", fmt::format("Invalid jobType: {}", jobType));
    }
    Snapshot snapshot;
    snapshot.jobs.reserve(jobs_.size());
    for (std::size_t i = 0; i < jobs_.size(); ++i) {
      Job& job = jobs_[i];
      if (job.deleted) continue;
      if (view(job, now).gone) {
        job.deleted = true;  // purged by the 7-day retention
        index_.erase(job.id);
        continue;
      }
      // /jobs/query lists "all query jobs ... and all Bulk API jobs"; /jobs/ingest all but V2Query.
      const bool wanted = !jobType.empty() ? job.jobType == jobType
                          : route.ingest   ? job.jobType != "V2Query"
                                           : job.jobType == "V2Query" || job.jobType == "Classic";
      if (wanted) snapshot.jobs.push_back(static_cast<uint32_t>(i));
    }
    std::shuffle(snapshot.jobs.begin(), snapshot.jobs.end(), rng_);
    do {
      snapshotId = makeSalesforceId("01g", pod_, rng_);
    } while (snapshots_.count(snapshotId) != 0);
    snapshots_.emplace(snapshotId, std::move(snapshot));
    snapshotOrder_.push_back(snapshotId);
    if (snapshotOrder_.size() > kMaxSnapshots) {
      snapshots_.erase(snapshotOrder_.front());
      snapshotOrder_.pop_front();
    }
  } else {
    const auto dash = locator.rfind('-');
    bool valid = dash == 18;
    if (valid) {
      snapshotId = locator.substr(0, dash);
      const auto* begin = locator.data() + dash + 1;
      const auto* end = locator.data() + locator.size();
      const auto [ptr, ec] = std::from_chars(begin, end, offset);
      valid = ec == std::errc{} && ptr == end && begin != end;
    }
    const auto it = valid ? snapshots_.find(snapshotId) : snapshots_.end();
    if (it == snapshots_.end() || offset > it->second.jobs.size()) {
      return errorResponse(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
    }
  }

  const Snapshot& snapshot = snapshots_.at(snapshotId);
  const auto pageSize = static_cast<std::size_t>(options_.pageSize);
  const std::size_t end = std::min(snapshot.jobs.size(), offset + pageSize);
  const int page = static_cast<int>(offset / pageSize) + 1;
  bool done = end >= snapshot.jobs.size();
  // A plain value and a flag: GCC 12 at -O2 misreads an optional here as maybe uninitialised.
  bool hasNext = !done;
  std::size_t nextOffset = end;
  const auto fault = std::find_if(pageFaults_.begin(), pageFaults_.end(),
                                  [page](const PageFault& f) { return f.page == page; });
  if (fault != pageFaults_.end()) {
    if (fault->kind == PageFault::Kind::RepeatLocator) {
      // The locator the client just used (page N-1's nextRecordsUrl) comes back again.
      done = false;
      hasNext = true;
      nextOffset = offset;
    } else {
      done = false;
      hasNext = false;
    }
    pageFaults_.erase(fault);
  }

  std::string out;
  out.reserve((end - offset) * 420 + 160);
  out += R"({"done":)";
  out += done ? "true" : "false";
  out += R"(,"records":[)";
  bool first = true;
  for (std::size_t k = offset; k < end; ++k) {
    const Job& job = jobs_[snapshot.jobs[k]];
    const View v = view(job, now);
    if (v.gone) continue;  // deleted or purged since the listing began
    if (!first) out += ',';
    first = false;
    appendListRecord(out, job, v);
    out += '}';
  }
  out += R"(],"nextRecordsUrl":)";
  if (hasNext) {
    const bool ingestPath = route.ingest || options_.queryNextUrlOnIngestPath;
    fmt::format_to(std::back_inserter(out), R"("{}/jobs/{}?queryLocator={}-{}")", route.base,
                   ingestPath ? "ingest" : "query", snapshotId, nextOffset);
  } else {
    out += "null";
  }
  out += '}';
  SimResponse r;
  r.body = std::move(out);
  return r;
}

void SimOrg::appendCommon(std::string& out, const Job& job, const View& v) const {
  out += R"({"id":")";
  out += job.id;  // generated or validated ids need no escaping, but seeds may carry anything
  out += R"(","operation":")";
  appendJsonEscaped(out, job.operation);
  out += R"(","object":")";
  appendJsonEscaped(out, job.object);
  out += R"(","createdById":")";
  appendJsonEscaped(out, job.createdById);
  out += R"(","createdDate":")";
  appendTimestamp(out, job.createdMs);
  out += R"(","systemModstamp":")";
  appendTimestamp(out, v.modstampMs);
  out += R"(","state":")";
  out += kStateNames[static_cast<std::size_t>(v.state)];
  fmt::format_to(std::back_inserter(out),
                 R"(","concurrencyMode":"Parallel","contentType":"CSV","apiVersion":{:.1f})",
                 job.apiVersion);
}

void SimOrg::appendListRecord(std::string& out, const Job& job, const View& v) const {
  appendCommon(out, job, v);
  out += R"(,"jobType":")";
  appendJsonEscaped(out, job.jobType);
  out += R"(","lineEnding":"LF","columnDelimiter":"COMMA")";
}

std::string SimOrg::shortInfo(const Job& job, const View& v) const {
  std::string out;
  appendCommon(out, job, v);
  out += '}';
  return out;
}

std::string SimOrg::fullInfo(const Job& job, const View& v, int64_t now) const {
  std::string out;
  appendListRecord(out, job, v);
  int64_t processed = 0;
  int64_t total = 0;
  switch (v.state) {
    case State::Open:
    case State::UploadComplete:
      break;
    case State::InProgress:
      processed =
          job.finishAtMs == kNever || job.finishAtMs <= v.modstampMs
              ? job.numberRecords / 3
              : job.numberRecords *
                    std::clamp<int64_t>(now - v.modstampMs, 0, job.finishAtMs - v.modstampMs) /
                    (job.finishAtMs - v.modstampMs);
      total = std::max<int64_t>(now - v.modstampMs, 0) / 2;
      break;
    case State::JobComplete:
      processed = job.numberRecords;
      total = std::clamp<int64_t>((v.modstampMs - job.createdMs) * 4 / 5, 0, 3'600'000);
      break;
    case State::Failed:
      processed = job.numberRecords / 2;
      total = std::clamp<int64_t>((v.modstampMs - job.createdMs) * 4 / 5, 0, 3'600'000);
      break;
    case State::Aborted:
      processed = job.numberRecords / 4;
      total = std::clamp<int64_t>((v.modstampMs - job.createdMs) / 2, 0, 3'600'000);
      break;
  }
  const bool failed = v.state == State::Failed;
  fmt::format_to(std::back_inserter(out), R"(,"numberRecordsProcessed":{},"retries":{})", processed,
                 failed ? 2 : 0);
  fmt::format_to(std::back_inserter(out), R"(,"totalProcessingTime":{})", total);
  if (job.ingest) {
    fmt::format_to(
        std::back_inserter(out),
        R"(,"numberRecordsFailed":{},"apexProcessingTime":0,"apiActiveProcessingTime":{})",
        failed ? std::max<int64_t>(1, job.numberRecords / 10) : 0, total * 3 / 4);
    if (v.state == State::Open) {
      fmt::format_to(std::back_inserter(out),
                     R"(,"contentUrl":"services/data/v{:.1f}/jobs/ingest/{}/batches")",
                     job.apiVersion, job.id);
    }
    if (failed) out += R"(,"errorMessage":"InvalidBatch : Max retry attempts exceeded")";
  } else {
    out += R"(,"isPkChunkingSupported":true)";
    if (failed) out += R"(,"errorMessage":"InternalServerError : Retried more than 15 times")";
  }
  out += '}';
  return out;
}

SimResponse SimOrg::getJob(const Route& route, int64_t now) {
  const Job* job = findLocked(route.id, route.ingest, now);
  if (job == nullptr) return notFound(false);
  SimResponse r;
  r.body = fullInfo(*job, view(*job, now), now);
  return r;
}

SimResponse SimOrg::patchJob(const Route& route, const std::string& body, int64_t now) {
  std::string wanted;
  try {
    Poco::JSON::Parser parser;
    const auto parsed = parser.parse(body);
    const auto object = parsed.extract<Poco::JSON::Object::Ptr>();
    if (object.isNull()) throw Poco::Exception("not an object");
    for (const auto& name : object->getNames()) {
      if (name != "state") {
        return errorResponse(400, "JSON_PARSER_ERROR",
                             fmt::format("Unrecognized field \"{}\"", name));
      }
    }
    if (!object->has("state") || !object->get("state").isString()) {
      return errorResponse(400, "INVALIDJOBSTATE", "The job state is missing or not a string");
    }
    wanted = object->getValue<std::string>("state");
  } catch (const Poco::Exception& e) {
    return errorResponse(400, "JSON_PARSER_ERROR",
                         fmt::format("Cannot deserialize the request body: {}", e.message()));
  } catch (const std::exception& e) {
    return errorResponse(400, "JSON_PARSER_ERROR",
                         fmt::format("Cannot deserialize the request body: {}", e.what()));
  }

  Job* job = findLocked(route.id, route.ingest, now);
  if (job == nullptr) return notFound(options_.notFoundAs400);
  auto stateWord = [](State s) {
    switch (s) {
      case State::JobComplete:
        return "Completed";
      case State::Failed:
        return "Failed";
      case State::Aborted:
        return "Aborted";
      default:
        return "Active";
    }
  };

  if (wanted == "Aborted") {
    const bool abortable = job->state == State::UploadComplete || job->state == State::InProgress ||
                           (job->ingest && job->state == State::Open);
    if (abortable && job->finishesOnAbort) {
      // The race of BULK_API.md section 11: it finished between the list and this abort.
      job->state = job->finalState;
      job->modstampMs = now;
      job->startAtMs = job->finishAtMs = kNever;
      job->finishesOnAbort = false;
    } else if (abortable) {
      job->state = State::Aborted;
      job->modstampMs = now;
      job->startAtMs = job->finishAtMs = kNever;
      ++counters_.appliedAborts;
      ++applied_[job->id];
      SimResponse r;
      r.body = shortInfo(*job, view(*job, now));
      return r;
    }
    return errorResponse(400, "INVALIDJOBSTATE",
                         fmt::format("Aborting already {} Job not allowed", stateWord(job->state)));
  }
  if (wanted == "UploadComplete" && job->ingest) {
    if (job->state != State::Open) {
      return errorResponse(
          400, "INVALIDJOBSTATE",
          fmt::format("Closing already {} Job not allowed",
                      job->state == State::UploadComplete || job->state == State::InProgress
                          ? "Closed"
                          : stateWord(job->state)));
    }
    job->state = State::UploadComplete;
    job->modstampMs = now;
    if (job->closeFinishMs >= 0) {
      job->startAtMs = now + job->closeStartMs;
      job->finishAtMs = now + job->closeFinishMs;
    }
    SimResponse r;
    r.body = shortInfo(*job, view(*job, now));
    return r;
  }
  return errorResponse(400, "INVALIDJOBSTATE",
                       fmt::format("Invalid state transition to {} for a {} job", wanted,
                                   job->ingest ? "ingest" : "query"));
}

SimResponse SimOrg::deleteJob(const Route& route, int64_t now) {
  Job* job = findLocked(route.id, route.ingest, now);
  if (job == nullptr) return notFound(options_.notFoundAs400);
  const bool deletable = job->state == State::JobComplete || job->state == State::Aborted ||
                         job->state == State::Failed ||
                         (job->ingest && job->state == State::UploadComplete);
  if (!deletable) {
    return errorResponse(
        400, "API_ERROR",
        "Error encountered when deleting the job because the job is not terminated");
  }
  job->deleted = true;
  index_.erase(job->id);
  ++counters_.appliedDeletes;
  ++applied_[route.id];
  SimResponse r;
  r.status = 204;
  r.contentType.clear();
  return r;
}

}  // namespace bulkwarden::sim
