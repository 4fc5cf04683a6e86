// The audit trail in PostgreSQL (docs/scaling.md): every record of every node in one table
// (bw_audit), each org's records on a hash chain of their own (seq, prev, hash as in the file
// trail, docs/design.md section 4), with the writing node and its local file seq beside them.
// An intent is the fence: it is inserted only in a transaction that finds this node still
// holding the org's lease with its epoch and at least LeaseManager::margin() left, so that no
// request goes out (ActionRunner sends only after append returns) unless that commit succeeded.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "audit/AuditSink.h"
#include "audit/WriteObserver.h"
#include "cluster/LeaseManager.h"
#include "cluster/PgConnection.h"
#include "engine/Recovery.h"
#include "salesforce/BulkJobs.h"

namespace bulkwarden::cluster {

// An intent's append to the shared trail whose COMMIT may have taken effect although no
// acknowledgement came (the database restarted, the statement timed out, the commit failed).
class CommitInDoubt : public audit::AuditError {
 public:
  using audit::AuditError::AuditError;
};

// Thread-safe: appends are serialised on one connection (one transaction each).
class PgAuditSink : public audit::AuditSink {
 public:
  PgAuditSink(std::string conninfo, std::string password, LeaseManager& leases);

  // Appends with the node's own name and no local seq (records only this trail holds).
  uint64_t append(std::string_view type, std::string_view run, const audit::Fields& fields,
                  Sync sync) override;
  // Appends a record that the local file holds as `fileSeq`; `intentNode`: for a result, the
  // node whose intent it settles (empty: this node). Returns the record's seq in its org's chain.
  // Throws AuditError: the database failed, or (an intent) the fence refused.
  uint64_t appendAs(std::string_view type, std::string_view run, const audit::Fields& fields,
                    uint64_t fileSeq, const std::string& intentNode = {});
  void sync() override {}  // each append is a committed transaction

  // Intents for `org` no result settles yet, oldest first; `node` and seq of each as written.
  struct Open {
    engine::OpenIntent intent;  // seq: the writing node's file seq
    std::string node;
  };
  std::vector<Open> openIntents(const std::string& org);
  // Settles them by GET (engine::reconcile), the results going to this trail only. True when
  // none is left open.
  bool settle(const std::string& org, salesforce::BulkJobs& jobs);

 private:
  LeaseManager& leases_;
  std::mutex mutex_;
  PgConnection db_;
  std::set<std::string> heads_;  // orgs whose chain head row is known to exist
};

// Writes every record to the database trail first (the fence), then to the local file; returns
// the local seq. A record the file then refuses is marked in the database (an intent gets a
// `not-sent` result), so neither trail holds an action the other does not. Thread-safe (one
// append at a time, so that the local seq each database record names is the one it gets).
class TeeSink : public audit::AuditSink {
 public:
  // `observer`: whom to tell when the shared trail refuses a record (audit/WriteObserver.h).
  TeeSink(audit::AuditSink& local, PgAuditSink& shared, std::function<uint64_t()> localLastSeq,
          std::function<audit::WriteObserver*()> observer = nullptr)
      : local_(local),
        shared_(shared),
        localLastSeq_(std::move(localLastSeq)),
        observer_(std::move(observer)) {}
  uint64_t append(std::string_view type, std::string_view run, const audit::Fields& fields,
                  Sync sync) override;
  void sync() override { local_.sync(); }
  void syncThrough(uint64_t seq) override { local_.syncThrough(seq); }

 private:
  audit::AuditSink& local_;
  PgAuditSink& shared_;
  std::function<uint64_t()> localLastSeq_;
  std::function<audit::WriteObserver*()> observer_;
  std::mutex mutex_;
};

// An org's Bulk API client whose writes (abort, delete, a 1.0 abort) go out only while this node
// may act on the org (LeaseManager::mayAct): asked before the call, and again by the client just
// before each request it sends (a salesforce::SendFence on the calling thread), the one after a
// token renewal included; refused, nothing is sent (ApiError NOT_SENT). Reads pass through.
// Thread-safe as the wrapped client is.
class FencedJobs : public salesforce::BulkJobs {
 public:
  FencedJobs(std::string org, salesforce::BulkJobs& inner, const LeaseManager& leases)
      : org_(std::move(org)), inner_(inner), leases_(leases) {}
  salesforce::Result<salesforce::ListStats> list(model::ResourceKind kind,
                                                 const PageSink& onPage) override {
    return inner_.list(kind, onPage);
  }
  salesforce::Result<model::Job> get(model::ResourceKind kind, const std::string& id) override {
    return inner_.get(kind, id);
  }
  salesforce::Result<salesforce::ActionReply> abort(model::ResourceKind kind,
                                                    const std::string& id) override;
  salesforce::Result<salesforce::ActionReply> remove(model::ResourceKind kind,
                                                     const std::string& id) override;
  salesforce::Result<salesforce::ListStats> listClassic(model::ResourceKind kind,
                                                        const PageSink& onPage) override {
    return inner_.listClassic(kind, onPage);
  }
  salesforce::Result<model::Job> getClassic(const std::string& id) override {
    return inner_.getClassic(id);
  }
  salesforce::Result<salesforce::ActionReply> abortClassic(const std::string& id) override;
  int64_t calls() const override { return inner_.calls(); }
  salesforce::ApiUsage usage() const override { return inner_.usage(); }
  salesforce::Result<salesforce::ApiUsage> probeUsage() override { return inner_.probeUsage(); }
  void closeIdleConnections() override { inner_.closeIdleConnections(); }

 private:
  // Runs `write` under this org's SendFence; refused at once when the lease forbids it already.
  template <class Write>
  salesforce::Result<salesforce::ActionReply> fenced(Write write);

  std::string org_;
  salesforce::BulkJobs& inner_;
  const LeaseManager& leases_;
};

// `audit verify --config` and `audit show --config` with `cluster:` read the database trail.
struct TrailCheck {
  bool ok = true;
  uint64_t records = 0;
  uint64_t orgs = 0;
  uint64_t openIntents = 0;
  std::string problem;  // the first problem found: org, seq and what
};
// Checks every org's chain (seq from 1, prev, hash, the record's own seq and org). Throws PgError.
TrailCheck verifyTrail(PgConnection& db);
// Streams every record's text in time order (ties: org, seq) into `line`. Throws PgError.
void readTrail(PgConnection& db, const std::function<void(const std::string&)>& line);

}  // namespace bulkwarden::cluster
