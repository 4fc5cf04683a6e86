#include "sim/SimCommand.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>

#include "sim/Scenario.h"
#include "sim/SimOrg.h"
#include "sim/SimServer.h"

namespace bulkwarden::sim {

namespace {

constexpr int kExitUsage = 64;
constexpr int kExitSoftware = 70;

constexpr std::string_view kUsage =
    R"(Usage: bulkwarden sim [OPTIONS]
Serve a simulated Salesforce org (Bulk API 2.0 jobs) until SIGINT or SIGTERM.
The first line of standard output is `bulkwarden sim: URL token TOKEN` (with --orgs N, one such
line per org, org 1 first).

  --listen HOST:PORT        address to listen on (default 127.0.0.1:0, a free port)
  --seed N                  seed for ids, token, ages and list order (default 1)
  --time-scale X            sim time runs X times faster than wall time (default 1)
  --clock-epoch MS          with --time-scale: the sim clock reads MS + (wall - MS) * X, where MS
                            is milliseconds since 1970 (a test daemon's scaled clock uses the same
                            formula; see docs/reliability.md "Soak"). Default: the start
  --page-size N             records per list page (default 1000)
  --edition E               production (default) or developer: a Developer Edition's 15000 daily
                            API calls and 5 concurrent long-running requests (production: 25)
  --api-max N, --daily-api-limit N
                            daily API allowance (default 1000000; --edition developer: 15000);
                            once spent: 403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded."
                            The allowance is a rolling 24 hours of sim time: a call stops
                            counting 24 h after it was made
  --api-used N[@AGO]        N calls of the allowance already used, made AGO (sim time, e.g. 23h;
                            default 0) before the start: they stop counting 24h - AGO after it
  --concurrent-limit N      more than N requests in flight at once (use with --latency): the extra
                            ones get 403 REQUEST_LIMIT_EXCEEDED "ConcurrentPerOrgLongTxn Limit
                            exceeded.", which clears as soon as others finish; 0: none. Default:
                            none, unless --latency is 20s or more (a long-running request, as
                            Salesforce counts them): then the edition's limit
  --fail-every N            refuse every Nth request with 503 SERVER_UNAVAILABLE before processing
                            it (nothing applied, no allowance used; token requests not counted)
  --fail-rate P             refuse each request with probability P (0..1, drawn from the seed)
                            with 503 SERVER_UNAVAILABLE before processing it, as --fail-every
  --fail-retry-after S      those 503s carry Retry-After: S (seconds; default: no header)
  --no-manage-data-integrations
                            the session's user lacks "Manage Data Integrations": aborting or
                            deleting a job another user created gets 403 INVALIDUSER
  --grant-manage-data-integrations-after DURATION
                            with --no-manage-data-integrations: the user is given the permission
                            this much sim time after the start (e.g. 1h)
  --user-id ID              the session's user id (default 005R0000000bWkzIAE); the scenario's
                            jobs are created by four other users
  --classic-jobs N          add N Bulk API 1.0 (Classic) jobs, most left Open; they are listed by
                            /jobs/query and /jobs/ingest unless filtered by jobType, and served by
                            GET/POST /services/async/VER/job/ID with X-SFDC-Session
  --new-jobs-every DURATION a new job arrives every DURATION of sim time (e.g. 2m): stuck and
                            finishing query and ingest jobs, Classic jobs left Open, created by
                            the session's user or by others
  --final-jobs FILE         at exit, write every job org 1 still holds to FILE, one a line:
                            `ID KIND JOBTYPE STATE CREATED_MS CREATED_BY`, after a first line
                            `now SIM_MS` (soak checks read it)
  --orgs N                  serve N separate orgs (1..1000), each on its own port with its own
                            token (seed + k - 1), jobs and API allowance; one stdout line per org,
                            org 1 first, all in the format of the first line
  --chunked                 send every reply body with Transfer-Encoding: chunked in random
                            (seeded) chunk sizes instead of Content-Length
  --jobs SPEC               add a group of jobs (repeatable); replaces the default scenario
  --empty                   start with no jobs
  --token T                 the access token to accept (default: generated from the seed)
  --next-url-on-ingest-path query-list nextRecordsUrl points at /jobs/ingest (docs quirk)
  --not-found-as-400        PATCH/DELETE of an unknown job answer 400 NOT_FOUND instead of 404
  --latency DURATION        wait this long before sending each response (e.g. 20ms; default 0)
  --help                    this text

HTTPS and the OAuth token endpoint (POST /services/oauth2/token):
  --tls-cert FILE           serve HTTPS with this PEM certificate (chain); needs --tls-key
  --tls-key FILE            the PEM private key of --tls-cert
  --client-id ID            the connected app's consumer key (JWT iss, client_id)
                            (default 3MVG9SimulatedOrgConsumerKey)
  --username NAME           the integration user (JWT sub) (default bulkwarden@sim.example)
  --audience URL            the JWT aud accepted (default https://login.salesforce.com)
  --jwt-cert FILE           PEM certificate (or RSA public key) of the app: enables jwt-bearer
  --client-secret-file FILE the consumer secret: enables client_credentials
  --refresh-token-file FILE a refresh token: enables the refresh_token grant
  --rotate-refresh-tokens   refresh token rotation: each refresh returns a new refresh_token and
                            the one used stops working at once (invalid_grant)
  --token-lifetime DURATION issued tokens expire after this much sim time, e.g. 2h (default:
                            never); then requests get 401 INVALID_SESSION_ID
  --not-approved            logins fail: invalid_grant "user hasn't approved this consumer"
Secrets are read from files so that they stay out of the process list. The JWT exp is checked
against the wall clock (at most 5 minutes ahead); token lifetimes run on the sim clock.

Without --jobs or --empty the org holds the default scenario: about 3,400 query and ingest jobs
in every state and age (stuck, moving, finished, left Open, Classic, racing an abort).

)";

std::string readFile(const std::string& option, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw std::invalid_argument(fmt::format("{}: cannot read '{}'", option, path));
  std::string text;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0 && text.size() < (1 << 20)) {
    text.append(buffer, n);
  }
  std::fclose(f);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) throw std::invalid_argument(fmt::format("{}: '{}' is empty", option, path));
  return text;
}

// "90s", "45m", "2h", "1d" (the sim keeps to itself: no model/ code).
std::optional<std::chrono::milliseconds> parseLifetime(const std::string& text) {
  if (text.size() < 2) return std::nullopt;
  int64_t n = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, n);
  if (ec != std::errc{} || ptr != text.data() + text.size() - 1 || n <= 0) return std::nullopt;
  switch (text.back()) {
    case 's':
      return std::chrono::seconds(n);
    case 'm':
      return std::chrono::minutes(n);
    case 'h':
      return std::chrono::hours(n);
    case 'd':
      return std::chrono::hours(24 * n);
    default:
      return std::nullopt;
  }
}

template <class T>
T parseNumber(const std::string& option, const std::string& text) {
  T value{};
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty()) {
    throw std::invalid_argument(fmt::format("{}: '{}' is not a valid number", option, text));
  }
  return value;
}

double parseScale(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || !(value > 0)) {
    throw std::invalid_argument(fmt::format("--time-scale: '{}' is not a positive number", text));
  }
  return value;
}

// Every job the org holds, one a line (the ids, kinds, types and states are the sim's own).
void writeFinalJobs(const std::string& path, const SimOrg& org) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::runtime_error(fmt::format("--final-jobs: cannot write '{}'", path));
  std::fprintf(f, "now %lld\n", static_cast<long long>(org.nowMs()));
  for (const auto& job : org.jobs()) {
    std::fprintf(f, "%s %s %s %s %lld %s\n", job.id.c_str(), job.kind.c_str(), job.jobType.c_str(),
                 job.state.c_str(), static_cast<long long>(job.createdMs), job.createdById.c_str());
  }
  if (std::fclose(f) != 0) {
    throw std::runtime_error(fmt::format("--final-jobs: cannot write '{}'", path));
  }
}

}  // namespace

int simCommand(const std::vector<std::string>& args) {
  SimOptions options;
  Scenario custom;
  bool empty = false;
  int classic = 0;
  int orgs = 1;
  std::string edition = "production";
  std::optional<int> concurrentLimit;
  std::optional<int64_t> apiMax;
  std::string finalJobs;
  try {
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string& arg = args[i];
      auto value = [&]() -> const std::string& {
        if (i + 1 >= args.size()) throw std::invalid_argument(fmt::format("{} needs a value", arg));
        return args[++i];
      };
      if (arg == "--help" || arg == "-h") {
        std::fputs(kUsage.data(), stdout);
        std::fputs(kJobSpecHelp.data(), stdout);
        std::fputs("\n", stdout);
        return 0;
      } else if (arg == "--listen") {
        const std::string& listen = value();
        const auto colon = listen.rfind(':');
        if (colon == std::string::npos || colon == 0) {
          throw std::invalid_argument(fmt::format("--listen: want HOST:PORT, got '{}'", listen));
        }
        options.host = listen.substr(0, colon);
        options.port = parseNumber<uint16_t>("--listen", listen.substr(colon + 1));
      } else if (arg == "--seed") {
        options.seed = parseNumber<uint64_t>(arg, value());
      } else if (arg == "--time-scale") {
        options.timeScale = parseScale(value());
      } else if (arg == "--page-size") {
        options.pageSize = parseNumber<int>(arg, value());
        if (options.pageSize < 1) throw std::invalid_argument("--page-size must be at least 1");
      } else if (arg == "--clock-epoch") {
        options.clockEpochMs = parseNumber<int64_t>(arg, value());
        if (options.clockEpochMs <= 0) throw std::invalid_argument("--clock-epoch must be > 0");
      } else if (arg == "--edition") {
        edition = value();
        if (edition != "production" && edition != "developer") {
          throw std::invalid_argument(
              fmt::format("--edition: want production or developer, got '{}'", edition));
        }
      } else if (arg == "--api-max" || arg == "--daily-api-limit") {
        apiMax = parseNumber<int64_t>(arg, value());
      } else if (arg == "--api-used") {
        const std::string& text = value();
        const auto at = text.find('@');
        options.apiUsedAtStart = parseNumber<int64_t>(arg, text.substr(0, at));
        if (options.apiUsedAtStart < 0) throw std::invalid_argument("--api-used must be >= 0");
        if (at != std::string::npos) {
          options.apiUsedAgo = parseDuration(text.substr(at + 1));
          if (options.apiUsedAgo >= std::chrono::hours(24)) {
            throw std::invalid_argument("--api-used: AGO must be under 24h");
          }
        }
      } else if (arg == "--fail-rate") {
        const std::string& text = value();
        std::size_t used = 0;
        double rate = -1;
        try {
          rate = std::stod(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != text.size() || text.empty() || !(rate >= 0 && rate <= 1)) {
          throw std::invalid_argument(fmt::format("--fail-rate: '{}' is not in 0..1", text));
        }
        options.failRate = rate;
      } else if (arg == "--grant-manage-data-integrations-after") {
        options.grantManageDataIntegrationsAfter = parseDuration(value());
      } else if (arg == "--new-jobs-every") {
        options.newJobsEvery = parseDuration(value());
        if (options.newJobsEvery.count() <= 0) {
          throw std::invalid_argument("--new-jobs-every must be positive");
        }
      } else if (arg == "--final-jobs") {
        finalJobs = value();
      } else if (arg == "--concurrent-limit") {
        concurrentLimit = parseNumber<int>(arg, value());
      } else if (arg == "--fail-every") {
        options.failEvery = parseNumber<int>(arg, value());
      } else if (arg == "--fail-retry-after") {
        options.failRetryAfterSeconds = parseNumber<int>(arg, value());
      } else if (arg == "--no-manage-data-integrations") {
        options.manageDataIntegrations = false;
      } else if (arg == "--user-id") {
        options.oauth.userId = value();
      } else if (arg == "--classic-jobs") {
        classic = parseNumber<int>(arg, value());
        if (classic < 0 || classic > 1'000'000) {
          throw std::invalid_argument("--classic-jobs wants 0..1000000");
        }
      } else if (arg == "--orgs") {
        orgs = parseNumber<int>(arg, value());
        if (orgs < 1 || orgs > 1000) throw std::invalid_argument("--orgs wants 1..1000");
      } else if (arg == "--chunked") {
        options.chunked = true;
      } else if (arg == "--rotate-refresh-tokens") {
        options.oauth.rotateRefreshTokens = true;
      } else if (arg == "--jobs") {
        custom.groups.push_back(parseJobGroup(value()));
      } else if (arg == "--empty") {
        empty = true;
      } else if (arg == "--token") {
        options.token = value();
        if (options.token.empty()) throw std::invalid_argument("--token must not be empty");
      } else if (arg == "--next-url-on-ingest-path") {
        options.queryNextUrlOnIngestPath = true;
      } else if (arg == "--not-found-as-400") {
        options.notFoundAs400 = true;
      } else if (arg == "--tls-cert") {
        options.tlsCertificateFile = value();
      } else if (arg == "--tls-key") {
        options.tlsPrivateKeyFile = value();
      } else if (arg == "--client-id") {
        options.oauth.clientId = value();
      } else if (arg == "--username") {
        options.oauth.username = value();
      } else if (arg == "--audience") {
        options.oauth.audience = value();
      } else if (arg == "--jwt-cert") {
        options.oauth.jwtCertificatePem = readFile(arg, value());
      } else if (arg == "--client-secret-file") {
        options.oauth.clientSecret = readFile(arg, value());
      } else if (arg == "--refresh-token-file") {
        options.oauth.refreshToken = readFile(arg, value());
      } else if (arg == "--token-lifetime") {
        const std::string& text = value();
        auto d = parseLifetime(text);
        if (!d) {
          throw std::invalid_argument(
              fmt::format("--token-lifetime: '{}' is not a duration such as 2h", text));
        }
        options.oauth.tokenLifetime = *d;
      } else if (arg == "--not-approved") {
        options.oauth.userApproved = false;
      } else if (arg == "--latency") {
        options.latency = parseDuration(value());
      } else {
        throw std::invalid_argument(fmt::format("unknown option '{}'", arg));
      }
    }
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "bulkwarden sim: %s (see --help)\n", e.what());
    return kExitUsage;
  }
  // A Developer Edition: 15,000 calls a day, 5 long-running (>= 20 s) requests at once.
  const bool developer = edition == "developer";
  options.apiMax = apiMax.value_or(developer ? 15'000 : options.apiMax);
  if (concurrentLimit) {
    options.concurrentLimit = *concurrentLimit;
  } else if (options.latency >= std::chrono::seconds(20)) {
    options.concurrentLimit = developer ? 5 : 25;
  }
  if (options.tlsCertificateFile.empty() != options.tlsPrivateKeyFile.empty()) {
    std::fprintf(stderr, "bulkwarden sim: --tls-cert and --tls-key go together (see --help)\n");
    return kExitUsage;
  }
  if (!custom.groups.empty()) {
    options.scenario = std::move(custom);
  } else if (!empty) {
    options.scenario = defaultScenario();
  }
  if (classic > 0) {
    if (!options.scenario) options.scenario = Scenario{};
    for (auto& g : classicJobs(classic)) options.scenario->groups.push_back(std::move(g));
  }

  // Threads started from here on inherit the mask, so only sigwait() below sees the signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    // Org k (k >= 2) is org 1 with seed + k - 1 (its own ids, token and list order), its own
    // port (the next one when --listen names a port), jobs and allowance.
    std::vector<std::unique_ptr<SimServer>> servers;
    for (int k = 1; k <= orgs; ++k) {
      SimOptions o = options;
      if (k > 1) {
        o.seed = options.seed + static_cast<uint64_t>(k - 1);
        o.token.clear();
        if (options.port != 0) o.port = static_cast<uint16_t>(options.port + k - 1);
      }
      servers.push_back(std::make_unique<SimServer>(std::move(o)));
      servers.back()->start();
    }
    // One line per org, org 1 first: scripts read the first line.
    for (const auto& server : servers) {
      std::printf("bulkwarden sim: %s token %s\n", server->baseUrl().c_str(),
                  server->token().c_str());
    }
    std::fflush(stdout);
    SimServer& server = *servers.front();

    std::map<std::string, std::map<std::string, int>> summary;
    int total = 0;
    for (const auto& job : server.org().jobs()) {
      ++summary[job.jobType == "Classic" ? job.kind + " (Classic)" : job.kind][job.state];
      ++total;
    }
    std::fprintf(stderr, "bulkwarden sim: %d jobs%s\n", total,
                 orgs > 1 ? fmt::format(" in org 1 of {}", orgs).c_str() : "");
    for (const auto& [kind, states] : summary) {
      std::string line;
      for (const auto& [state, count] : states) line += fmt::format(" {}={}", state, count);
      std::fprintf(stderr, "  %s:%s\n", kind.c_str(), line.c_str());
    }

    int received = 0;
    sigwait(&signals, &received);
    std::fprintf(stderr, "bulkwarden sim: stopping (signal %d)\n", received);
    SimOrg::Counters c;
    for (const auto& each : servers) {
      each->stop();
      const auto o = each->org().counters();
      c.requests += o.requests;
      c.lists += o.lists;
      c.gets += o.gets;
      c.patches += o.patches;
      c.deletes += o.deletes;
      c.unauthorized += o.unauthorized;
      c.appliedAborts += o.appliedAborts;
      c.appliedDeletes += o.appliedDeletes;
      c.unavailable += o.unavailable;
      c.concurrentLimited += o.concurrentLimited;
      c.dailyLimited += o.dailyLimited;
      c.rotations += o.rotations;
      c.arrivedJobs += o.arrivedJobs;
      c.forbidden += o.forbidden;
    }
    if (!finalJobs.empty()) writeFinalJobs(finalJobs, server.org());
    // What the clients cost (all orgs together): benchmarks and scripts read this line.
    std::fprintf(stderr,
                 "bulkwarden sim: requests=%lld lists=%lld gets=%lld patches=%lld deletes=%lld "
                 "unauthorized=%lld applied_aborts=%lld applied_deletes=%lld\n",
                 static_cast<long long>(c.requests), static_cast<long long>(c.lists),
                 static_cast<long long>(c.gets), static_cast<long long>(c.patches),
                 static_cast<long long>(c.deletes), static_cast<long long>(c.unauthorized),
                 static_cast<long long>(c.appliedAborts), static_cast<long long>(c.appliedDeletes));
    // The faults that fired (soak checks read this line).
    std::fprintf(stderr,
                 "bulkwarden sim: faults unavailable=%lld concurrent_limited=%lld "
                 "daily_limited=%lld forbidden=%lld rotations=%lld arrived_jobs=%lld\n",
                 static_cast<long long>(c.unavailable), static_cast<long long>(c.concurrentLimited),
                 static_cast<long long>(c.dailyLimited), static_cast<long long>(c.forbidden),
                 static_cast<long long>(c.rotations), static_cast<long long>(c.arrivedJobs));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bulkwarden sim: cannot serve: %s\n", e.what());
    return kExitSoftware;
  }
  return 0;
}

}  // namespace bulkwarden::sim
