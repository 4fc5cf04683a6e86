#include <Poco/DigestEngine.h>
#include <Poco/Exception.h>
#include <Poco/SHA2Engine.h>
#include <Poco/URI.h>
#include <fmt/format.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include "config/Config.h"
#include "config/PolicyLoader.h"
#include "config/YamlDocument.h"
#include "model/Time.h"

namespace bulkwarden::config {
namespace {

std::string sha256Hex(std::string_view text) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(text.data(), static_cast<unsigned>(text.size()));
  return Poco::DigestEngine::digestToHex(engine.digest());
}

const std::vector<std::string_view> kTopKeys = {"orgs",
                                                "policies",
                                                "audit-log",
                                                "state-dir",
                                                "http",
                                                "concurrency",
                                                "workers",
                                                "max-jobs-per-listing",
                                                "dry-run",
                                                "action-rate",
                                                "audit-rotate-size",
                                                "audit-reserve",
                                                "api-usage-limit",
                                                "api-budget",
                                                "limit-pause",
                                                "follow-up-precision",
                                                "audit-key",
                                                "exempt",
                                                "notifications",
                                                "cluster"};
const std::vector<std::string_view> kClusterKeys = {"postgres", "node", "lease"};
const std::vector<std::string_view> kPostgresKeys = {"conninfo", "password"};
const std::vector<std::string_view> kNotificationKeys = {"name", "webhook", "email"};
const std::vector<std::string_view> kWebhookKeys = {"url", "format"};
const std::vector<std::string_view> kEmailKeys = {"smtp", "starttls", "ca-file", "from",
                                                  "to",   "username", "password"};

// "64MiB", "1GiB", "512KiB" or a plain number of bytes.
std::optional<uint64_t> parseBytes(const std::string& text) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (n > (uint64_t{1} << 50)) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(text[i++] - '0');
  }
  if (i == 0) return std::nullopt;
  std::string unit = text.substr(i);
  if (unit.empty() || unit == "B") return n;
  if (unit == "KiB") return n << 10;
  if (unit == "MiB") return n << 20;
  if (unit == "GiB") return n << 30;
  return std::nullopt;
}
const std::vector<std::string_view> kOrgKeys = {"name",    "api-version", "instance-url",
                                                "ca-file", "auth",        "api-budget"};
const std::vector<std::string_view> kAuthKeys = {
    "flow",     "access-token", "login-url",     "audience",      "client-id",
    "username", "private-key",  "client-secret", "refresh-token", "error-backoff"};
const std::vector<std::string_view> kFlows = {"access-token", "jwt-bearer", "client-credentials",
                                              "refresh-token"};
// The keys each flow takes (besides flow); the first `required` of them must be present.
struct FlowKeys {
  std::string_view flow;
  std::vector<std::string_view> required;
  std::vector<std::string_view> optional;
};
const std::vector<FlowKeys> kFlowKeys = {
    {"access-token", {"access-token"}, {}},
    {"jwt-bearer",
     {"client-id", "username", "private-key"},
     {"login-url", "audience", "error-backoff"}},
    {"client-credentials", {"client-id", "client-secret"}, {"login-url", "error-backoff"}},
    {"refresh-token",
     {"client-id", "refresh-token"},
     {"client-secret", "login-url", "error-backoff"}},
};
constexpr auto kMinErrorBackoff = std::chrono::seconds(1);
constexpr auto kMaxErrorBackoff = std::chrono::hours(24);
const char kDefaultLoginUrl[] = "https://login.salesforce.com";

const std::vector<std::string_view> kSecretKeys = {"file", "credential", "env"};
const std::vector<std::string_view> kHttpKeys = {"listen"};

const char kDefaultAuditLog[] = "/var/log/bulkwarden/audit.jsonl";
const char kDefaultStateDir[] = "/var/lib/bulkwarden";
constexpr int kMinApiMajor = 47;  // query jobs exist from 47.0 (docs/salesforce.md 2)

bool isLoopbackHost(const std::string& host);

}  // namespace

// Why `text` is not a usable webhook URL (https, or http on a loopback host), or nothing. Never
// repeats the URL: it may be a secret.
std::optional<std::string> webhookUrlProblem(const std::string& text) {
  Poco::URI uri;
  try {
    uri = Poco::URI(text);
  } catch (const Poco::Exception&) {
    return "not a URL";
  }
  const std::string& scheme = uri.getScheme();
  if (uri.getHost().empty() || (scheme != "https" && scheme != "http")) {
    return "not an http(s) URL with a host";
  }
  if (scheme == "http" && !isLoopbackHost(uri.getHost())) {
    return "http on a host that is not loopback";
  }
  if (!uri.getUserInfo().empty()) return "user info in the URL";
  return std::nullopt;
}

namespace {

bool isLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8 written as a dotted quad.
  if (host.rfind("127.", 0) != 0) return false;
  int parts = 0;
  size_t start = 0;
  while (start <= host.size()) {
    size_t end = host.find('.', start);
    if (end == std::string::npos) end = host.size();
    std::string_view part(host.data() + start, end - start);
    int v = -1;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() || v > 255) {
      return false;
    }
    ++parts;
    start = end + 1;
  }
  return parts == 4;
}

bool validOrgName(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool validEnvName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool validCredentialName(std::string_view name) {
  // A file name inside $CREDENTIALS_DIRECTORY: no path separators, no "." or "..".
  if (name.empty() || name[0] == '.' || name.size() > 255) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '@';
  });
}

class ConfigParser {
 public:
  ConfigParser(DiagnosticSink& sink, std::string dir) : sink_(sink), dir_(std::move(dir)) {}

  // Fills `cfg`; `patterns` receives the policies entries (text and node) to expand later.
  void parse(const YAML::Node& root, Config& cfg,
             std::vector<std::pair<std::string, YAML::Node>>& patterns) {
    MapView top(root, sink_, "the config file (a map)", kTopKeys);
    if (!top.ok()) return;
    if (!top.find("orgs") && top.find("policies") && top.find("policies")->value.IsSequence() &&
        top.find("policies")->value.size() > 0 && top.find("policies")->value[0].IsMap()) {
      // `policies:` holding policies, not file names: a policy file given as --config.
      sink_.error(root, "missing key 'orgs' in the config file (a map)",
                  "this looks like a policy file ('policies:' lists policies, no 'orgs:'); give "
                  "the config file that names it, e.g. --config /etc/bulkwarden/bulkwarden.yaml");
      return;
    }
    if (const auto* e = top.require("orgs")) orgs(e->value, cfg);
    if (const auto* e = top.find("exempt")) loadExempt(e->value, sink_, cfg.exempt);
    if (const auto* e = top.require("policies")) {
      const YAML::Node& v = e->value;
      if (v.IsScalar()) {
        patterns.emplace_back(v.Scalar(), v);
      } else if (v.IsSequence()) {
        for (const YAML::Node& item : v) {
          if (auto text = scalarText(item, sink_, "a file name or glob")) {
            patterns.emplace_back(*text, item);
          }
        }
      } else {
        sink_.error(v,
                    fmt::format("expected a file, a glob or a list of them, got {}", kindName(v)));
      }
    }
    cfg.auditLog = kDefaultAuditLog;
    if (const auto* e = top.find("audit-log")) {
      if (auto text = path(e->value, "a file path")) cfg.auditLog = *text;
    }
    cfg.stateDir = kDefaultStateDir;
    if (const auto* e = top.find("state-dir")) {
      if (auto text = path(e->value, "a directory path")) cfg.stateDir = *text;
    }
    if (const auto* e = top.find("audit-key")) cfg.auditKey = secret(e->value, e->key);
    if (const auto* e = top.find("http")) http(e->value, cfg);
    if (const auto* e = top.find("notifications")) notifications(e->value, cfg);
    if (const auto* e = top.find("cluster")) cluster(e->value, cfg);
    if (const auto* e = top.find("concurrency")) {
      int n = 0;
      if (!e->value.IsScalar() || !YAML::convert<int>::decode(e->value, n) || n < 1 || n > 256) {
        sink_.error(e->value,
                    fmt::format("expected an integer from 1 to 256 for concurrency, got {}",
                                e->value.IsScalar() ? "'" + e->value.Scalar() + "'"
                                                    : std::string(kindName(e->value))));
      } else {
        cfg.concurrency = n;
      }
    }
    if (const auto* e = top.find("workers")) {
      int n = 0;
      if (!e->value.IsScalar() || !YAML::convert<int>::decode(e->value, n) || n < 1 || n > 256) {
        sink_.error(e->value, fmt::format("expected an integer from 1 to 256 for workers, got {}",
                                          e->value.IsScalar() ? "'" + e->value.Scalar() + "'"
                                                              : std::string(kindName(e->value))));
      } else {
        cfg.workers = n;
      }
    }
    if (const auto* e = top.find("max-jobs-per-listing")) {
      // A listing can have at most 1,000 pages of 1,000 jobs (the client's page cap).
      int64_t n = 0;
      if (!e->value.IsScalar() || !YAML::convert<int64_t>::decode(e->value, n) || n < 1 ||
          n > 1'000'000) {
        sink_.error(e->value,
                    fmt::format("expected an integer from 1 to 1000000 for max-jobs-per-listing, "
                                "got {}",
                                e->value.IsScalar() ? "'" + e->value.Scalar() + "'"
                                                    : std::string(kindName(e->value))),
                    "e.g. max-jobs-per-listing: 200000");
      } else {
        cfg.maxJobsPerListing = n;
      }
    }
    if (const auto* e = top.find("action-rate")) {
      // Abort/delete requests per minute per org, enforced by a token bucket in the engine.
      double n = 0;
      if (!e->value.IsScalar() || !YAML::convert<double>::decode(e->value, n) || !(n > 0) ||
          n > 100000) {
        sink_.error(e->value, "expected actions per minute per org (a number > 0) for action-rate",
                    "e.g. action-rate: 60");
      } else {
        cfg.actionsPerMinute = n;
      }
    }
    for (const char* key : {"audit-rotate-size", "audit-reserve"}) {
      if (const auto* e = top.find(key)) {
        auto bytes = e->value.IsScalar() ? parseBytes(e->value.Scalar()) : std::nullopt;
        if (!bytes) {
          sink_.error(e->value, fmt::format("expected a size such as 64MiB for {}", key),
                      "a number of bytes, or one with KiB, MiB or GiB");
        } else if (std::string_view(key) == "audit-rotate-size") {
          if (*bytes != 0 && *bytes < (64u << 10)) {
            sink_.error(e->value, "audit-rotate-size below 64KiB", "0 turns rotation off");
          } else {
            cfg.auditRotateBytes = *bytes;
          }
        } else {
          cfg.auditReserveBytes = *bytes;
        }
      }
    }
    if (const auto* e = top.find("api-usage-limit")) {
      // "90%" or 0.9: the share of the daily API allowance above which no new pass starts.
      std::string text = e->value.IsScalar() ? e->value.Scalar() : "";
      double share = -1;
      bool percent = !text.empty() && text.back() == '%';
      if (percent) text.pop_back();
      try {
        size_t used = 0;
        share = std::stod(text, &used);
        if (used != text.size()) share = -1;
      } catch (const std::exception&) {
        share = -1;
      }
      if (percent) share /= 100;
      if (!(share > 0 && share <= 1)) {
        sink_.error(e->value, "expected a share of the daily API allowance for api-usage-limit",
                    "e.g. api-usage-limit: 90%");
      } else {
        cfg.apiUsageShare = share;
      }
    }
    if (const auto* e = top.find("api-budget")) {
      if (auto spec = budget(e->value)) cfg.apiBudget = *spec;
    }
    if (const auto* e = top.find("limit-pause")) {
      auto d = e->value.IsScalar() ? model::parseDuration(e->value.Scalar()) : std::nullopt;
      if (!d) {
        sink_.error(e->value, "expected a duration such as 1h for limit-pause", "");
      } else {
        cfg.limitPause = *d;
      }
    }
    if (const auto* e = top.find("follow-up-precision")) {
      auto d = e->value.IsScalar() ? model::parseDuration(e->value.Scalar()) : std::nullopt;
      if (!d || *d > std::chrono::minutes(1)) {
        sink_.error(e->value, "expected a duration from 0s to 1m for follow-up-precision",
                    "e.g. follow-up-precision: 1s (default)");
      } else {
        cfg.followUpPrecision = *d;
      }
    }
    if (const auto* e = top.find("dry-run")) {
      bool b = false;
      if (!e->value.IsScalar() || !YAML::convert<bool>::decode(e->value, b)) {
        sink_.error(e->value, fmt::format("expected true or false for dry-run, got {}",
                                          e->value.IsScalar() ? "'" + e->value.Scalar() + "'"
                                                              : std::string(kindName(e->value))));
      } else {
        cfg.dryRun = b;
      }
    }
  }

  bool orgNamesComplete() const { return orgNamesComplete_; }

 private:
  // `api-budget: 5000` (calls a day) or `api-budget: 10%` (of the org's daily allowance).
  std::optional<model::BudgetSpec> budget(const YAML::Node& node) {
    auto parsed = model::parseBudget(node.IsScalar() ? node.Scalar() : std::string());
    if (auto* spec = std::get_if<model::BudgetSpec>(&parsed)) return *spec;
    sink_.error(node, std::get<std::string>(parsed), "e.g. api-budget: 10% (default) or 5000");
    return std::nullopt;
  }
  std::optional<std::string> path(const YAML::Node& node, std::string_view what) {
    auto text = scalarText(node, sink_, what);
    if (!text) return std::nullopt;
    if (text->empty()) {
      sink_.error(node, fmt::format("expected {}, got an empty string", what));
      return std::nullopt;
    }
    return absoluteAgainst(*text, dir_);
  }

  void orgs(const YAML::Node& node, Config& cfg) {
    if (!node.IsSequence()) {
      sink_.error(node, fmt::format("expected a list of orgs, got {}", kindName(node)));
      orgNamesComplete_ = false;
      return;
    }
    if (node.size() == 0) {
      sink_.error(node, "the config needs at least one org");
      return;
    }
    for (const YAML::Node& item : node) {
      size_t before = sink_.count();
      OrgConfig org;
      org.where = sink_.at(item);
      bool named = this->org(item, org);
      if (!named) orgNamesComplete_ = false;
      if (named) cfg.orgs.push_back(std::move(org));
      (void)before;
    }
  }

  // Returns whether the org has a usable, unique name (so policies may refer to it).
  bool org(const YAML::Node& node, OrgConfig& org) {
    MapView m(node, sink_, "an org", kOrgKeys);
    if (!m.ok()) return false;
    bool named = false;
    if (const auto* e = m.require("name")) {
      if (auto name = scalarText(e->value, sink_, "an org name")) {
        if (!validOrgName(*name)) {
          sink_.error(e->value, fmt::format("bad org name '{}'", *name),
                      "lowercase letters, digits and '-', e.g. acme-prod");
        } else if (auto prior = orgNames_.find(*name); prior != orgNames_.end()) {
          sink_.error(e->value, fmt::format("duplicate org name '{}'; first defined at {}", *name,
                                            prior->second.str()));
        } else {
          org.name = *name;
          orgNames_.emplace(*name, sink_.at(e->value));
          named = true;
        }
      }
    }
    if (const auto* e = m.find("api-version")) {
      if (auto text = scalarText(e->value, sink_, "an API version such as \"62.0\"")) {
        std::string v = *text;
        bool digitsOnly =
            !v.empty() && v.size() <= 3 &&
            std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (digitsOnly) v += ".0";  // `api-version: 62` read as a YAML integer
        // Two or three digits before the dot: versions reach 100.0 in some years.
        const auto dot = v.find('.');
        bool ok = (dot == 2 || dot == 3) && v.size() == dot + 2 &&
                  std::all_of(v.begin(), v.end(), [](char c) {
                    return c == '.' || std::isdigit(static_cast<unsigned char>(c)) != 0;
                  });
        if (!ok) {
          sink_.error(e->value, fmt::format("bad api-version '{}'", *text),
                      "write it as \"NN.N\" or \"NNN.N\", e.g. \"62.0\"");
        } else if (std::stoi(v.substr(0, dot)) < kMinApiMajor) {
          sink_.error(e->value, fmt::format("api-version {} is too old", v),
                      "Bulk API 2.0 query jobs need 47.0 or later");
        } else {
          org.apiVersion = v;
        }
      }
    }
    if (const auto* e = m.find("api-budget")) org.apiBudget = budget(e->value);
    if (const auto* e = m.require("auth")) auth(e->value, org);
    // The access-token flow has nothing to learn the instance from; the others get it in the
    // token response unless it is given.
    const auto* instance =
        org.auth.flow == "access-token" ? m.require("instance-url") : m.find("instance-url");
    if (instance) {
      if (auto url = baseUrl(instance->value, "instance-url")) org.instanceUrl = *url;
    }
    if (const auto* e = m.find("ca-file")) {
      if (auto file = path(e->value, "a CA bundle file (PEM)")) {
        struct stat st {};
        if (::stat(file->c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
          sink_.error(e->value, fmt::format("ca-file '{}' is not a readable file", *file),
                      "a PEM file with the CA certificates to trust besides the system's");
        } else {
          org.caFile = *file;
        }
      }
    }
    if (org.auth.flow == "client-credentials" && org.auth.loginUrl.empty()) {
      if (org.instanceUrl.empty()) {
        sink_.error(m.node(), "flow client-credentials needs the org's My Domain URL",
                    "set instance-url (or auth.login-url), e.g. https://acme.my.salesforce.com");
      } else {
        org.auth.loginUrl = org.instanceUrl;
      }
    }
    return named;
  }

  // A scheme://host[:port] URL: https, or http to a loopback host only.
  std::optional<std::string> baseUrl(const YAML::Node& node, std::string_view key) {
    auto text = scalarText(node, sink_, "a URL such as https://acme.my.salesforce.com");
    if (!text) return std::nullopt;
    Poco::URI uri;
    try {
      uri = Poco::URI(*text);
    } catch (const Poco::Exception& e) {
      sink_.error(node, fmt::format("bad {} '{}': {}", key, *text, e.message()));
      return std::nullopt;
    }
    const std::string& scheme = uri.getScheme();
    if (uri.getHost().empty() || (scheme != "https" && scheme != "http")) {
      sink_.error(node, fmt::format("bad {} '{}'", key, *text),
                  "write a base URL, e.g. https://acme.my.salesforce.com");
      return std::nullopt;
    }
    if (scheme == "http" && !isLoopbackHost(uri.getHost())) {
      sink_.error(node, fmt::format("{} '{}' uses http on a host that is not loopback", key, *text),
                  "use https; http is allowed only for 127.0.0.1, ::1 or localhost (the "
                  "simulated org)");
      return std::nullopt;
    }
    if (!uri.getUserInfo().empty() || (!uri.getPath().empty() && uri.getPath() != "/") ||
        !uri.getRawQuery().empty() || !uri.getFragment().empty()) {
      sink_.error(node, fmt::format("{} '{}' has more than a scheme, host and port", key, *text),
                  "write the base URL without a path, e.g. https://acme.my.salesforce.com");
      return std::nullopt;
    }
    std::string url = *text;
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
  }

  void cluster(const YAML::Node& node, Config& cfg) {
    MapView m(node, sink_, "the cluster settings", kClusterKeys);
    if (!m.ok()) return;
    ClusterConfig c;
    c.where = sink_.at(node);
    bool ok = true;
    if (const auto* e = m.require("postgres")) {
      MapView pg(e->value, sink_, "the PostgreSQL settings", kPostgresKeys);
      if (!pg.ok()) return;
      if (const auto* ci = pg.require("conninfo")) {
        auto text = scalarText(ci->value, sink_, "a libpq connection string");
        if (text && conninfoHasPassword(*text)) {
          // The text is not echoed: it holds a password written in the clear.
          sink_.error(ci->value, "the conninfo holds a password; do not write it in the config",
                      "password: { file: /etc/bulkwarden/pg.pass } (or credential:, env:)");
          ok = false;
        } else if (text && !text->empty() && text->size() <= 4096) {
          c.conninfo = *text;
        } else {
          if (text) sink_.error(ci->value, "expected a libpq connection string (1 to 4096 bytes)");
          ok = false;
        }
      } else {
        ok = false;
      }
      if (const auto* pw = pg.find("password")) {
        c.password = secret(pw->value, pw->key);
        ok = c.password.has_value() && ok;
      }
    } else {
      ok = false;
    }
    if (const auto* e = m.find("node")) {
      auto text = scalarText(e->value, sink_, "a node name");
      if (!text || !validNodeName(*text)) {
        if (text) {
          sink_.error(e->value, fmt::format("bad node name '{}'", *text),
                      "1 to 63 letters, digits, '.', '_' or '-', e.g. node-a");
        }
        ok = false;
      } else {
        c.node = *text;
      }
    }
    if (c.node.empty()) {
      char host[256] = {};
      if (::gethostname(host, sizeof host - 1) == 0) c.node = host;
      if (!validNodeName(c.node)) {
        sink_.error(node, "the host name is not a usable node name; name this node",
                    "node: node-a");
        ok = false;
      }
    }
    if (const auto* e = m.find("lease")) {
      auto d = e->value.IsScalar() ? model::parseDuration(e->value.Scalar()) : std::nullopt;
      if (!d || *d < std::chrono::seconds(1) || *d > std::chrono::minutes(10)) {
        sink_.error(e->value, "expected a duration from 1s to 10m for lease",
                    "e.g. lease: 15s (default)");
        ok = false;
      } else {
        c.lease = *d;
      }
    }
    if (ok) cfg.cluster = std::move(c);
  }

  // `password=...` in key/value form, or `postgresql://user:secret@host` in URI form.
  static bool conninfoHasPassword(const std::string& text) {
    if (text.find("password") != std::string::npos) return true;
    for (std::string_view scheme : {"postgresql://", "postgres://"}) {
      if (text.rfind(scheme, 0) != 0) continue;
      auto rest = std::string_view(text).substr(scheme.size());
      auto at = rest.find('@');
      auto slash = rest.find('/');
      if (at != std::string_view::npos && (slash == std::string_view::npos || at < slash) &&
          rest.substr(0, at).find(':') != std::string_view::npos) {
        return true;
      }
    }
    return false;
  }

  static bool validNodeName(const std::string& name) {
    if (name.empty() || name.size() > 63) return false;
    for (char ch : name) {
      bool good = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
      if (!good) return false;
    }
    return true;
  }

  void notifications(const YAML::Node& node, Config& cfg) {
    if (!node.IsSequence()) {
      sink_.error(node, fmt::format("expected a list of notifications, got {}", kindName(node)),
                  "- { name: ops, webhook: { url: { env: OPS_WEBHOOK }, format: slack } }");
      return;
    }
    for (const YAML::Node& item : node) {
      MapView m(item, sink_, "a notification", kNotificationKeys);
      if (!m.ok()) continue;
      NotificationConfig n;
      n.where = sink_.at(item);
      bool ok = true;
      if (const auto* e = m.require("name")) {
        auto name = scalarText(e->value, sink_, "a notification name");
        if (!name || !validOrgName(*name)) {
          if (name) {
            sink_.error(e->value, fmt::format("bad notification name '{}'", *name),
                        "lowercase letters, digits and '-', e.g. ops");
          }
          ok = false;
        } else {
          for (const auto& prior : cfg.notifications) {
            if (prior.name == *name) {
              sink_.error(e->value, fmt::format("duplicate notification name '{}'; first defined "
                                                "at {}",
                                                *name, prior.where.str()));
              ok = false;
            }
          }
          n.name = *name;
        }
      } else {
        ok = false;
      }
      const auto* web = m.find("webhook");
      const auto* mail = m.find("email");
      if ((web != nullptr) == (mail != nullptr)) {
        sink_.error(item, "a notification is either a webhook or an email",
                    "give exactly one of 'webhook:' and 'email:'");
        continue;
      }
      if (web) {
        ok = webhook(web->value, n) && ok;
      } else {
        ok = email(mail->value, n) && ok;
      }
      if (ok) cfg.notifications.push_back(std::move(n));
    }
  }

  bool webhook(const YAML::Node& node, NotificationConfig& n) {
    n.kind = NotificationConfig::Kind::Webhook;
    MapView m(node, sink_, "a webhook", kWebhookKeys);
    if (!m.ok()) return false;
    bool ok = true;
    if (const auto* e = m.require("url")) {
      if (e->value.IsMap()) {
        n.urlSecret = secret(e->value, "url");
        ok = n.urlSecret.has_value();
      } else if (auto text = scalarText(e->value, sink_, "a URL or a secret")) {
        if (auto why = webhookUrlProblem(*text)) {
          // The text is not echoed: it may be a secret URL written in the clear.
          sink_.error(e->value, fmt::format("bad webhook url: {}", *why),
                      "https://..., or http:// on 127.0.0.1, ::1 or localhost");
          ok = false;
        } else if (Poco::URI(*text).getHost() == "hooks.slack.com") {
          sink_.error(e->value, "a Slack webhook URL is a secret; do not write it in the config",
                      "url: { file: /etc/bulkwarden/slack.url } (or credential:, env:)");
          ok = false;
        } else {
          n.url = *text;
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (const auto* e = m.find("format")) {
      auto text = scalarText(e->value, sink_, "slack or json");
      if (text && *text == "slack") {
        n.format = NotificationConfig::Format::Slack;
      } else if (text && *text == "json") {
        n.format = NotificationConfig::Format::Json;
      } else {
        if (text) sink_.error(e->value, fmt::format("unknown format '{}'", *text), "slack or json");
        ok = false;
      }
    }
    return ok && m.ok();
  }

  bool email(const YAML::Node& node, NotificationConfig& n) {
    n.kind = NotificationConfig::Kind::Email;
    MapView m(node, sink_, "an email notification", kEmailKeys);
    if (!m.ok()) return false;
    bool ok = true;
    if (const auto* e = m.require("smtp")) {
      auto text = scalarText(e->value, sink_, "host:port, e.g. smtp.acme.com:587");
      auto colon = text ? text->rfind(':') : std::string::npos;
      int port = 0;
      if (text && colon != std::string::npos && colon > 0) {
        std::string digits = text->substr(colon + 1);
        if (!digits.empty() && digits.size() <= 5 &&
            digits.find_first_not_of("0123456789") == std::string::npos) {
          port = std::stoi(digits);
        }
      }
      if (port < 1 || port > 65535) {
        if (text) {
          sink_.error(e->value, fmt::format("bad smtp address '{}'", *text),
                      "host:port, e.g. smtp.acme.com:587");
        }
        ok = false;
      } else {
        n.smtpHost = text->substr(0, colon);
        if (n.smtpHost.size() > 2 && n.smtpHost.front() == '[' && n.smtpHost.back() == ']') {
          n.smtpHost = n.smtpHost.substr(1, n.smtpHost.size() - 2);
        }
        n.smtpPort = port;
      }
    } else {
      ok = false;
    }
    if (const auto* e = m.find("starttls")) {
      bool b = true;
      if (!e->value.IsScalar() || !YAML::convert<bool>::decode(e->value, b)) {
        sink_.error(e->value, "expected true or false for starttls");
        ok = false;
      }
      n.starttls = b;
    }
    if (const auto* e = m.find("ca-file")) {
      if (auto text = path(e->value, "a PEM file of CA certificates")) {
        n.caFile = *text;
      } else {
        ok = false;
      }
    }
    auto address = [&](const YAML::Node& v) -> std::optional<std::string> {
      auto text = scalarText(v, sink_, "an email address");
      // CR/LF would let a config inject SMTP commands or headers.
      if (text && (text->find('@') == std::string::npos ||
                   text->find_first_of("\r\n<> ,") != std::string::npos)) {
        sink_.error(v, fmt::format("bad email address '{}'", *text), "e.g. ops@acme.com");
        return std::nullopt;
      }
      return text;
    };
    if (const auto* e = m.require("from")) {
      if (auto a = address(e->value))
        n.from = *a;
      else
        ok = false;
    } else {
      ok = false;
    }
    if (const auto* e = m.require("to")) {
      std::vector<YAML::Node> items;
      if (e->value.IsSequence()) {
        for (const YAML::Node& item : e->value) items.push_back(item);
      } else {
        items.push_back(e->value);
      }
      if (items.empty()) {
        sink_.error(e->value, "empty list of recipients");
        ok = false;
      }
      for (const auto& item : items) {
        if (auto a = address(item))
          n.to.push_back(*a);
        else
          ok = false;
      }
    } else {
      ok = false;
    }
    if (const auto* e = m.find("username")) {
      auto text = scalarText(e->value, sink_, "a user name");
      if (text && text->find_first_of("\r\n") == std::string::npos) {
        n.username = *text;
      } else {
        ok = false;
      }
    }
    if (const auto* e = m.find("password")) {
      n.password = secret(e->value, "password");
      if (!n.password) ok = false;
    }
    if (n.username.empty() != !n.password.has_value()) {
      sink_.error(node, "username and password go together", "give both, or neither for no AUTH");
      ok = false;
    }
    return ok;
  }

  std::optional<SecretRef> secret(const YAML::Node& node, std::string_view key) {
    MapView m(node, sink_,
              fmt::format("a secret for '{}' ({{ file: PATH }}, {{ credential: NAME }} or "
                          "{{ env: NAME }})",
                          key),
              kSecretKeys);
    if (!m.ok()) return std::nullopt;
    if (m.entries().size() != 1) {
      if (m.entries().size() > 1) {
        sink_.error(
            node,
            fmt::format("a secret has exactly one source; '{}' has {}", key, m.entries().size()),
            "keep one of file, credential, env");
      } else if (node.size() == 0) {  // else its keys were reported as unknown already
        sink_.error(node, fmt::format("empty secret for '{}'", key),
                    "write { file: PATH }, { credential: NAME } or { env: NAME }");
      }
      return std::nullopt;
    }
    const auto& e = m.entries()[0];
    auto text = scalarText(e.value, sink_, fmt::format("a {} name", e.key));
    if (!text) return std::nullopt;
    SecretRef ref;
    ref.where = sink_.at(e.value);
    if (e.key == "file") {
      if (text->empty()) {
        sink_.error(e.value, "empty file path for a secret");
        return std::nullopt;
      }
      ref.source = SecretRef::Source::File;
      ref.name = absoluteAgainst(*text, dir_);
    } else if (e.key == "credential") {
      if (!validCredentialName(*text)) {
        sink_.error(e.value, fmt::format("bad credential name '{}'", *text),
                    "the name given to LoadCredential=, e.g. sf-access-token");
        return std::nullopt;
      }
      ref.source = SecretRef::Source::Credential;
      ref.name = *text;
    } else {
      if (!validEnvName(*text)) {
        sink_.error(e.value, fmt::format("bad environment variable name '{}'", *text));
        return std::nullopt;
      }
      ref.source = SecretRef::Source::Env;
      ref.name = *text;
    }
    return ref;
  }

  void auth(const YAML::Node& node, OrgConfig& org) {
    MapView m(node, sink_, "an auth map", kAuthKeys);
    if (!m.ok()) return;
    std::string flow = "access-token";
    if (const auto* e = m.find("flow")) {
      auto text = scalarText(e->value, sink_, "an auth flow");
      if (!text) return;
      if (std::find(kFlows.begin(), kFlows.end(), *text) == kFlows.end()) {
        std::string hint = fmt::format("flows: {}", fmt::join(kFlows, ", "));
        if (auto c = closest(*text, kFlows)) hint = fmt::format("did you mean '{}'?", *c);
        sink_.error(e->value, fmt::format("unknown auth flow '{}'", *text), hint);
        return;
      }
      flow = *text;
    }
    org.auth.flow = flow;
    const FlowKeys& keys = *std::find_if(kFlowKeys.begin(), kFlowKeys.end(),
                                         [&](const FlowKeys& k) { return k.flow == flow; });
    std::vector<std::string_view> takes = keys.required;
    takes.insert(takes.end(), keys.optional.begin(), keys.optional.end());
    for (const auto& e : m.entries()) {
      if (e.key != "flow" && std::find(takes.begin(), takes.end(), e.key) == takes.end()) {
        sink_.error(e.keyNode, fmt::format("'{}' does not apply to flow {}", e.key, flow),
                    fmt::format("flow {} takes {}", flow, fmt::join(takes, ", ")));
      }
    }
    for (std::string_view key : keys.required) m.require(key);

    AuthConfig& a = org.auth;
    auto text = [&](std::string_view key, std::string& out) {
      if (const auto* e = m.find(key)) {
        if (auto t = scalarText(e->value, sink_, fmt::format("a value for {}", key))) {
          if (t->empty()) {
            sink_.error(e->value, fmt::format("empty {}", key));
          } else {
            out = *t;
          }
        }
      }
    };
    auto secretOf = [&](std::string_view key, std::optional<SecretRef>& out) {
      if (const auto* e = m.find(key)) out = secret(e->value, e->key);
    };
    if (flow == "access-token") {
      secretOf("access-token", a.accessToken);
      return;
    }
    text("client-id", a.clientId);
    secretOf("client-secret", a.clientSecret);
    if (flow == "jwt-bearer") {
      text("username", a.username);
      secretOf("private-key", a.privateKey);
      if (const auto* e = m.find("audience")) {
        if (auto t = scalarText(e->value, sink_,
                                "an audience URL such as https://login.salesforce.com")) {
          if (t->rfind("https://", 0) != 0 || t->size() <= 8) {
            sink_.error(e->value, fmt::format("bad audience '{}'", *t),
                        "https://login.salesforce.com, https://test.salesforce.com or an "
                        "Experience Cloud site URL");
          } else {
            a.audience = *t;
          }
        }
      }
    }
    if (flow == "refresh-token") secretOf("refresh-token", a.refreshToken);
    if (const auto* e = m.find("login-url")) {
      if (auto url = baseUrl(e->value, "login-url")) a.loginUrl = *url;
    } else if (flow != "client-credentials") {
      a.loginUrl = kDefaultLoginUrl;
    }
    if (flow == "client-credentials" && !a.loginUrl.empty()) {
      std::string host = Poco::URI(a.loginUrl).getHost();
      if (host == "login.salesforce.com" || host == "test.salesforce.com") {
        sink_.error(m.find("login-url")->value,
                    fmt::format("flow client-credentials needs the org's My Domain, not {}", host),
                    "use https://YOUR-DOMAIN.my.salesforce.com");
        a.loginUrl.clear();
      }
    }
    if (const auto* e = m.find("error-backoff")) {
      auto t = scalarText(e->value, sink_, "a duration such as 5m");
      auto d = t ? model::parseDuration(*t) : std::nullopt;
      if (t && (!d || *d < kMinErrorBackoff || *d > kMaxErrorBackoff)) {
        sink_.error(e->value, fmt::format("bad error-backoff '{}'", *t),
                    "a duration from 1s to 24h, e.g. 5m (default)");
      } else if (d) {
        a.errorBackoff = *d;
      }
    }
  }

  void http(const YAML::Node& node, Config& cfg) {
    MapView m(node, sink_, "an http map such as { listen: 127.0.0.1:9464 }", kHttpKeys);
    if (!m.ok()) return;
    HttpConfig h;
    if (const auto* e = m.find("listen")) {
      auto text = scalarText(e->value, sink_, "host:port");
      if (!text) return;
      size_t colon = text->rfind(':');
      bool ok = colon != std::string::npos && colon > 0 && colon + 1 < text->size();
      if (ok) {
        std::string_view port(text->data() + colon + 1, text->size() - colon - 1);
        int p = -1;
        auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
        ok = ec == std::errc() && ptr == port.data() + port.size() && p >= 0 && p <= 65535;
        std::string_view host(text->data(), colon);
        if (host.find(':') != std::string_view::npos) {
          ok = ok && host.front() == '[' && host.back() == ']';  // IPv6: [::1]:9464
        }
      }
      if (!ok) {
        sink_.error(e->value, fmt::format("bad listen address '{}'", *text),
                    "write host:port, e.g. 127.0.0.1:9464 or [::1]:9464");
        return;
      }
      h.listen = *text;
    }
    cfg.http = h;
  }

  DiagnosticSink& sink_;
  std::string dir_;
  std::map<std::string, policy::SourceLocation> orgNames_;
  bool orgNamesComplete_ = true;
};

bool hasGlobChars(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

// Expands one `policies:` entry into files, reporting a glob that matches nothing and a literal
// path that does not exist.
void expand(const std::string& pattern, const YAML::Node& node, const std::string& dir,
            DiagnosticSink& sink, std::vector<std::string>& files) {
  std::string full = absoluteAgainst(pattern, dir);
  auto add = [&files](std::string f) {
    if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(std::move(f));
  };
  if (!hasGlobChars(pattern)) {
    struct stat st {};
    if (::stat(full.c_str(), &st) != 0) {
      sink.error(node, fmt::format("policy file '{}' does not exist", full));
      return;
    }
    add(full);
    return;
  }
  glob_t g{};
  int rc = ::glob(full.c_str(), 0, nullptr, &g);
  if (rc == GLOB_NOMATCH) {
    sink.error(node, fmt::format("no file matches '{}'", full),
               "a glob in 'policies' must match at least one file");
  } else if (rc != 0) {
    sink.error(node, fmt::format("cannot expand '{}'", full));
  } else {
    for (size_t i = 0; i < g.gl_pathc; ++i) add(g.gl_pathv[i]);
  }
  ::globfree(&g);
}

}  // namespace

Config loadConfig(const std::string& path) {
  std::vector<Diagnostic> diagnostics;
  DiagnosticSink sink(path, diagnostics);
  Config cfg;
  cfg.path = path;
  std::string dir = std::filesystem::absolute(std::filesystem::path(path)).parent_path().string();

  auto text = readFileCapped(path, kMaxConfigBytes, sink);
  if (!text) throw ConfigError(std::move(diagnostics));
  auto root = parseYaml(*text, sink);
  if (!root) throw ConfigError(std::move(diagnostics));
  if (root->IsNull()) {
    sink.fileError("the config file is empty", "see /usr/share/bulkwarden/bulkwarden.yaml");
    throw ConfigError(std::move(diagnostics));
  }

  ConfigParser parser(sink, dir);
  std::vector<std::pair<std::string, YAML::Node>> patterns;
  parser.parse(*root, cfg, patterns);

  for (const auto& [pattern, node] : patterns) expand(pattern, node, dir, sink, cfg.policyFiles);

  std::vector<std::string> orgNames;
  for (const OrgConfig& o : cfg.orgs) orgNames.push_back(o.name);
  // When some org could not be read, "unknown org" errors in policies would only be noise.
  const std::vector<std::string>* known = parser.orgNamesComplete() ? &orgNames : nullptr;
  PolicySet set;
  for (const std::string& file : cfg.policyFiles) {
    DiagnosticSink fileSink(file, diagnostics);
    if (auto policyText = readFileCapped(file, kMaxPolicyFileBytes, fileSink)) {
      // Digested from the very text parsed, so the digest names what made the decisions.
      cfg.policyFileDigests.push_back(sha256Hex(*policyText));
      loadPolicyText(*policyText, fileSink, known, set);
    } else {
      cfg.policyFileDigests.emplace_back();
    }
  }
  std::string listing;
  for (size_t i = 0; i < cfg.policyFiles.size(); ++i) {
    listing += cfg.policyFileDigests[i] + "  " + cfg.policyFiles[i] + "\n";
  }
  cfg.policyDigest = sha256Hex(listing);
  for (const auto& p : set.policies) {
    for (size_t i = 0; i < p.notify.size(); ++i) {
      bool found = false;
      std::vector<std::string_view> names;
      for (const auto& n : cfg.notifications) {
        found = found || n.name == p.notify[i];
        names.push_back(n.name);
      }
      if (found) continue;
      std::string hint =
          names.empty() ? "the config defines no notifications"
                        : fmt::format("notifications in the config: {}", fmt::join(names, ", "));
      if (auto c = closest(p.notify[i], names)) hint = fmt::format("did you mean '{}'?", *c);
      diagnostics.push_back(Diagnostic{
          p.notifyWhere[i], fmt::format("unknown notification '{}'", p.notify[i]), hint});
    }
  }
  if (!diagnostics.empty()) throw ConfigError(sortedByPlace(std::move(diagnostics)));
  cfg.policies = std::move(set.policies);
  // The load time, not a pass time: an exemption already over was probably meant to be
  // extended, and no pass will ever honour it.
  auto now = std::chrono::time_point_cast<model::Duration>(std::chrono::system_clock::now());
  warnExpired(cfg.exempt, now, cfg.warnings);
  // Global exemptions after each policy's own: a job both name is reported with the policy's
  // reason, the more specific one.
  for (auto& p : cfg.policies) {
    warnExpired(p.exempt, now, cfg.warnings);
    warnDeleteQueued(p, cfg.warnings);
    p.exempt.insert(p.exempt.end(), cfg.exempt.begin(), cfg.exempt.end());
  }
  if (cfg.cluster) {
    // Orgs move between nodes, but each node keeps a rotated refresh token in its own state-dir:
    // the node that takes an org over sends a token the rotation has already killed.
    for (const auto& org : cfg.orgs) {
      if (org.auth.flow != "refresh-token") continue;
      cfg.warnings.push_back(Diagnostic{
          org.where,
          fmt::format("warning: org '{}' uses the refresh-token flow in cluster mode: each node "
                      "keeps a rotated refresh token in its own state-dir, so after the org "
                      "moves to another node that node's token may be refused (invalid_grant)",
                      org.name),
          "use flow: jwt-bearer or client-credentials in cluster mode (docs/scaling.md)"});
    }
  }
  cfg.warnings = sortedByPlace(std::move(cfg.warnings));
  return cfg;
}

}  // namespace bulkwarden::config
