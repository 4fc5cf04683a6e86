#include "cluster/PgAudit.h"

#include <fmt/format.h>

#include "audit/AuditLog.h"
#include "audit/Records.h"
#include "log/Log.h"
#include "model/Time.h"
#include "salesforce/CallGate.h"

namespace bulkwarden::cluster {

using audit::AuditError;

namespace {

constexpr std::string_view kHashKey = ",\"hash\":\"";

struct Parsed {
  std::string org;
  std::optional<int64_t> intent;
};

// The org and the intent a record's fields name (built by the engine: valid JSON).
Parsed parseFields(const audit::Fields& fields) {
  Parsed p;
  if (fields.empty()) return p;
  auto parsed = audit::parseRecord(fields.object(), /*requireHeader=*/false);
  if (!parsed) throw AuditError("cluster audit: a record's fields are not JSON: " + parsed.error);
  p.org = parsed.record->org();
  if (auto intent = parsed.record->integer("intent")) p.intent = *intent;
  return p;
}

std::optional<engine::OpenIntent> parseIntent(const std::string& text) {
  auto parsed = audit::parseRecord(text);
  if (!parsed) return std::nullopt;
  return audit::openIntentOf(*parsed.record);
}

// Results of settlement go to the database trail only: they name another node's file seq,
// which the local file does not hold.
class ForNode : public audit::AuditSink {
 public:
  ForNode(PgAuditSink& sink, std::string node) : sink_(sink), node_(std::move(node)) {}
  uint64_t append(std::string_view type, std::string_view run, const audit::Fields& fields,
                  Sync) override {
    audit::Fields f = fields;
    f.add("intent_node", node_);
    return sink_.appendAs(type, run, f, 0, node_);
  }
  void sync() override {}

 private:
  PgAuditSink& sink_;
  std::string node_;
};

}  // namespace

PgAuditSink::PgAuditSink(std::string conninfo, std::string password, LeaseManager& leases)
    : leases_(leases),
      // A fenced commit must end well before the margin it checked is used up.
      db_(std::move(conninfo), std::move(password),
          std::max(std::chrono::milliseconds(300), leases.margin() / 4)) {}

uint64_t PgAuditSink::append(std::string_view type, std::string_view run,
                             const audit::Fields& fields, Sync) {
  return appendAs(type, run, fields, 0);
}

uint64_t PgAuditSink::appendAs(std::string_view type, std::string_view run,
                               const audit::Fields& fields, uint64_t fileSeq,
                               const std::string& intentNode) {
  Parsed p = parseFields(fields);
  const std::string& me = leases_.node();
  std::optional<int64_t> epoch;
  if (type == audit::toString(audit::RecordType::Intent)) {
    epoch = leases_.epoch(p.org);
    if (!epoch) {
      throw AuditError(
          fmt::format("cluster: this node no longer holds the lease on org {} with "
                      "time enough left; the action is not sent",
                      p.org));
    }
  }
  std::lock_guard lock(mutex_);
  try {
    if (!heads_.count(p.org)) {
      db_.exec(
          "INSERT INTO bw_audit_head (org, seq, hash) VALUES ($1, 0, $2) "
          "ON CONFLICT (org) DO NOTHING",
          {p.org, std::string(audit::kGenesisHash)});
      heads_.insert(p.org);
    }
    db_.exec("BEGIN");
    auto head = db_.exec("SELECT seq, hash FROM bw_audit_head WHERE org = $1 FOR UPDATE", {p.org});
    if (head.rows() != 1) throw PgError("the chain head of org " + p.org + " is missing");
    uint64_t seq = std::stoull(head.get(0, 0)) + 1;
    std::string prev = head.get(0, 1);
    std::string ts = model::formatRfc3339(
        model::Timestamp(std::chrono::time_point_cast<model::Timestamp::duration>(
            std::chrono::system_clock::now())));
    std::string line = fmt::format("{{\"seq\":{},\"ts\":\"{}\",\"run\":", seq, ts);
    audit::appendJsonString(line, run);
    line += ",\"type\":";
    audit::appendJsonString(line, type);
    line += ",\"node\":";
    audit::appendJsonString(line, me);
    line += fmt::format(",\"file_seq\":{}", fileSeq);
    if (!fields.empty()) line += "," + fields.body();
    line += ",\"prev\":\"" + prev + "\"";
    std::string hash = audit::sha256Hex(line);
    line += std::string(kHashKey) + hash + "\"}";
    if (line.size() > audit::kMaxRecordBytes) throw PgError("a record over the size limit");
    std::optional<std::string> inode, iseq;
    if (type == audit::toString(audit::RecordType::Result) && p.intent) {
      inode = intentNode.empty() ? me : intentNode;
      iseq = std::to_string(*p.intent);
    }
    PgParams params = {
        p.org, std::to_string(seq), ts, me, std::to_string(fileSeq), std::string(type), inode, iseq,
        line};
    if (epoch) {
      params.push_back(std::to_string(*epoch));
      params.push_back(std::to_string(leases_.margin().count()));
      auto r = db_.exec(
          "INSERT INTO bw_audit (org, seq, ts, node, file_seq, type, intent_node, intent_seq, "
          "record) SELECT $1, $2::bigint, $3, $4, $5::bigint, $6, $7, $8::bigint, $9 "
          "WHERE EXISTS (SELECT 1 FROM bw_leases WHERE org = $1 AND holder = $4 AND "
          "epoch = $10::bigint AND expires_at > clock_timestamp() + $11::bigint * "
          "interval '1 millisecond')",
          params);
      if (r.affected() != 1) {
        db_.exec("ROLLBACK");
        throw AuditError(fmt::format(
            "cluster: the fence refused the intent for org {}: the lease (epoch {}) is no "
            "longer this node's with {} ms left; the action is not sent",
            p.org, *epoch, leases_.margin().count()));
      }
    } else {
      db_.exec(
          "INSERT INTO bw_audit (org, seq, ts, node, file_seq, type, intent_node, intent_seq, "
          "record) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
          params);
    }
    db_.exec("UPDATE bw_audit_head SET seq = $2, hash = $3 WHERE org = $1",
             {p.org, std::to_string(seq), hash});
    db_.exec("COMMIT");
    return seq;
  } catch (const PgError& e) {
    if (db_.connected()) {
      try {
        db_.exec("ROLLBACK");
      } catch (const PgError&) {
        db_.close();
      }
    }
    if (epoch) {
      // In doubt: a COMMIT whose reply was lost (the database restarted, the statement timed
      // out) may have committed the intent, yet no request goes out for it. It would stay open
      // while this node keeps the org, so the org is settled again (its open intents, this
      // node's included, by GET) before its next pass here.
      leases_.unsettle(p.org);
      throw CommitInDoubt(std::string("cluster audit trail (PostgreSQL): ") + e.what());
    }
    throw AuditError(std::string("cluster audit trail (PostgreSQL): ") + e.what());
  }
}

std::vector<PgAuditSink::Open> PgAuditSink::openIntents(const std::string& org) {
  std::lock_guard lock(mutex_);
  auto r = db_.exec(
      "SELECT i.node, i.file_seq, i.record FROM bw_audit i WHERE i.org = $1 AND i.type = "
      "'intent' AND NOT EXISTS (SELECT 1 FROM bw_audit r WHERE r.org = i.org AND r.type = "
      "'result' AND r.intent_node = i.node AND r.intent_seq = i.file_seq AND r.seq > i.seq) "
      "ORDER BY i.seq LIMIT 10000",
      {org});
  std::vector<Open> out;
  for (int i = 0; i < r.rows(); ++i) {
    auto intent = parseIntent(r.get(i, 2));
    if (!intent) {
      log::warning("cluster recovery: skipped an unreadable intent of org {} in PostgreSQL", org);
      continue;
    }
    intent->seq = std::stoull(r.get(i, 1));
    out.push_back(Open{std::move(*intent), r.get(i, 0)});
  }
  return out;
}

bool PgAuditSink::settle(const std::string& org, salesforce::BulkJobs& jobs) {
  std::vector<Open> open;
  try {
    open = openIntents(org);
  } catch (const PgError& e) {
    log::warning("cluster recovery: cannot read the open intents of org {}: {}", org, e.what());
    return false;
  }
  if (open.empty()) return true;
  log::notice(
      "cluster recovery: org {}: {} intent(s) left open (by a previous holder, or by an "
      "append of this node whose commit is in doubt); settling them by GET",
      org, open.size());
  std::map<std::string, std::vector<engine::OpenIntent>> byNode;
  for (auto& o : open) byNode[o.node].push_back(std::move(o.intent));
  bool done = true;
  for (const auto& [node, intents] : byNode) {
    ForNode sink(*this, node);
    try {
      auto s = engine::reconcile(intents, {{org, &jobs}}, sink);
      if (s.unresolved > 0) done = false;
    } catch (const AuditError& e) {
      log::warning("cluster recovery: org {}: {}", org, e.what());
      done = false;
    }
  }
  return done;
}

uint64_t TeeSink::append(std::string_view type, std::string_view run, const audit::Fields& fields,
                         Sync sync) {
  std::lock_guard lock(mutex_);
  const uint64_t expected = localLastSeq_() + 1;
  const auto start = std::chrono::steady_clock::now();
  try {
    shared_.appendAs(type, run, fields, expected);  // an intent: the fence
  } catch (const AuditError& e) {
    // The local log times its own writes; a refusal of the shared trail is told here.
    if (auto* observer = observer_ ? observer_() : nullptr) {
      observer->onAuditWrite(
          sync == Sync::Durable ? audit::WriteKind::Durable : audit::WriteKind::Buffered,
          std::chrono::steady_clock::now() - start, false, e.what());
    }
    if (dynamic_cast<const CommitInDoubt*>(&e) != nullptr) {
      // The shared trail may hold this intent under `file_seq` = `expected`, and results are
      // matched to intents by that number: the local trail takes it for the same intent, with
      // a `not-sent` result after it (its request never goes out), so that no later record of
      // this node reuses the number and the file says what happened.
      try {
        local_.append(type, run, fields, sync);
        audit::write(
            local_, run,
            audit::NotSentResultRecord{
                fields, expected, "the shared audit trail's commit of the intent is in doubt"});
      } catch (const AuditError& e2) {
        log::warning("cluster audit: {}", e2.what());
      }
    }
    throw;
  }
  try {
    uint64_t seq = local_.append(type, run, fields, sync);
    if (seq != expected) {
      log::warning("cluster audit: local record {} was expected at seq {}", seq, expected);
    }
    return seq;
  } catch (const AuditError& e) {
    if (type == audit::toString(audit::RecordType::Intent)) {
      // Never sent: say so in the shared trail, so that no node settles it as in doubt.
      try {
        audit::NotSentResultRecord notSent{fields, expected,
                                           "the local audit trail refused the intent"};
        shared_.appendAs(audit::toString(audit::NotSentResultRecord::kType), run, notSent.fields(),
                         0);
      } catch (const AuditError& e2) {
        log::warning("cluster audit: {}", e2.what());
      }
    }
    throw;
  }
}

namespace {
salesforce::ApiError notSent(const std::string& org) {
  salesforce::ApiError e;
  e.kind = salesforce::ApiError::Kind::Permanent;
  e.code = std::string(salesforce::kNotSentErrorCode);
  e.message = fmt::format(
      "not sent: this node's lease on org {} could end before the request (cluster)", org);
  e.sent = false;
  return e;
}
}  // namespace

template <class Write>
salesforce::Result<salesforce::ActionReply> FencedJobs::fenced(Write write) {
  if (!leases_.mayAct(org_)) return notSent(org_);
  salesforce::SendFence fence([this]() -> std::optional<salesforce::ApiError> {
    if (leases_.mayAct(org_)) return std::nullopt;
    return notSent(org_);
  });
  return write();
}

salesforce::Result<salesforce::ActionReply> FencedJobs::abort(model::ResourceKind kind,
                                                              const std::string& id) {
  return fenced([&] { return inner_.abort(kind, id); });
}

salesforce::Result<salesforce::ActionReply> FencedJobs::remove(model::ResourceKind kind,
                                                               const std::string& id) {
  return fenced([&] { return inner_.remove(kind, id); });
}

salesforce::Result<salesforce::ActionReply> FencedJobs::abortClassic(const std::string& id) {
  return fenced([&] { return inner_.abortClassic(id); });
}

namespace {
TrailCheck verifySnapshot(PgConnection& db);
}  // namespace

TrailCheck verifyTrail(PgConnection& db) {
  // One snapshot for the rows and the chain heads: nodes keep appending while an auditor checks,
  // and a record committed between reading the rows and reading its head must not read as a cut.
  db.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    TrailCheck c = verifySnapshot(db);
    db.exec("COMMIT");
    return c;
  } catch (...) {
    try {
      db.exec("ROLLBACK");
    } catch (const PgError&) {
      // The connection is gone with its transaction; the first error is the one to report.
    }
    throw;
  }
}

namespace {

TrailCheck verifySnapshot(PgConnection& db) {
  TrailCheck c;
  std::string org;
  std::string lastOrg;
  int64_t lastSeq = 0;
  std::string prev;
  std::map<std::string, int64_t> ends;
  bool first = true;
  audit::RecordParser parser;
  auto fail = [&](const std::string& o, int64_t seq, const std::string& what) {
    if (c.ok) c.problem = fmt::format("org '{}' seq {}: {}", o, seq, what);
    c.ok = false;
  };
  while (true) {
    auto r = first ? db.exec("SELECT org, seq, record FROM bw_audit ORDER BY org, seq LIMIT 5000")
                   : db.exec(
                         "SELECT org, seq, record FROM bw_audit WHERE (org, seq) > ($1, "
                         "$2::bigint) ORDER BY org, seq LIMIT 5000",
                         {lastOrg, std::to_string(lastSeq)});
    first = false;
    if (r.rows() == 0) break;
    for (int i = 0; i < r.rows(); ++i) {
      std::string o = r.get(i, 0);
      int64_t seq = std::stoll(r.get(i, 1));
      std::string text = r.get(i, 2);
      if (o != org || c.records == 0) {
        org = o;
        ++c.orgs;
        prev = std::string(audit::kGenesisHash);
        if (seq != 1) fail(o, seq, "the chain does not start at seq 1 (records cut)");
      } else if (seq != lastSeq + 1 && lastOrg == o) {
        fail(o, seq, fmt::format("seq jumps from {} (records missing)", lastSeq));
      }
      ++c.records;
      lastOrg = o;
      lastSeq = seq;
      ends[o] = seq;
      auto at = text.rfind(kHashKey);
      if (text.size() > audit::kMaxRecordBytes || at == std::string::npos ||
          text.size() < at + kHashKey.size() + 66) {
        fail(o, seq, "not an audit record");
        continue;
      }
      std::string hash = text.substr(at + kHashKey.size(), 64);
      if (audit::sha256Hex(std::string_view(text).substr(0, at)) != hash) {
        fail(o, seq, "the hash does not match the record (altered)");
      }
      auto parsed = parser.parse(text, /*requireHeader=*/false);
      if (!parsed) {
        fail(o, seq, "not valid JSON");
      } else {
        const audit::Record& record = *parsed.record;
        if (record.integer("seq") != seq) fail(o, seq, "the record names another seq");
        if (record.org() != o) fail(o, seq, "the record names another org");
        if (record.text("prev") != prev) {
          fail(o, seq, "prev is not the previous record's hash (deleted or reordered)");
        }
      }
      prev = hash;
    }
  }
  // The chain heads say where each chain ends: a cut tail shows here.
  auto heads = db.exec("SELECT org, seq FROM bw_audit_head WHERE seq > 0 ORDER BY org");
  for (int i = 0; i < heads.rows(); ++i) {
    std::string o = heads.get(i, 0);
    int64_t seq = std::stoll(heads.get(i, 1));
    if (ends[o] != seq) {
      fail(
          o, seq,
          fmt::format("the chain ends at seq {} but its head says {} (records cut)", ends[o], seq));
    }
  }
  auto open = db.exec(
      "SELECT count(*) FROM bw_audit i WHERE i.type = 'intent' AND NOT EXISTS (SELECT 1 FROM "
      "bw_audit r WHERE r.org = i.org AND r.type = 'result' AND r.intent_node = i.node AND "
      "r.intent_seq = i.file_seq AND r.seq > i.seq)");
  c.openIntents = std::stoull(open.get(0, 0));
  return c;
}

}  // namespace

void readTrail(PgConnection& db, const std::function<void(const std::string&)>& line) {
  std::string ts, org, seq;
  bool first = true;
  while (true) {
    auto r = first ? db.exec(
                         "SELECT ts, org, seq, record FROM bw_audit ORDER BY ts, org, seq LIMIT "
                         "5000")
                   : db.exec(
                         "SELECT ts, org, seq, record FROM bw_audit WHERE (ts, org, seq) > ($1, "
                         "$2, $3::bigint) ORDER BY ts, org, seq LIMIT 5000",
                         {ts, org, seq});
    first = false;
    if (r.rows() == 0) return;
    for (int i = 0; i < r.rows(); ++i) {
      ts = r.get(i, 0);
      org = r.get(i, 1);
      seq = r.get(i, 2);
      line(r.get(i, 3));
    }
  }
}

}  // namespace bulkwarden::cluster
