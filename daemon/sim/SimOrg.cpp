#include "sim/SimOrg.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>
#include <fmt/format.h>

#include <Poco/Exception.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <iterator>
#include <stdexcept>

#include "sim/SimRender.h"
#include "sim/SimText.h"

namespace bulkwarden::sim {

namespace {

constexpr int kOldestVersion = 31;
constexpr int kNewestVersion = 67;

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

// The instance's two-character pod in ids, drawn from the seed.
std::string drawPod(std::mt19937_64& rng) {
  constexpr std::array<std::string_view, 5> kPods = {"R0", "3h", "8Z", "Do", "5g"};
  return std::string(kPods[std::uniform_int_distribution<std::size_t>(0, kPods.size() - 1)(rng)]);
}

// A refresh token shaped like Salesforce's: "5Aep861" and 80 characters of [A-Za-z0-9._].
std::string makeRefreshToken(std::mt19937_64& rng) {
  constexpr std::string_view kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
  std::uniform_int_distribution<std::size_t> pick(0, kChars.size() - 1);
  std::string out = "5Aep861";
  for (int i = 0; i < 80; ++i) out += kChars[pick(rng)];
  return out;
}

SimResponse methodNotAllowed(std::string_view method, std::string_view allowed) {
  SimResponse r =
      render::error(405, "METHOD_NOT_ALLOWED",
                    fmt::format("HTTP Method '{}' not allowed. Allowed are {}", method, allowed));
  r.headers.emplace_back("Allow", std::string(allowed));
  return r;
}

}  // namespace

SimOrg::SimOrg(SimOptions options)
    : options_(std::move(options)),
      startWallMs_(std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count()),
      startSteady_(std::chrono::steady_clock::now()),
      store_(options_.seed,
             [&] {
               std::mt19937_64 rng(options_.seed);
               return drawPod(rng);
             }()),
      faults_(options_.seed),
      sessionRng_(options_.seed),
      oauth_(options_.oauth),
      arrivalsRng_(options_.seed ^ 0x9e3779b97f4a7c15ULL) {
  if (options_.pageSize < 1) throw std::invalid_argument("pageSize must be at least 1");
  if (options_.timeScale <= 0) throw std::invalid_argument("timeScale must be positive");
  if (options_.clockEpochMs > 0) {
    // The clock reads epoch + (wall - epoch) * scale: start there, as if it began at the epoch.
    const int64_t wallMs = startWallMs_;
    startWallMs_ = options_.clockEpochMs +
                   static_cast<int64_t>(static_cast<double>(wallMs - options_.clockEpochMs) *
                                        options_.timeScale);
  }
  if (options_.failRate < 0 || options_.failRate > 1) {
    throw std::invalid_argument("failRate must be in [0, 1]");
  }
  if (options_.failRate > 0) faults_.setFailureRate(options_.failRate);
  faults_.setRetryAfter(options_.failRetryAfterSeconds);
  const int64_t start = nowMs();
  if (options_.apiUsedAtStart > 0) {
    useAllowanceLocked(start - options_.apiUsedAgo.count(), options_.apiUsedAtStart);
  }
  if (options_.grantManageDataIntegrationsAfter) {
    grantAtMs_ = start + options_.grantManageDataIntegrationsAfter->count();
  }
  nextArrivalMs_ = start + options_.newJobsEvery.count();
  pod_ = drawPod(sessionRng_);
  manageDataIntegrations_ = options_.manageDataIntegrations;
  if (options_.failEvery > 0) faults_.failEvery(options_.failEvery, options_.failRetryAfterSeconds);
  token_ = options_.token.empty() ? makeSessionToken(sessionRng_) : options_.token;
  if (options_.scenario) {
    const Scenario scenario = std::move(*options_.scenario);
    options_.scenario.reset();
    addScenario(scenario);
  }
  buildRoutes();
}

void SimOrg::buildRoutes() {
  // Sessionless: the token endpoint (every method; it answers a wrong one itself) and the
  // Versions resource.
  routes_.add("/services/oauth2/token", "*", RouteAuth::None,
              [this](const RouteCall& c) { return tokenEndpoint(c); });
  routes_.add("/services/data", "GET", RouteAuth::None, [](const RouteCall&) {
    SimResponse r;
    r.body = render::versions(kOldestVersion, kNewestVersion);
    return r;
  });
  routes_.add("/services/data/{version}/limits", "GET", RouteAuth::Bearer,
              [this](const RouteCall&) {
                SimResponse r;
                r.body = render::limits(options_.apiMax, apiUsed());
                return r;
              });
  for (const bool ingest : {false, true}) {
    const std::string jobs =
        ingest ? "/services/data/{version}/jobs/ingest" : "/services/data/{version}/jobs/query";
    routes_.add(jobs, "GET", RouteAuth::Bearer,
                [this, ingest](const RouteCall& c) { return list(c, ingest); });
    routes_.add(jobs + "/{id}", "GET", RouteAuth::Bearer,
                [this, ingest](const RouteCall& c) { return getJob(c, ingest); });
    routes_.add(jobs + "/{id}", "PATCH", RouteAuth::Bearer,
                [this, ingest](const RouteCall& c) { return patchJob(c, ingest); });
    routes_.add(jobs + "/{id}", "DELETE", RouteAuth::Bearer,
                [this, ingest](const RouteCall& c) { return deleteJob(c, ingest); });
  }
  // Who the session's user is, and what it may do (validate --connect asks both).
  routes_.add("/services/oauth2/userinfo", "GET", RouteAuth::Bearer,
              [this](const RouteCall&) { return userInfo(); });
  routes_.add("/services/data/{version}/query", "GET", RouteAuth::Bearer,
              [this](const RouteCall& c) { return soqlQuery(c); });
  // Bulk API 1.0: the job resource (get, and abort or close by POST).
  for (const char* method : {"GET", "POST"}) {
    routes_.add("/services/async/{version}/job/{id}", method, RouteAuth::SfdcSession,
                [this](const RouteCall& c) { return classicJob(c); });
  }
}

// ---------------------------------------------------------------------------------------------
// Clock

int64_t SimOrg::nowMs() const {
  const std::chrono::duration<double, std::milli> elapsed =
      std::chrono::steady_clock::now() - startSteady_;
  return startWallMs_ + clockOffsetMs_.load() +
         static_cast<int64_t>(elapsed.count() * options_.timeScale);
}

std::string SimOrg::nowText() const { return formatTimestamp(nowMs()); }

void SimOrg::advanceClock(std::chrono::milliseconds by) { clockOffsetMs_ += by.count(); }

// ---------------------------------------------------------------------------------------------
// Jobs

void SimOrg::addArrivingJobs(int64_t now) {
  std::lock_guard lock(arrivalsMutex_);
  const std::string user = oauth_.options().userId;  // set at start, never changed
  while (nextArrivalMs_ <= now) {
    JobGroup g = arrivingJob(arrivalsRng_, user);
    const std::chrono::milliseconds age(now - nextArrivalMs_);
    g.age = DurationRange{age, age};
    for (JobSeed seed : expandGroup(g, arrivalsRng_)) {
      // Lifecycles count from the arrival, not from now.
      if (seed.finishAfter) seed.finishAfter = *seed.finishAfter - age;
      if (seed.startAfter) seed.startAfter = *seed.startAfter - age;
      store_.add(seed, now);
    }
    {
      std::lock_guard meter(meterMutex_);
      ++counters_.arrivedJobs;
    }
    nextArrivalMs_ += options_.newJobsEvery.count();
  }
}

std::string SimOrg::addJob(const JobSeed& seed) { return store_.add(seed, nowMs()); }

void SimOrg::addScenario(const Scenario& s) { store_.addScenario(s, nowMs()); }

std::optional<std::string> SimOrg::state(const std::string& id) const {
  return store_.state(id, nowMs());
}

std::vector<SimJob> SimOrg::jobs() const { return store_.jobs(nowMs()); }

SimOrg::Counters SimOrg::counters() const {
  Counters c;
  {
    std::lock_guard lock(meterMutex_);
    c = counters_;
  }
  c.appliedAborts = store_.appliedAborts();
  c.appliedDeletes = store_.appliedDeletes();
  return c;
}

int64_t SimOrg::appliedActions(const std::string& id) const { return store_.appliedActions(id); }

// ---------------------------------------------------------------------------------------------
// Allowance

namespace {
constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kDayMs = 24 * 60 * kMinuteMs;
}  // namespace

void SimOrg::useAllowanceLocked(int64_t now, int64_t calls) {
  const int64_t minute = now / kMinuteMs;
  if (!usage_.empty() && usage_.back().first >= minute) {
    usage_.back().second += calls;  // (a clock moved back by a test: counted with the last)
  } else {
    usage_.emplace_back(minute, calls);
  }
  usageSum_ += calls;
}

void SimOrg::countForbidden() {
  std::lock_guard lock(meterMutex_);
  ++counters_.forbidden;
}

int64_t SimOrg::usedLocked(int64_t now) const {
  while (!usage_.empty() && (usage_.front().first + 1) * kMinuteMs <= now - kDayMs) {
    usageSum_ -= usage_.front().second;
    usage_.pop_front();
  }
  return usageSum_;
}

int64_t SimOrg::apiUsed() const {
  const int64_t now = nowMs();
  std::lock_guard lock(meterMutex_);
  return usedLocked(now);
}

void SimOrg::setApiUsed(int64_t used) {
  const int64_t now = nowMs();
  std::lock_guard lock(meterMutex_);
  usage_.clear();
  usageSum_ = 0;
  if (used > 0) useAllowanceLocked(now, used);
}

bool SimOrg::useAllowance() {
  const int64_t now = nowMs();
  std::lock_guard lock(meterMutex_);
  if (usedLocked(now) >= options_.apiMax) {
    ++counters_.dailyLimited;
    return false;
  }
  useAllowanceLocked(now, 1);
  return true;
}

SimResponse SimOrg::withLimitInfo(SimResponse response) const {
  response.headers.emplace_back("Sforce-Limit-Info",
                                fmt::format("api-usage={}/{}", apiUsed(), options_.apiMax));
  return response;
}

// ---------------------------------------------------------------------------------------------
// Sessions

std::string SimOrg::token() const {
  std::lock_guard lock(sessionMutex_);
  return token_;
}

void SimOrg::setToken(std::string token) {
  std::lock_guard lock(sessionMutex_);
  token_ = std::move(token);
  revoked_ = false;
}

std::string SimOrg::refreshToken() const {
  std::lock_guard lock(sessionMutex_);
  return oauth_.options().refreshToken;
}

void SimOrg::setManageDataIntegrations(bool allowed) {
  std::lock_guard lock(sessionMutex_);
  manageDataIntegrations_ = allowed;
}

JobStore::Caller SimOrg::caller() const {
  const bool granted = grantAtMs_ >= 0 && nowMs() >= grantAtMs_;
  std::lock_guard lock(sessionMutex_);
  return {oauth_.options().userId, manageDataIntegrations_ || granted};
}

void SimOrg::exceedConcurrentLimitFor(std::chrono::milliseconds window) {
  faults_.exceedConcurrentLimitUntil(std::chrono::steady_clock::now() + window);
}

void SimOrg::failEvery(int n, int retryAfterSeconds) { faults_.failEvery(n, retryAfterSeconds); }

void SimOrg::revokeToken() {
  std::lock_guard lock(sessionMutex_);
  revoked_ = true;
  issued_.clear();
}

void SimOrg::expireIssuedTokens() {
  const int64_t now = nowMs();
  std::lock_guard lock(sessionMutex_);
  for (auto& [token, expiry] : issued_) expiry = std::min(expiry, now);
}

std::vector<std::string> SimOrg::issuedTokens() const {
  std::lock_guard lock(sessionMutex_);
  std::vector<std::string> out;
  for (const auto& [token, expiry] : issued_) out.push_back(token);
  return out;
}

void SimOrg::setUserApproved(bool approved) {
  std::lock_guard lock(sessionMutex_);
  oauth_.mutableOptions().userApproved = approved;
}

void SimOrg::respondToTokenRequests(int count, SimResponse response) {
  faults_.respondToTokenRequests(count, response);
}

void SimOrg::setInstanceUrl(std::string url) {
  std::lock_guard lock(sessionMutex_);
  oauth_.mutableOptions().instanceUrl = std::move(url);
}

void SimOrg::setRequestHook(std::function<void(const SimRequest&)> hook) {
  std::lock_guard lock(hookMutex_);
  hook_ = std::move(hook);
}

bool SimOrg::sessionValid(const std::string& token, int64_t now) const {
  std::lock_guard lock(sessionMutex_);
  if (token == token_) return !revoked_;
  const auto it = issued_.find(token);
  return it != issued_.end() && it->second > now;
}

// Token endpoint choices where docs/salesforce.md is silent: no Sforce-Limit-Info and no API usage
// (logins do not count against the allowance); a JWT's exp is checked against the wall clock
// (the client's clock), while issued tokens expire on the sim clock.
SimResponse SimOrg::tokenEndpoint(const RouteCall& call) {
  {
    std::lock_guard lock(meterMutex_);
    ++counters_.tokenRequests;
  }
  auto countError = [this] {
    std::lock_guard lock(meterMutex_);
    ++counters_.tokenErrors;
  };
  if (auto scripted = faults_.takeTokenReply()) {
    if (scripted->status != 200) countError();
    return std::move(*scripted);
  }
  const SimRequest& request = *call.request;
  SimResponse r;
  std::unique_lock lock(sessionMutex_);
  const TokenVerdict v = oauth_.check(request.method, request.contentType, request.body);
  r.status = v.status;
  if (v.status != 200) {
    lock.unlock();
    countError();
    r.body = SimOAuth::errorBody(v);
    return r;
  }
  std::string token = makeSessionToken(sessionRng_);
  const auto lifetime = oauth_.options().tokenLifetime.count();
  issued_[token] = lifetime > 0 ? call.now + lifetime : kNeverMs;
  std::string rotated;
  if (v.grant == "refresh_token" && oauth_.options().rotateRefreshTokens) {
    // Rotation: a new refresh token with each refresh; the one just used stops working now.
    rotated = makeRefreshToken(sessionRng_);
    oauth_.mutableOptions().refreshToken = rotated;
  }
  const bool didRotate = !rotated.empty();
  r.body = oauth_.successBody(token, call.now, rotated);
  lock.unlock();
  {
    std::lock_guard meter(meterMutex_);
    ++counters_.tokensIssued;
    if (didRotate) ++counters_.rotations;
  }
  r.headers.emplace_back("Cache-Control", "no-cache,must-revalidate,max-age=0,no-store,private");
  return r;
}

// ---------------------------------------------------------------------------------------------
// Faults

void SimOrg::repeatLocatorOnPage(int page) { faults_.repeatLocatorOnPage(page); }

void SimOrg::doneFalseWithoutUrlOnPage(int page) { faults_.doneFalseWithoutUrlOnPage(page); }

void SimOrg::failNextRequests(int count, int status, std::string errorCode, std::string message) {
  SimResponse r = errorCode.empty() && message.empty() ? SimResponse{}
                                                       : render::error(status, errorCode, message);
  r.status = status;
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Token");
  respondNext(count, std::move(r));
}

void SimOrg::respondNext(int count, SimResponse response) { faults_.respondNext(count, response); }

void SimOrg::clearFaults() { faults_.clear(); }

void SimOrg::injectNetFault(int count, NetFault fault, std::string method,
                            std::chrono::milliseconds trickleEvery) {
  faults_.injectNetFault(count, fault, method, trickleEvery);
}

void SimOrg::setFailureRate(double rate) { faults_.setFailureRate(rate); }

// ---------------------------------------------------------------------------------------------
// HTTP surface

// Bulk's InvalidUser: "Either the user sending a Bulk API request doesn't have the correct
// permission, or the job or batch specified was created by another user." Salesforce documents
// neither the status nor the exact code for Bulk 2.0; 403 (refused: permissions) is the likeliest.
namespace {
SimResponse invalidUser() {
  return render::error(403, "INVALIDUSER",
                       "Either the user sending a Bulk API request doesn't have the correct "
                       "permission, or the job or batch specified was created by another user.");
}
}  // namespace

SimResponse SimOrg::notFound(bool as400) const {
  return render::error(as400 ? 400 : 404, "NOT_FOUND", "The requested resource does not exist");
}

SimResponse SimOrg::handle(const SimRequest& request) {
  std::function<void(const SimRequest&)> hook;
  {
    std::lock_guard lock(hookMutex_);
    hook = hook_;
  }
  if (hook) hook(request);
  {
    std::lock_guard lock(meterMutex_);
    ++counters_.requests;
  }
  const int64_t now = nowMs();
  if (options_.newJobsEvery.count() > 0) addArrivingJobs(now);
  FaultPlan::Decision plan = faults_.decide(request);
  SimResponse response;
  if (plan.net == NetFault::ResetBeforeApply) {
    SimResponse reset;
    reset.netFault = NetFault::ResetBeforeApply;
    return reset;
  }
  if (plan.refusal) {
    {
      std::lock_guard lock(meterMutex_);
      if (plan.refusal->status == 503) ++counters_.unavailable;
      if (plan.refusal->status == 403) ++counters_.concurrentLimited;
    }
    if (!plan.limitInfo) return std::move(*plan.refusal);
    response = withLimitInfo(std::move(*plan.refusal));
  } else if (options_.concurrentLimit > 0 && inFlight_.load() > options_.concurrentLimit &&
             request.uri.rfind("/services/oauth2/", 0) != 0) {
    // Refused, not processed, no allowance used; it clears as soon as others finish.
    {
      std::lock_guard lock(meterMutex_);
      ++counters_.concurrentLimited;
    }
    response = withLimitInfo(concurrentLimitExceeded());
  } else {
    response = dispatch(request, now, std::move(plan.scripted));
  }
  if (plan.net != NetFault::None) {
    response.netFault = plan.net;
    response.trickleEvery = plan.trickleEvery;
  }
  response.headers.emplace_back("Date",
                                Poco::DateTimeFormatter::format(Poco::Timestamp(now * 1000),
                                                                Poco::DateTimeFormat::HTTP_FORMAT));
  return response;
}

SimResponse SimOrg::dispatch(const SimRequest& request, int64_t now,
                             std::optional<SimResponse> scripted) {
  if (scripted) {
    // A scripted client error still counts against the allowance; 401 and 5xx do not.
    if (scripted->status != 401 && scripted->status < 500) {
      {
        std::lock_guard lock(meterMutex_);
        useAllowanceLocked(now, 1);
      }
      return withLimitInfo(std::move(*scripted));
    }
    return std::move(*scripted);
  }

  RouteCall call;
  call.request = &request;
  call.now = now;
  std::vector<std::string> segments;
  try {
    const Poco::URI uri(request.uri);
    segments = RouteTable::split(uri.getPath());
    call.query = uri.getRawQuery();
  } catch (const Poco::Exception&) {
    return render::error(400, "INVALID_URL", "The URL could not be parsed");
  }
  const RouteTable::Match match = routes_.match(request.method, segments);
  if (match.kind != RouteTable::Match::Kind::NotFound && match.auth == RouteAuth::None) {
    if (match.kind == RouteTable::Match::Kind::WrongMethod) {
      return methodNotAllowed(request.method, match.allowed);
    }
    return (*match.handler)(call);
  }

  if (match.kind != RouteTable::Match::Kind::NotFound && match.auth == RouteAuth::SfdcSession) {
    return dispatchClassic(request, match, call);
  }
  const std::string& auth = request.authorization;
  constexpr std::string_view kBearer = "Bearer ";
  const bool authorized = auth.size() > kBearer.size() &&
                          auth.compare(0, kBearer.size(), kBearer) == 0 &&
                          sessionValid(auth.substr(kBearer.size()), now);
  if (!authorized) {
    {
      std::lock_guard lock(meterMutex_);
      ++counters_.unauthorized;
    }
    SimResponse r;
    r.status = 401;
    r.body = R"([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}])";
    r.headers.emplace_back("WWW-Authenticate", "Token");
    return r;
  }
  if (!useAllowance()) {
    return withLimitInfo(
        render::error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."));
  }

  // The version segment decides before the rest of the path: unknown is 404, retired is 410.
  const bool underData = segments.size() >= 2 && segments[0] == "services" && segments[1] == "data";
  if (match.kind == RouteTable::Match::Kind::Found && !underData) {
    return withLimitInfo((*match.handler)(call));  // /services/oauth2/userinfo: no version
  }
  if (!underData || segments.size() < 3) return withLimitInfo(notFound(false));
  const int version = parseVersion(segments[2]);
  if (version < 0 || version > kNewestVersion) return withLimitInfo(notFound(false));
  if (version < kOldestVersion) {
    return withLimitInfo(render::error(
        410, "GONE", fmt::format("API version {} has been retired", segments[2].substr(1))));
  }
  switch (match.kind) {
    case RouteTable::Match::Kind::NotFound:
      return withLimitInfo(notFound(false));
    case RouteTable::Match::Kind::WrongMethod:
      return withLimitInfo(methodNotAllowed(request.method, match.allowed));
    case RouteTable::Match::Kind::Found:
      break;
  }
  call.base = match.base;
  call.version = version;
  call.id = match.id;
  return withLimitInfo((*match.handler)(call));
}

SimResponse SimOrg::list(const RouteCall& call, bool ingest) {
  {
    std::lock_guard lock(meterMutex_);
    ++counters_.lists;
  }
  JobStore::ListRequest request;
  request.ingestPath = ingest;
  request.pageSize = static_cast<std::size_t>(options_.pageSize);
  try {
    for (const auto& [key, value] : Poco::URI("?" + call.query).getQueryParameters()) {
      if (key == "queryLocator") request.locator = value;
      if (key == "jobType") request.jobType = value;
    }
  } catch (const Poco::Exception&) {
    return render::error(400, "INVALID_URL", "The query string could not be parsed");
  }
  std::string records;
  records.reserve(static_cast<std::size_t>(options_.pageSize) * 420);
  const JobStore::Page page = store_.list(
      request, call.now, [this](int n) { return faults_.takePageFault(n); },
      [&records](const StoredJob& job, const JobView& v) {
        if (!records.empty()) records += ',';
        render::appendListRecord(records, job, v);
        records += '}';
      });
  switch (page.error) {
    case JobStore::Page::Error::BadJobType:
      return render::error(400, "INVALIDJOBTYPE",
                           fmt::format("Invalid jobType: {}", request.jobType));
    case JobStore::Page::Error::BadLocator:
      return render::error(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
    case JobStore::Page::Error::None:
      break;
  }
  std::string next;
  if (!page.nextLocator.empty()) {
    const bool ingestPath = ingest || options_.queryNextUrlOnIngestPath;
    next = fmt::format("{}/jobs/{}?queryLocator={}", call.base, ingestPath ? "ingest" : "query",
                       page.nextLocator);
  }
  SimResponse r;
  r.body.reserve(records.size() + 160);
  render::beginPage(r.body, page.done);
  r.body += records;
  render::endPage(r.body, next);
  return r;
}

SimResponse SimOrg::getJob(const RouteCall& call, bool ingest) {
  {
    std::lock_guard lock(meterMutex_);
    ++counters_.gets;
  }
  SimResponse r;
  const auto resource = ingest ? JobStore::Resource::Ingest : JobStore::Resource::Query;
  if (!store_.read(call.id, resource, call.now, [&](const StoredJob& job, const JobView& v) {
        r.body = render::fullInfo(job, v, call.now);
      })) {
    return notFound(false);
  }
  return r;
}

SimResponse SimOrg::patchJob(const RouteCall& call, bool ingest) {
  {
    std::lock_guard lock(meterMutex_);
    ++counters_.patches;
  }
  std::string wanted;
  try {
    Poco::JSON::Parser parser;
    const auto parsed = parser.parse(call.request->body);
    const auto object = parsed.extract<Poco::JSON::Object::Ptr>();
    if (object.isNull()) throw Poco::Exception("not an object");
    for (const auto& name : object->getNames()) {
      if (name != "state") {
        return render::error(400, "JSON_PARSER_ERROR",
                             fmt::format("Unrecognized field \"{}\"", name));
      }
    }
    if (!object->has("state") || !object->get("state").isString()) {
      return render::error(400, "INVALIDJOBSTATE", "The job state is missing or not a string");
    }
    wanted = object->getValue<std::string>("state");
  } catch (const Poco::Exception& e) {
    return render::error(400, "JSON_PARSER_ERROR",
                         fmt::format("Cannot deserialize the request body: {}", e.message()));
  } catch (const std::exception& e) {
    return render::error(400, "JSON_PARSER_ERROR",
                         fmt::format("Cannot deserialize the request body: {}", e.what()));
  }

  const auto resource = ingest ? JobStore::Resource::Ingest : JobStore::Resource::Query;
  SimResponse r;
  auto renderShort = [&r](const StoredJob& job, const JobView& v) {
    r.body = render::shortInfo(job, v);
  };
  if (wanted == "Aborted") {
    const auto result = store_.abort(call.id, resource, caller(), call.now, renderShort);
    switch (result.outcome) {
      case JobStore::Outcome::Done:
        return r;
      case JobStore::Outcome::NotFound:
        return notFound(options_.notFoundAs400);
      case JobStore::Outcome::Forbidden:
        countForbidden();
        return invalidUser();
      default:
        return render::error(
            400, "INVALIDJOBSTATE",
            fmt::format("Aborting already {} Job not allowed", render::stateWord(result.state)));
    }
  }
  if (wanted == "UploadComplete" && ingest) {
    const auto result = store_.close(call.id, resource, call.now, renderShort);
    switch (result.outcome) {
      case JobStore::Outcome::Done:
        return r;
      case JobStore::Outcome::NotFound:
        return notFound(options_.notFoundAs400);
      default:
        return render::error(400, "INVALIDJOBSTATE",
                             fmt::format("Closing already {} Job not allowed",
                                         result.state == JobState::UploadComplete ||
                                                 result.state == JobState::InProgress
                                             ? "Closed"
                                             : render::stateWord(result.state)));
    }
  }
  if (!store_.read(call.id, resource, call.now, [](const StoredJob&, const JobView&) {})) {
    return notFound(options_.notFoundAs400);
  }
  return render::error(400, "INVALIDJOBSTATE",
                       fmt::format("Invalid state transition to {} for a {} job", wanted,
                                   ingest ? "ingest" : "query"));
}

SimResponse SimOrg::deleteJob(const RouteCall& call, bool ingest) {
  {
    std::lock_guard lock(meterMutex_);
    ++counters_.deletes;
  }
  const auto resource = ingest ? JobStore::Resource::Ingest : JobStore::Resource::Query;
  const auto result = store_.remove(call.id, resource, caller(), call.now);
  switch (result.outcome) {
    case JobStore::Outcome::Forbidden:
      countForbidden();
      return invalidUser();
    case JobStore::Outcome::Done: {
      SimResponse r;
      r.status = 204;
      r.contentType.clear();
      return r;
    }
    case JobStore::Outcome::NotFound:
      return notFound(options_.notFoundAs400);
    default:
      return render::error(
          400, "API_ERROR",
          "Error encountered when deleting the job because the job is not terminated");
  }
}

}  // namespace bulkwarden::sim

namespace bulkwarden::sim {

// Bulk API 1.0 answers in the request's format: JSON when the request's Content-Type or Accept
// names JSON, XML otherwise (the 1.0 default).
SimResponse SimOrg::dispatchClassic(const SimRequest& request, const RouteTable::Match& match,
                                    RouteCall& call) {
  const bool json = request.contentType.find("json") != std::string::npos ||
                    request.accept.find("json") != std::string::npos;
  auto framed = [json](SimResponse r) {
    if (json)
      r.contentType = "application/json;charset=UTF-8";
    else if (r.status == 200)
      r.contentType = "application/xml;charset=UTF-8";
    return r;
  };
  // 1.0 reports a bad session as 400 InvalidSessionId, not 401.
  if (request.sfdcSession.empty() || !sessionValid(request.sfdcSession, call.now)) {
    {
      std::lock_guard lock(meterMutex_);
      ++counters_.unauthorized;
    }
    return framed(render::classicError("InvalidSessionId", "Invalid session id", json));
  }
  if (!useAllowance()) {
    return withLimitInfo(
        framed(render::classicError("ExceededQuota", "TotalRequests Limit exceeded.", json)));
  }
  // "62.0": two or three digits, a dot, one digit.
  const std::string& v = match.version;
  const auto dot = v.find('.');
  int major = 0;
  const auto [ptr, ec] =
      std::from_chars(v.data(), v.data() + (dot == std::string::npos ? 0 : dot), major);
  if (dot == std::string::npos || ec != std::errc{} || ptr != v.data() + dot ||
      v.size() != dot + 2 || major < kOldestVersion || major > kNewestVersion) {
    return withLimitInfo(
        framed(render::classicError("InvalidVersion", "Invalid api version specified", json)));
  }
  if (match.kind == RouteTable::Match::Kind::WrongMethod) {
    return withLimitInfo(methodNotAllowed(request.method, match.allowed));
  }
  call.base = match.base;
  call.version = major;
  call.id = match.id;
  return withLimitInfo(framed((*match.handler)(call)));
}

SimResponse SimOrg::classicJob(const RouteCall& call) {
  const SimRequest& request = *call.request;
  const bool json = request.contentType.find("json") != std::string::npos ||
                    request.accept.find("json") != std::string::npos;
  SimResponse r;
  auto renderInfo = [&r, json](const StoredJob& job, const JobView& v) {
    r.body = render::classicInfo(job, v, json);
  };
  auto invalidJob = [&] {
    return render::classicError("InvalidJob", fmt::format("Unable to find object: {}", call.id),
                                json);
  };
  if (request.method == "GET") {
    {
      std::lock_guard lock(meterMutex_);
      ++counters_.gets;
    }
    if (!store_.read(call.id, JobStore::Resource::Classic, call.now, renderInfo)) {
      return invalidJob();
    }
    return r;
  }
  {
    std::lock_guard lock(meterMutex_);
    ++counters_.patches;
  }
  // The body names the wanted state: {"state":"Aborted"} or <jobInfo ...><state>Aborted</state>.
  std::string wanted;
  const std::string& body = request.body;
  if (json) {
    try {
      const auto object = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
      if (!object.isNull() && object->has("state") && object->get("state").isString()) {
        wanted = object->getValue<std::string>("state");
      }
    } catch (const std::exception&) {
      return render::classicError("InvalidJob", "Unable to parse the job information", json);
    }
  } else {
    const auto open = body.find("<state>");
    const auto close = body.find("</state>");
    if (body.find("<jobInfo") != std::string::npos && open != std::string::npos &&
        close != std::string::npos && close > open) {
      wanted = body.substr(open + 7, close - open - 7);
    }
  }
  if (wanted.empty()) {
    return render::classicError("InvalidJob", "Unable to parse the job information", json);
  }
  if (wanted == "Aborted") {
    const auto result =
        store_.abort(call.id, JobStore::Resource::Classic, caller(), call.now, renderInfo);
    switch (result.outcome) {
      case JobStore::Outcome::Done:
        return r;
      case JobStore::Outcome::NotFound:
        return invalidJob();
      case JobStore::Outcome::Forbidden:
        countForbidden();
        return render::classicError(
            "InvalidUser",
            "Either the user sending a Bulk API request doesn't have the correct permission, or "
            "the job or batch specified was created by another user.",
            json);
      default:
        return render::classicError(
            "InvalidJobState",
            fmt::format("Job is {}; it cannot be aborted", render::classicState(result.state)),
            json);
    }
  }
  if (wanted == "Closed") {
    const auto result = store_.close(call.id, JobStore::Resource::Classic, call.now, renderInfo);
    switch (result.outcome) {
      case JobStore::Outcome::Done:
        return r;
      case JobStore::Outcome::NotFound:
        return invalidJob();
      default:
        return render::classicError(
            "InvalidJobState",
            fmt::format("Job is {}; it cannot be closed", render::classicState(result.state)),
            json);
    }
  }
  return render::classicError("InvalidJobState",
                              fmt::format("Invalid state: {}", wanted.substr(0, 40)), json);
}

// The OpenID Connect UserInfo endpoint, as Salesforce answers it (the fields a client reads).
SimResponse SimOrg::userInfo() const {
  const std::string org = token().substr(0, token().find('!'));
  const std::string& user = oauth_.options().userId;
  SimResponse r;
  r.body = fmt::format(
      R"({{"sub":{},"user_id":{},"organization_id":{},"preferred_username":{},"user_type":"STANDARD","active":true}})",
      jsonString(fmt::format("https://login.salesforce.com/id/{}/{}", org, user)), jsonString(user),
      jsonString(org), jsonString(oauth_.options().username));
  return r;
}

// GET /query?q=SOQL answers one query only: whether a user holds "Manage Data Integrations"
// through a permission set or its profile (each profile owns a permission set, so one query over
// PermissionSetAssignment covers both):
//   SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = '005...'
//     AND PermissionSet.PermissionsManageDataIntegrations = true LIMIT 1
// Any other query gets 400 MALFORMED_QUERY, as a query the sim cannot run.
SimResponse SimOrg::soqlQuery(const RouteCall& call) const {
  std::string soql;
  std::string_view query = call.query;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.rfind("q=", 0) == 0) {
      std::string raw(param.substr(2));
      std::replace(raw.begin(), raw.end(), '+', ' ');
      try {
        Poco::URI::decode(raw, soql);
      } catch (const Poco::Exception&) {
        soql.clear();
      }
    }
  }
  // Whitespace-insensitive, case-insensitive comparison with the one supported shape.
  std::string norm;
  for (const char c : soql) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      if (!norm.empty() && norm.back() != ' ') norm += ' ';
    } else {
      norm += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  constexpr std::string_view kHead = "select id from permissionsetassignment where assigneeid = '";
  constexpr std::string_view kTail =
      "' and permissionset.permissionsmanagedataintegrations = true limit 1";
  if (norm.size() <= kHead.size() + kTail.size() || norm.rfind(kHead, 0) != 0 ||
      norm.compare(norm.size() - kTail.size(), kTail.size(), kTail) != 0) {
    SimResponse r;
    r.status = 400;
    r.body =
        R"([{"errorCode":"MALFORMED_QUERY","message":"the simulated org answers only the Manage Data Integrations permission query"}])";
    return r;
  }
  const std::string assignee = norm.substr(kHead.size(), norm.size() - kHead.size() - kTail.size());
  std::string user = oauth_.options().userId;
  std::transform(user.begin(), user.end(), user.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool holds = assignee == user && caller().manageDataIntegrations;
  SimResponse r;
  r.body =
      holds
          ? R"({"totalSize":1,"done":true,"records":[{"attributes":{"type":"PermissionSetAssignment","url":"/services/data/v62.0/sobjects/PermissionSetAssignment/0PaR0000000simAAA"},"Id":"0PaR0000000simAAA"}]})"
          : R"({"totalSize":0,"done":true,"records":[]})";
  return r;
}

}  // namespace bulkwarden::sim
