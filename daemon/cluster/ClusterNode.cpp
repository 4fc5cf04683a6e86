#include "cluster/ClusterNode.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>

#include "cluster/Schema.h"
#include "log/Log.h"
#include "log/Sanitize.h"

namespace bulkwarden::cluster {

namespace {
std::string password(const config::ClusterConfig& c) {
  return c.password ? c.password->resolve() : std::string();
}
}  // namespace

ClusterNode::ClusterNode(const config::ClusterConfig& config, std::vector<std::string> orgs) {
  std::string pw = password(config);
  {
    PgConnection db(config.conninfo, pw, std::chrono::seconds(10));
    ensureSchema(db);
  }
  leases_ = std::make_unique<LeaseManager>(config.conninfo, pw,
                                           LeaseOptions{config.node, config.lease, orgs});
  leases_->prepare();
  shared_ = std::make_unique<PgAuditSink>(config.conninfo, pw, *leases_);
  leases_->setSettle([this](const std::string& org) {
    if (auto b = budgets_.find(org); b != budgets_.end() && !b->second->refresh()) {
      log::info("cluster: {}: the API budget's shared ledger cannot be read; the org waits", org);
      return false;  // tried again before the next pass
    }
    auto it = fenced_.find(org);
    if (it == fenced_.end()) return true;
    return shared_->settle(org, *it->second);
  });
}

ClusterNode::~ClusterNode() { stop(); }

audit::AuditSink& ClusterNode::tee(audit::AuditLog& local) {
  tee_ = std::make_unique<TeeSink>(
      local, *shared_, [&local] { return local.lastSeq(); }, [&local] { return local.observer(); });
  return *tee_;
}

salesforce::BulkJobs& ClusterNode::fenced(const std::string& org, salesforce::BulkJobs& inner) {
  auto& f = fenced_[org];
  f = std::make_unique<FencedJobs>(org, inner, *leases_);
  return *f;
}

void ClusterNode::budgets(const std::vector<std::shared_ptr<engine::ApiBudget>>& budgets) {
  for (const auto& b : budgets) budgets_[b->org()] = b;
}

void ClusterNode::start() { leases_->start(); }
void ClusterNode::stop() {
  if (leases_) leases_->stop();
}

int verifyClusterTrail(const config::ClusterConfig& config) {
  try {
    PgConnection db(config.conninfo, password(config), std::chrono::seconds(60));
    auto c = verifyTrail(db);
    if (!c.ok) {
      fmt::print("postgresql audit trail: ALTERED: {}\n", log::outside(c.problem, 4096));
      return 65;
    }
    fmt::print("postgresql audit trail: OK: {} record(s) in {} chain(s); {} open intent(s)\n",
               c.records, c.orgs, c.openIntents);
    return 0;
  } catch (const PgError& e) {
    fmt::print(stderr, "bulkwarden: {}\n", e.what());
    return 69;
  } catch (const config::ConfigError& e) {
    for (const auto& d : e.diagnostics()) fmt::print(stderr, "{}\n", d.str());
    return 78;
  }
}

std::string exportClusterTrail(const config::ClusterConfig& config, const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return fmt::format("cannot create {}", path);
  std::string error;
  try {
    PgConnection db(config.conninfo, password(config), std::chrono::seconds(60));
    readTrail(db, [&](const std::string& line) {
      std::string l = line + "\n";
      const char* p = l.data();
      size_t left = l.size();
      while (left > 0 && error.empty()) {
        ssize_t n = ::write(fd, p, left);
        if (n <= 0) {
          error = fmt::format("cannot write {}", path);
          break;
        }
        p += n;
        left -= static_cast<size_t>(n);
      }
    });
  } catch (const PgError& e) {
    error = e.what();
  } catch (const config::ConfigError& e) {
    error = e.diagnostics().empty() ? "the database password cannot be read"
                                    : e.diagnostics().front().str();
  }
  ::close(fd);
  return error;
}

TempTrail::~TempTrail() {
  if (!path_.empty()) ::unlink(path_.c_str());
  if (!dir_.empty()) ::rmdir(dir_.c_str());
}

std::string TempTrail::fill(const config::ClusterConfig& config) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/bulkwarden-trail-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return "cannot create a temporary folder in " + tmpl;
  dir_ = tmpl;
  path_ = dir_ + "/cluster-audit.jsonl";
  return exportClusterTrail(config, path_);
}

}  // namespace bulkwarden::cluster
