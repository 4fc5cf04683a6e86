#include "salesforce/BulkClient.h"

#include <thread>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <future>
#include <optional>
#include <set>
#include <stdexcept>

#include "log/Log.h"
#include "salesforce/JobMapping.h"

namespace bulkwarden::salesforce {
namespace {

constexpr std::size_t kMaxTargetLength = 2048;

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

// An action's error reply, with its Retry-After kept (capped: it comes from outside) so that the
// engine can wait as long as Salesforce asks before sending the action again.
ApiError refusal(const HttpResponse& r) {
  ApiError e = classify(r.status, r.body);
  e.retryAfter = r.retryAfter.substr(0, 64);
  return e;
}

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

}  // namespace

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

BulkClient::BulkClient(ClientOptions options, std::shared_ptr<TokenProvider> tokens)
    : options_(std::move(options)), tokens_(std::move(tokens)) {
  if (!options_.instanceUrl.empty()) {
    transport_ = std::make_unique<HttpTransport>(options_.instanceUrl, transportOptions(options_));
    ready_ = transport_.get();
  }
  if (!validApiVersion(options_.apiVersion)) {
    throw std::invalid_argument(
        fmt::format("invalid api-version \"{}\": expected a form like 62.0", options_.apiVersion));
  }
  if (!tokens_) throw std::invalid_argument("BulkClient needs a token provider");
  if (options_.maxPages < 1) throw std::invalid_argument("maxPages must be at least 1");
}

int64_t BulkClient::calls() const {
  const HttpTransport* t = ready_.load();
  return t != nullptr ? t->requestsSent() : 0;
}

Result<HttpTransport*> BulkClient::transport() {
  if (HttpTransport* t = ready_.load()) return t;
  std::lock_guard lock(transportMutex_);
  if (transport_) return transport_.get();
  const std::string url = tokens_->instanceUrl();
  if (url.empty()) {
    return refused(
        "the instance URL is unknown: the token response named no instance_url; set "
        "instance-url in the org's config");
  }
  try {
    transport_ = std::make_unique<HttpTransport>(url, transportOptions(options_));
  } catch (const std::invalid_argument& e) {
    return refused(
        fmt::format("the instance_url from the token response is unusable: {}", e.what()));
  }
  log::debug("salesforce: instance {} (from the token response)", url);
  ready_ = transport_.get();
  return transport_.get();
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
                                    const std::string& token) const {
  HttpRequest r;
  r.method = method;
  r.target = target;
  r.headers = {{"Authorization", "Bearer " + token},
               {"Accept", "application/json"},
               {"Sforce-Call-Options", "client=" + options_.clientName},
               {"User-Agent", "bulkwarden/" BULKWARDEN_VERSION}};
  r.body = body;
  if (!body.empty()) r.contentType = "application/json";
  r.idempotent = idempotent;
  return r;
}

Result<HttpResponse> BulkClient::sendLogged(HttpTransport& transport, const HttpRequest& request) {
  const auto start = std::chrono::steady_clock::now();
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
          start - usageSent_ > std::chrono::minutes(1)) {
        usage_ = *u;
        usageSent_ = start;
      }
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
    return e.kind == ApiError::Kind::Transient && e.code.rfind("TLS_", 0) != 0 &&
           e.code.rfind("AUTH_", 0) != 0;
  }
  int s = r.value().status;
  return s >= 500 || s == 406 || s == 420;
}

}  // namespace

Result<HttpResponse> BulkClient::call(const std::string& method, const std::string& target,
                                      const std::string& body, bool idempotent) {
  for (int attempt = 0;; ++attempt) {
    auto r = callOnce(method, target, body, idempotent);
    if (!idempotent || attempt + 1 >= options_.backoff.maxAttempts || !transientFailure(r)) {
      return r;
    }
    model::Duration wait;
    {
      std::lock_guard lock(rngMutex_);
      wait = fullJitter(options_.backoff, attempt, rng_);
    }
    if (r) {
      auto now =
          std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
      if (auto after = parseRetryAfter(r.value().retryAfter, now)) {
        if (*after > options_.maxRetryAfter) return r;  // the next pass will ask again
        wait = std::max(wait, *after);
      }
    }
    log::info("salesforce {} {}: {}; trying again in {} ms (attempt {} of {})", method, target,
              r ? fmt::format("HTTP {}", r.value().status) : r.error().describe(), wait.count(),
              attempt + 2, options_.backoff.maxAttempts);
    std::this_thread::sleep_for(wait);
  }
}

Result<HttpResponse> BulkClient::callOnce(const std::string& method, const std::string& target,
                                          const std::string& body, bool idempotent) {
  auto token = tokens_->token();
  if (!token) return token.error();
  auto transport = this->transport();
  if (!transport) return transport.error();
  HttpTransport& t = *transport.value();
  auto r = sendLogged(t, makeRequest(method, target, body, idempotent, token.value()));
  if (!r || r.value().status != 401) return r;
  ApiError rejected = classify(401, r.value().body);
  if (!isSessionExpired(rejected)) return r;
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
  return sendLogged(t, makeRequest(method, target, body, idempotent, renewed.value()));
}

Result<ListStats> BulkClient::list(model::ResourceKind kind, const PageSink& onPage) {
  const std::string base = basePath(kind);
  std::string target = fmt::format("{}?jobType={}", base,
                                   kind == model::ResourceKind::Query ? "V2Query" : "V2Ingest");
  std::set<std::string> seen;
  ListStats stats;
  // What parsing a page and handing it on left to decide the next step.
  struct PageEnd {
    bool done = true;
    std::string next;
    int64_t jobs = 0;
    int64_t skipped = 0;
  };
  auto digest = [&kind, &onPage](std::string body, int number) -> Result<PageEnd> {
    auto parsed = parseJobList(body, kind);
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
  Result<HttpResponse> r = call("GET", target, "", true);
  while (true) {
    if (!r) return r.error();
    if (r.value().status != 200) return classify(r.value().status, r.value().body);
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
    if (!ahead.empty()) fetched = call("GET", ahead, "", true);
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
    r = call("GET", target, "", true);
  }
}

Result<model::Job> BulkClient::get(model::ResourceKind kind, const std::string& id) {
  if (!isJobId(id)) return refused("not a Bulk job id: " + quoted(id));
  auto r = call("GET", basePath(kind) + "/" + id, "", true);
  if (!r) return r.error();
  if (r.value().status != 200) return classify(r.value().status, r.value().body);
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
  auto r = call("PATCH", basePath(kind) + "/" + id, R"({"state":"Aborted"})", false);
  if (!r) return r.error();
  const int status = r.value().status;
  if (status < 200 || status > 299) return refusal(r.value());
  return ActionReply{status, parseReplyState(r.value().body).value_or("")};
}

Result<ActionReply> BulkClient::remove(model::ResourceKind kind, const std::string& id) {
  if (!isJobId(id)) return refused("not a Bulk job id: " + quoted(id));
  auto r = call("DELETE", basePath(kind) + "/" + id, "", false);
  if (!r) return r.error();
  const int status = r.value().status;
  if (status < 200 || status > 299) return refusal(r.value());
  return ActionReply{status, ""};
}

}  // namespace bulkwarden::salesforce
