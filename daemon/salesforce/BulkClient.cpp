#include "salesforce/BulkClient.h"

#include <Poco/Exception.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <future>
#include <optional>
#include <set>
#include <stdexcept>

#include "log/Log.h"
#include "salesforce/HttpTransport.h"
#include "salesforce/JobMapping.h"
#include "salesforce/StrictJson.h"

namespace bulkwarden::salesforce {
namespace {

constexpr std::size_t kMaxTargetLength = 2048;
// The versions resource (docs/salesforce.md 1).
constexpr std::string_view kDataPrefix = "/services/data/";

ApiError refused(std::string message) {
  return ApiError{ApiError::Kind::Permanent, 0, {}, std::move(message), false};
}

bool isLocatorChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
}

bool validApiVersion(std::string_view v) {
  auto dot = v.find('.');
  if (dot == std::string_view::npos || dot < 2 || dot > 3 || v.size() != dot + 2) return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return c == '.' || std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
}

// Shown in errors: the value is from outside, so it is cut short.
std::string quoted(std::string_view s) { return fmt::format("\"{}\"", s.substr(0, 120)); }

bool isSessionExpired(const ApiError& e) {
  std::string code;
  for (char c : e.code)
    code.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return code == "INVALID_SESSION_ID" || code == "INVALIDSESSIONID";
}

TransportOptions transportOptions(const ClientOptions& o) {
  TransportOptions t;
  t.connectTimeout = o.connectTimeout;
  t.readTimeout = o.readTimeout;
  t.requestDeadline = o.requestDeadline;
  t.poolSize = static_cast<std::size_t>(std::max(1, o.concurrency));
  t.caFile = o.caFile;
  return t;
}

// The nextRecordsUrl of a list body whose last member it is, as Salesforce writes them:
// `...],"nextRecordsUrl":"/services/data/..."}`. Found without parsing, so that the next page can
// be requested while this one is parsed. Only a plain string (no escapes) right before the final
// brace qualifies: in a body that then parses, that is the top-level member, so the guess equals
// the parsed value.
std::optional<std::string_view> tailNextRecordsUrl(std::string_view body) {
  constexpr std::string_view kKey = "\"nextRecordsUrl\":\"";
  while (!body.empty() && std::isspace(static_cast<unsigned char>(body.back()))) {
    body.remove_suffix(1);
  }
  if (body.size() < kKey.size() + 3 || body.back() != '}') return std::nullopt;
  body.remove_suffix(1);
  if (body.back() != '"') return std::nullopt;
  body.remove_suffix(1);
  const auto at = body.rfind(kKey);
  if (at == std::string_view::npos || at == 0 || (body[at - 1] != ',' && body[at - 1] != '{')) {
    return std::nullopt;
  }
  std::string_view url = body.substr(at + kKey.size());
  if (url.empty() || url.size() > kMaxTargetLength ||
      url.find_first_of("\"\\") != std::string_view::npos) {
    return std::nullopt;
  }
  return url;
}

// `path` with %XX escapes decoded; none when an escape is bad or decodes to a slash, a backslash,
// a control character or a non-ASCII byte: an escaped separator is a different path to some
// servers and the same to others.
std::optional<std::string> percentDecodedPath(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') {
      out.push_back(path[i]);
      continue;
    }
    if (i + 2 >= path.size()) return std::nullopt;
    const int hi = hex(path[i + 1]);
    const int lo = hex(path[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    const int c = hi * 16 + lo;
    if (c == '/' || c == '\\' || c <= 0x20 || c >= 0x7f) return std::nullopt;
    out.push_back(static_cast<char>(c));
    i += 2;
  }
  return out;
}

bool containsText(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Major and minor of "62.0" / "100.0"; nullopt for anything else.
std::optional<std::pair<int, int>> versionNumber(std::string_view v) {
  if (!validApiVersion(v)) return std::nullopt;
  const auto dot = v.find('.');
  int major = 0;
  for (char c : v.substr(0, dot)) major = major * 10 + (c - '0');
  return std::pair{major, v[dot + 1] - '0'};
}

}  // namespace

ApiError classifyReply(int status, std::string_view body, std::string_view limitInfo) {
  ApiError e = classify(status, body);
  if (e.kind != ApiError::Kind::LimitExceeded || status != 403) return e;
  // docs/salesforce.md 14.2: the message names the limit; Sforce-Limit-Info shows the daily
  // usage at or near its maximum only for the daily kind.
  bool concurrent = false;
  if (containsText(e.message, "TotalRequests")) {
    concurrent = false;
  } else if (containsText(e.message, "ConcurrentPerOrgLongTxn") ||
             containsText(e.message, "ConcurrentRequests") ||
             containsText(e.message, "Concurrent")) {
    concurrent = true;
  } else if (auto usage = parseLimitInfo(limitInfo)) {
    concurrent = static_cast<double>(usage->used) < 0.95 * static_cast<double>(usage->max);
  }
  if (concurrent) e.kind = ApiError::Kind::Transient;
  return e;
}

VersionCheck checkVersionList(std::string_view body, const std::string& configured) {
  VersionCheck out;
  auto parsed = parseStrictJson(body);
  Poco::JSON::Array::Ptr list;
  if (std::holds_alternative<Poco::Dynamic::Var>(parsed)) {
    list = asArray(std::get<Poco::Dynamic::Var>(parsed));
  }
  if (!list) {
    out.error = "GET /services/data/ did not answer a JSON array of versions";
    return out;
  }
  const auto want = versionNumber(configured);
  std::optional<std::pair<int, int>> newest;
  std::optional<std::pair<int, int>> oldest;
  bool served = false;
  for (std::size_t i = 0; i < list->size() && i < 1000; ++i) {
    auto o = asObject(list->get(static_cast<unsigned>(i)));
    if (!o) continue;
    auto text = optionalText(*o, "version");
    auto number = text ? versionNumber(*text) : std::nullopt;
    if (!number) continue;  // an entry we cannot read is not a version we could use
    if (number == want) served = true;
    if (!newest || *number > *newest) {
      newest = number;
      out.newest = *text;
    }
    if (!oldest || *number < *oldest) oldest = number;
  }
  if (!newest) {
    out.error = "GET /services/data/ listed no usable version";
    return out;
  }
  if (!served) {
    out.error = fmt::format(
        "api-version {} is not served by this org (it serves {}.{} to {}); set api-version to a "
        "version in that range",
        configured, oldest->first, oldest->second, out.newest);
    return out;
  }
  if (want && newest->first - want->first >= kOldApiVersions) {
    out.warning = fmt::format(
        "api-version {} is {} releases behind the newest this org serves ({}): Salesforce "
        "supports a version for at least three years, then may retire it; raise api-version",
        configured, newest->first - want->first, out.newest);
  }
  return out;
}

Result<std::string> nextListTarget(std::string_view beganWith, std::string_view next) {
  if (next.size() > kMaxTargetLength) return malformedReply("nextRecordsUrl is too long");
  auto q = next.find('?');
  if (q != std::string_view::npos) {
    std::string_view query = next.substr(q + 1);
    auto hash = query.find('#');
    if (hash != std::string_view::npos) query = query.substr(0, hash);
    std::optional<std::string_view> locator;
    while (!query.empty()) {
      auto amp = query.find('&');
      std::string_view param = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      constexpr std::string_view kKey = "queryLocator=";
      if (param.substr(0, kKey.size()) == kKey) {
        if (locator) return malformedReply("nextRecordsUrl has two queryLocator parameters");
        locator = param.substr(kKey.size());
      }
    }
    if (locator) {
      if (locator->empty() || locator->size() > 200 ||
          !std::all_of(locator->begin(), locator->end(), isLocatorChar)) {
        return malformedReply("nextRecordsUrl has an invalid queryLocator: " + quoted(*locator));
      }
      return fmt::format("{}?queryLocator={}", beganWith, *locator);
    }
  }
  // No locator (offset paging, say): the URL is followed only if its path is the listing's own,
  // compared percent-decoded, and it is re-issued on that path, with its query. Any other path on
  // the same host (`/services/data/%2e%2e/...`, `/sobjects/...`) would read or change something
  // else with the org's token.
  const bool plain = std::all_of(next.begin(), next.end(), [](char c) {
    return c > 0x20 && c < 0x7f && c != '\\' && c != '#';
  });
  std::string_view rawPath = next.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : next.substr(q + 1);
  std::optional<std::string> path = plain ? percentDecodedPath(rawPath) : std::nullopt;
  if (!path || *path != beganWith) {
    return malformedReply(
        fmt::format("nextRecordsUrl has no queryLocator and is not the listing's own path {}: {}",
                    beganWith, quoted(next)));
  }
  return query.empty() ? std::string(beganWith) : fmt::format("{}?{}", beganWith, query);
}

namespace {

std::shared_ptr<Transport> makeTransport(const ClientOptions& o, const std::string& url) {
  if (o.transports) {
    auto made = o.transports(url, transportOptions(o));
    if (!made) throw std::invalid_argument("no transport for " + url);
    return made;
  }
  return std::make_shared<HttpTransport>(url, transportOptions(o));
}

}  // namespace

BulkClient::BulkClient(ClientOptions options, std::shared_ptr<TokenProvider> tokens)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : systemClock_),
      stop_(options_.stop != nullptr ? *options_.stop : neverStop_),
      tokens_(std::move(tokens)) {
  if (!options_.instanceUrl.empty()) {
    transport_ = makeTransport(options_, options_.instanceUrl);
    transportUrl_ = options_.instanceUrl;
  }
  if (!validApiVersion(options_.apiVersion)) {
    throw std::invalid_argument(
        fmt::format("invalid api-version \"{}\": expected a form like 62.0", options_.apiVersion));
  }
  if (!tokens_) throw std::invalid_argument("BulkClient needs a token provider");
  if (options_.gate) tokens_->setCallGate(options_.gate);
  if (options_.maxPages < 1) throw std::invalid_argument("maxPages must be at least 1");
}

int64_t BulkClient::calls() const {
  std::lock_guard lock(transportMutex_);
  // A replaced transport no call uses any more: its count is final.
  std::erase_if(retired_, [this](const std::shared_ptr<Transport>& t) {
    if (t.use_count() > 1) return false;
    retiredCalls_ += t->requestsSent();
    return true;
  });
  int64_t n = retiredCalls_ + (transport_ ? transport_->requestsSent() : 0);
  for (const auto& t : retired_) n += t->requestsSent();
  return n;
}

void BulkClient::closeIdleConnections() {
  std::lock_guard lock(transportMutex_);
  if (transport_) transport_->closeIdle();
  for (const auto& t : retired_) t->closeIdle();
}

std::string BulkClient::instanceUrl() const {
  std::lock_guard lock(transportMutex_);
  return transportUrl_;
}

Result<std::shared_ptr<Transport>> BulkClient::transport() {
  // The newest token's instance_url wins over the configured one: Salesforce names where the
  // org is served now (an org moved to another instance, a My Domain changed).
  const std::string learned = tokens_->instanceUrl();
  std::lock_guard lock(transportMutex_);
  const std::string& url = learned.empty() ? options_.instanceUrl : learned;
  if (transport_ && url == transportUrl_) return transport_;
  if (url.empty()) {
    return refused(
        "the instance URL is unknown: the token response named no instance_url; set "
        "instance-url in the org's config");
  }
  std::shared_ptr<Transport> next;
  try {
    next = makeTransport(options_, url);
  } catch (const std::invalid_argument& e) {
    // Validated as a configured instance-url is; the old instance is not used either, since the
    // token endpoint says the org is no longer there.
    return refused(
        fmt::format("the instance_url from the token response is unusable: {}", e.what()));
  }
  if (transport_) {
    log::warning("salesforce: the token response names instance {} (was {}); later calls go there",
                 url, transportUrl_);
    retired_.push_back(std::move(transport_));
  } else {
    log::debug("salesforce: instance {}", url);
  }
  transport_ = std::move(next);
  transportUrl_ = url;
  return transport_;
}

std::optional<ApiError> BulkClient::versionChecked(Transport& transport) {
  std::lock_guard lock(versionMutex_);
  if (versionDone_) return versionError_;
  versionDone_ = true;
  HttpRequest r;
  r.method = "GET";
  r.target = std::string(kDataPrefix);
  // The Versions resource needs no session: the token is not sent.
  r.headers = {{"Accept", "application/json"}, {"User-Agent", "bulkwarden/" BULKWARDEN_VERSION}};
  r.idempotent = true;
  // Counted as a probe, though Salesforce does not count it: the budget only ever overcounts.
  // Refused, the check waits for the next call.
  if (options_.gate) {
    if (auto refused = options_.gate->admit(CallPurpose::Probe)) {
      versionDone_ = false;
      return refused;
    }
  }
  auto reply = transport.send(r);
  if (!reply || reply.value().status != 200) {
    log::warning("salesforce: could not check api-version {} (GET /services/data/: {}); going on",
                 options_.apiVersion,
                 reply ? fmt::format("HTTP {}", reply.value().status) : reply.error().describe());
    return std::nullopt;
  }
  VersionCheck check = checkVersionList(reply.value().body, options_.apiVersion);
  if (!check.error.empty() && check.newest.empty()) {
    log::warning("salesforce: could not check api-version {}: {}; going on", options_.apiVersion,
                 check.error);
    return std::nullopt;
  }
  if (!check.error.empty()) {
    log::error("salesforce: {}", check.error);
    versionError_ = ApiError{ApiError::Kind::Permanent, 0, "API_VERSION", check.error, false};
    return versionError_;
  }
  if (!check.warning.empty()) log::warning("salesforce: {}", check.warning);
  return std::nullopt;
}

Result<ApiUsage> BulkClient::probeUsage() {
  const std::string target = fmt::format("/services/data/v{}/limits", options_.apiVersion);
  auto r = call("GET", target, "", true, CallPurpose::Probe);
  if (!r) return r.error();
  if (r.value().status != 200) {
    return classifyReply(r.value().status, r.value().body, r.value().limitInfo);
  }
  if (auto u = parseLimitInfo(r.value().limitInfo)) return *u;
  // No header: DailyApiRequests {Max, Remaining} in the body.
  auto parsed = parseStrictJson(r.value().body);
  if (std::holds_alternative<Poco::Dynamic::Var>(parsed)) {
    if (auto o = asObject(std::get<Poco::Dynamic::Var>(parsed)); o && o->has("DailyApiRequests")) {
      if (auto d = asObject(o->get("DailyApiRequests"))) {
        try {
          const auto max = d->getValue<int64_t>("Max");
          const auto remaining = d->getValue<int64_t>("Remaining");
          if (max > 0 && remaining >= 0)
            return ApiUsage{std::max<int64_t>(max - remaining, 0), max};
        } catch (const Poco::Exception&) {
          // fall through: not the documented shape
        }
      }
    }
  }
  return malformedReply("GET limits: no Sforce-Limit-Info and no usable DailyApiRequests");
}

std::string BulkClient::classicPath(const std::string& id) const {
  return fmt::format("/services/async/{}/job/{}", options_.apiVersion, id);
}

std::string BulkClient::basePath(model::ResourceKind kind) const {
  return fmt::format("/services/data/v{}/jobs/{}", options_.apiVersion, model::resourcePath(kind));
}

ApiUsage BulkClient::usage() const {
  std::lock_guard lock(usageMutex_);
  return usage_;
}

HttpRequest BulkClient::makeRequest(const std::string& method, const std::string& target,
                                    const std::string& body, bool idempotent,
                                    const std::string& token, Api api) const {
  HttpRequest r;
  r.method = method;
  r.target = target;
  r.headers = {{api == Api::V2 ? "Authorization" : "X-SFDC-Session",
                api == Api::V2 ? "Bearer " + token : token},
               {"Accept", "application/json"},
               {"Sforce-Call-Options", "client=" + options_.clientName},
               {"User-Agent", "bulkwarden/" BULKWARDEN_VERSION}};
  r.body = body;
  // 1.0 answers in the request's format; JSON is named with its charset, as documented.
  if (!body.empty()) {
    r.contentType = api == Api::V2 ? "application/json" : "application/json; charset=UTF-8";
  }
  r.idempotent = idempotent;
  return r;
}

Result<HttpResponse> BulkClient::sendLogged(Transport& transport, const HttpRequest& request,
                                            CallPurpose purpose) {
  if (options_.gate) {
    if (auto refused = options_.gate->admit(purpose)) {
      log::debug("salesforce {} {}: {}", request.method, request.target, refused->message);
      return *refused;
    }
  }
  if (!request.idempotent) {
    // The lease check of cluster mode, the last step before the write goes out (each send: the
    // first, and the one after a token renewal; after the budget, whose ledger write may wait
    // for the disk), so that no wait before it can push the request past the lease
    // (docs/scaling.md, "What the fence guarantees"). A write the budget counted and the fence
    // then refused is counted but not sent: the budget only ever overcounts.
    const SendFence::Check* fence = SendFence::current();
    std::optional<ApiError> refused;
    if (fence != nullptr) {
      refused = (*fence)();
    } else if (options_.writesNeedFence) {
      refused = ApiError{ApiError::Kind::Permanent, 0, std::string(kNotSentErrorCode),
                         "not sent: no lease check guards this request (cluster)", false};
    }
    if (refused) {
      refused->sent = false;
      log::info("salesforce {} {}: {}", request.method, request.target, refused->message);
      return *refused;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  const model::Timestamp sentAt = clock_.now();
  auto r = transport.send(request);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  if (r) {
    log::debug("salesforce {} {} -> {} ({} ms)", request.method, request.target, r.value().status,
               ms);
    if (auto u = parseLimitInfo(r.value().limitInfo)) {
      // Answers to concurrent requests arrive in any order, so the last one read may carry an
      // older count: keep the highest of those sent within a minute of each other. The count is
      // over a rolling 24 hours, so a lower one is taken once the higher is a minute old.
      std::lock_guard lock(usageMutex_);
      if (u->used >= usage_.used || u->max != usage_.max ||
          sentAt - usageSent_ > std::chrono::minutes(1)) {
        usage_ = *u;
        usageSent_ = sentAt;
      }
      if (options_.gate) options_.gate->allowance(u->max);
    }
  } else {
    log::debug("salesforce {} {} -> {} ({} ms)", request.method, request.target,
               r.error().describe(), ms);
  }
  return r;
}

namespace {

// Worth another try after a pause: the org was busy or the network dropped, and the request is
// a read. Auth, TLS and limit failures are not: they need a person or the next pass.
bool transientFailure(const Result<HttpResponse>& r) {
  if (!r) {
    const ApiError& e = r.error();
    // Nor a call the API budget refused: it has room again only when calls age out.
    return e.kind == ApiError::Kind::Transient && e.code.rfind("TLS_", 0) != 0 &&
           e.code.rfind("AUTH_", 0) != 0 && e.code != kBudgetErrorCode;
  }
  int s = r.value().status;
  return s >= 500 || s == 406 || s == 420 || s == 429;
}

// Refused for the concurrent long-running request limit: not processed, clears in seconds.
bool concurrentLimited(const Result<HttpResponse>& r) {
  return r && r.value().status == 403 &&
         isConcurrentLimit(classifyReply(403, r.value().body, r.value().limitInfo));
}

}  // namespace

Result<HttpResponse> BulkClient::call(const std::string& method, const std::string& target,
                                      const std::string& body, bool idempotent, CallPurpose purpose,
                                      Api api) {
  for (int attempt = 0;; ++attempt) {
    auto r = callOnce(method, target, body, idempotent, purpose, api);
    const bool concurrent = idempotent && concurrentLimited(r);
    const BackoffPolicy& policy = concurrent ? options_.concurrentLimitBackoff : options_.backoff;
    if (!idempotent || attempt + 1 >= policy.maxAttempts || !(concurrent || transientFailure(r))) {
      return r;
    }
    model::Duration wait;
    {
      std::lock_guard lock(rngMutex_);
      wait = fullJitter(policy, attempt, rng_);
    }
    if (r) {
      if (auto after = parseRetryAfter(r.value().retryAfter, clock_.now())) {
        if (*after > options_.maxRetryAfter) return r;  // the next pass will ask again
        wait = std::max(wait, *after);
      }
    }
    log::info("salesforce {} {}: {}; trying again in {} ms (attempt {} of {})", method, target,
              r ? fmt::format("HTTP {}", r.value().status) : r.error().describe(), wait.count(),
              attempt + 2, policy.maxAttempts);
    // On the clock, so that SIGTERM (or a reload) ends the wait at once: the failure is the
    // answer, and the pass stops as it would after it.
    if (clock_.sleepFor(wait, stop_)) {
      log::info("salesforce {} {}: stop requested; not trying again", method, target);
      return r;
    }
  }
}

Result<HttpResponse> BulkClient::callOnce(const std::string& method, const std::string& target,
                                          const std::string& body, bool idempotent,
                                          CallPurpose purpose, Api api) {
  auto token = tokens_->token();
  if (!token) return token.error();
  auto transport = this->transport();
  if (!transport) return transport.error();
  if (options_.checkApiVersion) {
    if (auto e = versionChecked(*transport.value())) return *e;
  }
  auto r = sendLogged(*transport.value(),
                      makeRequest(method, target, body, idempotent, token.value(), api), purpose);
  if (!r) return r;
  const int status = r.value().status;
  // 1.0 says an expired session with 400 InvalidSessionId (docs/salesforce.md 14.6).
  const bool expired =
      status == 401 || (api == Api::Classic && status == 400 &&
                        classifyClassic(400, r.value().body).kind == ApiError::Kind::Unauthorized);
  if (!expired) return r;
  ApiError rejected =
      api == Api::V2 ? classify(401, r.value().body) : classifyClassic(status, r.value().body);
  if (!isSessionExpired(rejected)) {
    log::warning("salesforce {} {}: HTTP 401 without INVALID_SESSION_ID ({}); renewing the token",
                 method, target, rejected.describe());
  }
  // A 401 means Salesforce did not act on the request, so sending it again is safe; once only.
  auto renewed = tokens_->refresh(token.value());
  if (!renewed) {
    // Keep Salesforce's code (INVALID_SESSION_ID) and say why no new token came.
    ApiError e = rejected;
    e.sent = true;
    e.message = fmt::format("{}; {}", rejected.message, renewed.error().message);
    log::warning("salesforce {} {}: session expired and the token could not be renewed: {}", method,
                 target, renewed.error().message);
    return e;
  }
  log::info("salesforce {} {}: session expired; sending it once more with a new token", method,
            target);
  // The new token may name another instance_url: the request goes there.
  auto again = this->transport();
  if (!again) return again.error();
  return sendLogged(*again.value(),
                    makeRequest(method, target, body, idempotent, renewed.value(), api), purpose);
}

Result<ListStats> BulkClient::list(model::ResourceKind kind, const PageSink& onPage) {
  return listWith(kind, kind == model::ResourceKind::Query ? "V2Query" : "V2Ingest", Listing::V2,
                  onPage);
}

Result<ListStats> BulkClient::listClassic(model::ResourceKind kind, const PageSink& onPage) {
  return listWith(kind, "Classic", Listing::Classic, onPage);
}

Result<ListStats> BulkClient::listWith(model::ResourceKind kind, std::string_view jobType,
                                       Listing listing, const PageSink& onPage) {
  const std::string base = basePath(kind);
  std::string target = fmt::format("{}?jobType={}", base, jobType);
  std::set<std::string> seen;
  ListStats stats;
  // What parsing a page and handing it on left to decide the next step.
  struct PageEnd {
    bool done = true;
    std::string next;
    int64_t jobs = 0;
    int64_t skipped = 0;
  };
  auto digest = [&kind, &onPage, listing](std::string body, int number) -> Result<PageEnd> {
    auto parsed = parseJobList(body, kind, listing);
    if (!parsed) {
      ApiError e = parsed.error();
      e.http = 200;
      e.message = fmt::format("page {}: {}", number, e.message);
      return e;
    }
    ListPage& page = parsed.value();
    for (const auto& s : page.page.skipped) {
      log::debug("salesforce {} list: skipped record {}: {}", model::resourcePath(kind),
                 s.id.empty() ? std::string("(no id)") : s.id, s.reason);
    }
    if (!page.page.skipped.empty()) {
      log::warning("salesforce {} list page {}: {} record(s) skipped as untrustworthy",
                   model::resourcePath(kind), number, page.page.skipped.size());
    }
    PageEnd end{page.done, std::move(page.nextRecordsUrl),
                static_cast<int64_t>(page.page.jobs.size()),
                static_cast<int64_t>(page.page.skipped.size())};
    onPage(std::move(page.page));
    return end;
  };
  // Each page is parsed and handed on (onPage) on a helper thread while this one requests the
  // next page, when the page's last member names it (see tailNextRecordsUrl): parsing a page of
  // 1,000 takes a few ms, the round trip to Salesforce tens, and the request goes out at once,
  // without waiting for a new thread to be scheduled. The page fetched ahead is used only if the
  // parsed page names the same target, so it never changes what is listed; on a well-formed page
  // it costs no call that paging would not make. Pages are handed on in order, one at a time.
  Result<HttpResponse> r = call("GET", target, "", true, CallPurpose::List);
  while (true) {
    if (!r) return r.error();
    if (r.value().status != 200) {
      return classifyReply(r.value().status, r.value().body, r.value().limitInfo);
    }
    std::string body = std::move(r.value().body);
    // A last page (done true) should end with "nextRecordsUrl":null; if it names a next page
    // anyway, fetching it ahead would be a call that paging never makes.
    std::string ahead;
    if (auto guess = tailNextRecordsUrl(body); guess && stats.pages + 2 <= options_.maxPages &&
                                               body.find("\"done\":true") == std::string::npos) {
      auto t = nextListTarget(base, *guess);
      if (t && seen.count(t.value()) == 0 && t.value() != target) ahead = std::move(t.value());
    }
    auto digested = std::async(std::launch::async, digest, std::move(body), stats.pages + 1);
    Result<HttpResponse> fetched = ApiError{};
    if (!ahead.empty()) fetched = call("GET", ahead, "", true, CallPurpose::List);
    auto end = digested.get();
    if (!end) return end.error();
    ++stats.pages;
    stats.jobs += end.value().jobs;
    stats.skipped += end.value().skipped;
    if (end.value().done) return stats;
    if (end.value().next.empty()) {
      return malformedReply("job listing: done is false but nextRecordsUrl is null");
    }
    auto t = nextListTarget(base, end.value().next);
    if (!t) return t.error();
    if (!seen.insert(t.value()).second) {
      return malformedReply("job listing: nextRecordsUrl repeats an earlier locator: " + t.value());
    }
    target = std::move(t.value());
    if (!ahead.empty() && ahead == target) {
      r = std::move(fetched);
      continue;
    }
    if (stats.pages >= options_.maxPages) {
      return malformedReply(
          fmt::format("job listing has more than {} pages; stopped", options_.maxPages));
    }
    r = call("GET", target, "", true, CallPurpose::List);
  }
}

Result<model::Job> BulkClient::get(model::ResourceKind kind, const std::string& id) {
  if (!isJobId(id)) return refused("not a Bulk job id: " + quoted(id));
  // A read of one job: a follow-up's or recovery's by the thread's scope, else an action's check.
  auto r = call("GET", basePath(kind) + "/" + id, "", true,
                PurposeScope::current().value_or(CallPurpose::Action));
  if (!r) return r.error();
  if (r.value().status != 200) {
    return classifyReply(r.value().status, r.value().body, r.value().limitInfo);
  }
  auto job = parseJob(r.value().body, kind);
  if (!job) {
    ApiError e = job.error();
    e.http = 200;
    return e;
  }
  if (job.value().id != id) {
    ApiError e = malformedReply(fmt::format("asked for job {} but got {}", id, job.value().id));
    e.http = 200;
    return e;
  }
  return job;
}

Result<ActionReply> BulkClient::abort(model::ResourceKind kind, const std::string& id) {
  if (!isJobId(id)) return refused("not a Bulk job id: " + quoted(id));
  auto r = call("PATCH", basePath(kind) + "/" + id, R"({"state":"Aborted"})", false,
                CallPurpose::Action);
  if (!r) return r.error();
  const int status = r.value().status;
  if (status < 200 || status > 299) {
    // Retry-After kept (capped: it comes from outside) so that the engine waits as long as
    // Salesforce asks before sending the action again.
    ApiError e = classifyReply(status, r.value().body, r.value().limitInfo);
    e.retryAfter = r.value().retryAfter.substr(0, 64);
    return e;
  }
  return ActionReply{status, parseReplyState(r.value().body).value_or("")};
}

Result<ActionReply> BulkClient::remove(model::ResourceKind kind, const std::string& id) {
  if (!isJobId(id)) return refused("not a Bulk job id: " + quoted(id));
  auto r = call("DELETE", basePath(kind) + "/" + id, "", false, CallPurpose::Action);
  if (!r) return r.error();
  const int status = r.value().status;
  if (status < 200 || status > 299) {
    // Retry-After kept (capped: it comes from outside) so that the engine waits as long as
    // Salesforce asks before sending the action again.
    ApiError e = classifyReply(status, r.value().body, r.value().limitInfo);
    e.retryAfter = r.value().retryAfter.substr(0, 64);
    return e;
  }
  return ActionReply{status, ""};
}

Result<HttpResponse> BulkClient::read(const std::string& target) {
  if (target.empty() || target.front() != '/' || target.size() > kMaxTargetLength) {
    return refused("not a path on the instance: " + quoted(target));
  }
  return call("GET", target, "", true, CallPurpose::Probe);
}

Result<model::Job> BulkClient::getClassic(const std::string& id) {
  if (!isJobId(id)) return refused("not a Bulk job id: " + quoted(id));
  auto r = call("GET", classicPath(id), "", true,
                PurposeScope::current().value_or(CallPurpose::Action), Api::Classic);
  if (!r) return r.error();
  if (r.value().status != 200) return classifyClassic(r.value().status, r.value().body);
  auto job = parseClassicJob(r.value().body);
  if (!job) {
    ApiError e = job.error();
    e.http = 200;
    return e;
  }
  if (job.value().id != id) {
    ApiError e = malformedReply(fmt::format("asked for job {} but got {}", id, job.value().id));
    e.http = 200;
    return e;
  }
  return job;
}

Result<ActionReply> BulkClient::abortClassic(const std::string& id) {
  if (!isJobId(id)) return refused("not a Bulk job id: " + quoted(id));
  auto r = call("POST", classicPath(id), R"({"state":"Aborted"})", false, CallPurpose::Action,
                Api::Classic);
  if (!r) return r.error();
  const int status = r.value().status;
  if (status < 200 || status > 299) {
    ApiError e = classifyClassic(status, r.value().body);
    e.retryAfter = r.value().retryAfter.substr(0, 64);
    return e;
  }
  // Accepted; the reply is the JobInfo. One that cannot be read, or names another job, proves
  // nothing: Malformed, so that the engine reads the job instead of guessing.
  auto job = parseClassicJob(r.value().body);
  if (!job || job.value().id != id) {
    ApiError e =
        job ? malformedReply(fmt::format("abort of {} answered for {}", id, job.value().id))
            : job.error();
    e.http = status;
    return e;
  }
  return ActionReply{status, std::string(model::toString(job.value().state))};
}

}  // namespace bulkwarden::salesforce
