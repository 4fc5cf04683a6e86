// The Monitor: pass events become Prometheus series and the /status snapshot; /readyz reasons.
#include "status/Monitor.h"

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include "audit/WriteObserver.h"
#include "engine/Metering.h"
#include "status/StatusServer.h"

namespace bulkwarden::status {
namespace {

using engine::Decision;
using engine::Outcome;
using engine::PassSummary;

policy::Policy makePolicy(const std::string& name, policy::Action action) {
  policy::Policy p;
  p.name = name;
  p.action = action;
  p.mode = policy::Mode::Enforce;
  return p;
}

PassSummary summary(bool ok) {
  PassSummary s;
  s.run = "r1";
  s.org = "acme";
  s.resource = model::ResourceKind::Query;
  s.listingComplete = ok;
  if (!ok)
    s.listingError =
        salesforce::ApiError{salesforce::ApiError::Kind::Transient, 503, "", "down", true};
  s.jobsSeen = 7;
  s.apiCalls = 3;
  s.duration = std::chrono::milliseconds(1500);
  return s;
}

bool hasLine(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(Monitor, PassEventsBecomeSeries) {
  Monitor m;
  auto abort = makePolicy("abort-stuck", policy::Action::Abort);
  m.setConfig("/etc/bw.yaml", false, {"acme"}, {&abort});
  m.setConfigLoaded(true);
  auto s = summary(true);
  Decision d;
  d.policy = &abort;
  d.job.id = "750000000000001AAA";
  d.mode = policy::Mode::Enforce;
  m.onDecision(s, d);
  m.onDecision(s, d);
  d.outcome = Outcome::Applied;
  d.http = 200;
  m.onResult(s, d);
  d.outcome = Outcome::AlreadyTerminal;
  m.onResult(s, d);
  m.onPassEnd(s);
  std::string text = m.metricsText();
  EXPECT_TRUE(hasLine(text, "# TYPE bulkwarden_actions_total counter")) << text;
  EXPECT_TRUE(hasLine(
      text, "bulkwarden_decisions_total{mode=\"enforce\",org=\"acme\",policy=\"abort-stuck\"} 2"))
      << text;
  EXPECT_TRUE(hasLine(text,
                      "bulkwarden_actions_total{action=\"abort\",org=\"acme\",outcome=\"applied\","
                      "policy=\"abort-stuck\"} 1"))
      << text;
  EXPECT_TRUE(hasLine(
      text, "bulkwarden_passes_total{org=\"acme\",resource=\"query-jobs\",result=\"ok\"} 1"))
      << text;
  EXPECT_TRUE(hasLine(text, "bulkwarden_api_calls_total{org=\"acme\"} 3")) << text;
  EXPECT_TRUE(
      hasLine(text,
              "bulkwarden_pass_duration_seconds_bucket{org=\"acme\",resource=\"query-jobs\","
              "le=\"1\"} 0"))
      << text;
  EXPECT_TRUE(
      hasLine(text,
              "bulkwarden_pass_duration_seconds_bucket{org=\"acme\",resource=\"query-jobs\","
              "le=\"2.5\"} 1"))
      << text;
  EXPECT_TRUE(hasLine(text, "bulkwarden_ready 1")) << text;
  auto snap = m.snapshot();
  ASSERT_EQ(snap.recentActions.size(), 2u);
  EXPECT_EQ(snap.recentActions.back().outcome, "already-terminal");
}

TEST(Monitor, ReadinessNamesEveryReason) {
  Monitor m;
  EXPECT_EQ(m.notReadyReasons(), std::vector<std::string>{"configuration not loaded"});
  m.setConfig("c", false, {"acme", "beta"}, {});
  m.setConfigLoaded(true);
  EXPECT_TRUE(m.notReadyReasons().empty());
  m.onPassEnd(summary(false));
  m.onAuditWrite(audit::WriteKind::Durable, std::chrono::milliseconds(1), false, "disk full");
  auto why = m.notReadyReasons();
  ASSERT_EQ(why.size(), 2u);
  EXPECT_EQ(why[0], "audit trail not writable: disk full");
  EXPECT_EQ(why[1], "last query-jobs pass of acme failed");
  EXPECT_TRUE(hasLine(m.metricsText(), "bulkwarden_ready 0"));
  EXPECT_TRUE(hasLine(m.metricsText(), "bulkwarden_errors_total{kind=\"audit\"} 1"));
  // A later good pass and write clear it; an org dropped by a reload no longer counts.
  m.onPassEnd(summary(true));
  m.onAuditWrite(audit::WriteKind::Durable, std::chrono::milliseconds(1), true, "");
  EXPECT_TRUE(m.notReadyReasons().empty());
  m.onPassEnd(summary(false));
  m.setConfig("c", false, {"beta"}, {});
  EXPECT_TRUE(m.notReadyReasons().empty());
}

TEST(Monitor, RecentActionsAreBounded) {
  Monitor m;
  auto p = makePolicy("del", policy::Action::Delete);
  Decision d;
  d.policy = &p;
  d.outcome = Outcome::Applied;
  for (size_t i = 0; i < Monitor::kRecentActions + 10; ++i) {
    d.job.id = std::to_string(i);
    m.onResult(summary(true), d);
  }
  auto snap = m.snapshot();
  ASSERT_EQ(snap.recentActions.size(), Monitor::kRecentActions);
  EXPECT_EQ(snap.recentActions.front().jobId, "10");
}

TEST(Monitor, StatusJsonHasOrgsPoliciesPassesAndActions) {
  Monitor m;
  auto p = makePolicy("abort-stuck", policy::Action::Abort);
  p.schedule.every = std::chrono::minutes(2);
  m.setConfig("/etc/bw.yaml", true, {"acme"}, {&p});
  m.setConfigLoaded(true);
  m.onPassEnd(summary(true));
  m.onNextPass("acme", "abort-stuck", *model::parseTimestamp("2026-12-01T10:02:00Z"));
  Poco::JSON::Parser parser;
  auto root = parser.parse(statusJson(m.snapshot())).extract<Poco::JSON::Object::Ptr>();
  EXPECT_TRUE(root->getValue<bool>("dry_run"));
  auto org = root->getArray("orgs")->getObject(0);
  EXPECT_EQ(org->getValue<std::string>("name"), "acme");
  auto pass = org->getArray("last_passes")->getObject(0);
  EXPECT_EQ(pass->getValue<int64_t>("jobs_seen"), 7);
  EXPECT_EQ(pass->getValue<std::string>("next_by"), "2026-12-01T10:02:00.000Z");
  auto pol = root->getArray("policies")->getObject(0);
  EXPECT_EQ(pol->getValue<std::string>("mode"), "dry-run") << "global dry-run shows as dry-run";
  EXPECT_EQ(pol->getValue<std::string>("every"), "2m");
}

// A listing error quotes the org's text: /status must stay valid JSON, hold it exactly, and show
// it with no control character or non-ASCII byte that a terminal could act on.
TEST(Monitor, StatusJsonEscapesTheOrgsTextToPlainAscii) {
  Monitor m;
  auto p = makePolicy("abort-stuck", policy::Action::Abort);
  m.setConfig("/etc/bw.yaml", false, {"acme"}, {&p});
  m.setConfigLoaded(true);
  auto s = summary(false);
  const std::string hostile =
      "INVALID\r\nbulkwarden crit: x\x1b[2J\x7f\xc2\x9b"
      "31m\xe2\x80\xa8";
  s.listingError->message = hostile;
  m.onPassEnd(s);
  const std::string text = statusJson(m.snapshot());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    ASSERT_TRUE(c == '\n' || (u >= 0x20 && u < 0x7f)) << static_cast<int>(u) << " in " << text;
  }
  Poco::JSON::Parser parser;
  auto root = parser.parse(text).extract<Poco::JSON::Object::Ptr>();
  auto pass = root->getArray("orgs")->getObject(0)->getArray("last_passes")->getObject(0);
  EXPECT_NE(pass->getValue<std::string>("error").find(hostile), std::string::npos) << text;
}

TEST(Monitor, StatusShowsACronPolicysCronZoneDescriptionAndTheSchedulersNextPass) {
  Monitor m;
  auto p = makePolicy("nightly", policy::Action::Delete);
  p.description = "Delete failed jobs at night";
  p.schedule.cron = policy::Cron::parse("0 2 * * mon-fri");
  p.schedule.zone = policy::TimeZone::load("Europe/Paris");
  auto q = makePolicy("often", policy::Action::Report);
  q.schedule.every = std::chrono::minutes(5);
  m.setConfig("/etc/bw.yaml", false, {"acme", "beta"}, {&p, &q});
  m.onPassEnd(summary(true));
  // Before the fix the org's next pass was its last pass plus the policy's unused 5m interval.
  m.onNextPass("acme", "nightly", *model::parseTimestamp("2026-12-02T01:00:00Z"));
  m.onNextPass("beta", "nightly", *model::parseTimestamp("2026-12-02T01:00:00Z"));
  m.onNextPass("acme", "often", *model::parseTimestamp("2026-12-01T22:05:00Z"));
  m.onNextPass("beta", "often", *model::parseTimestamp("2026-12-01T22:03:00Z"));
  Poco::JSON::Parser parser;
  auto root = parser.parse(statusJson(m.snapshot())).extract<Poco::JSON::Object::Ptr>();
  auto pols = root->getArray("policies");
  auto nightly = pols->getObject(0);
  EXPECT_EQ(nightly->getValue<std::string>("description"), "Delete failed jobs at night");
  EXPECT_FALSE(nightly->has("every"));
  EXPECT_EQ(nightly->getObject("schedule")->getValue<std::string>("cron"), "0 2 * * mon-fri");
  EXPECT_EQ(nightly->getObject("schedule")->getValue<std::string>("timezone"), "Europe/Paris");
  EXPECT_EQ(nightly->getObject("schedule")->getValue<std::string>("starting_deadline"), "1h");
  EXPECT_EQ(nightly->getValue<std::string>("next_pass"), "2026-12-02T01:00:00.000Z");
  auto often = pols->getObject(1);
  EXPECT_EQ(often->getValue<std::string>("every"), "5m");
  EXPECT_EQ(often->getValue<std::string>("next_pass"), "2026-12-01T22:03:00.000Z");  // earliest
  auto pass = root->getArray("orgs")->getObject(0)->getArray("last_passes")->getObject(0);
  EXPECT_EQ(pass->getValue<std::string>("next_by"), "2026-12-01T22:05:00.000Z");
  // A reload forgets the old scheduler's times.
  m.setConfig("/etc/bw.yaml", false, {"acme"}, {&p});
  EXPECT_TRUE(m.snapshot().nextPass.empty());
}

// A fake client: the engine's metering hooks tell the Monitor listed jobs by state and errors
// by kind.
class FakeJobs : public salesforce::BulkJobs {
 public:
  salesforce::Result<salesforce::ListStats> list(model::ResourceKind,
                                                 const PageSink& onPage) override {
    salesforce::Page page;
    for (auto st :
         {model::JobState::InProgress, model::JobState::InProgress, model::JobState::Aborted}) {
      model::Job j;
      j.state = st;
      page.jobs.push_back(j);
    }
    onPage(std::move(page));
    if (fail)
      return salesforce::ApiError{salesforce::ApiError::Kind::Malformed, 200, "", "x", true};
    return salesforce::ListStats{1, 3, 0};
  }
  salesforce::Result<model::Job> get(model::ResourceKind, const std::string&) override {
    return salesforce::ApiError{salesforce::ApiError::Kind::NotFound, 404, "NOT_FOUND", "", true};
  }
  salesforce::Result<salesforce::ActionReply> abort(model::ResourceKind,
                                                    const std::string&) override {
    return salesforce::ActionReply{200, "Aborted"};
  }
  salesforce::Result<salesforce::ActionReply> remove(model::ResourceKind,
                                                     const std::string&) override {
    return salesforce::ActionReply{204, ""};
  }
  int64_t calls() const override { return 0; }
  salesforce::ApiUsage usage() const override { return {}; }
  bool fail = false;
};

TEST(MonitorHooks, CountsJobsByStateAndErrorsByKind) {
  Monitor m;
  FakeJobs fake;
  engine::MeteredJobs metered("acme", fake, m);
  int pages = 0;
  ASSERT_TRUE(metered.list(model::ResourceKind::Query, [&](salesforce::Page&&) { ++pages; }).ok());
  EXPECT_EQ(pages, 1);
  std::string text = m.metricsText();
  EXPECT_TRUE(hasLine(
      text, "bulkwarden_jobs_seen{org=\"acme\",resource=\"query-jobs\",state=\"InProgress\"} 2"))
      << text;
  EXPECT_TRUE(
      hasLine(text, "bulkwarden_jobs_seen{org=\"acme\",resource=\"query-jobs\",state=\"Open\"} 0"))
      << text;
  // An incomplete listing leaves the last complete counts alone and counts its error.
  fake.fail = true;
  EXPECT_FALSE(metered.list(model::ResourceKind::Query, [](salesforce::Page&&) {}).ok());
  EXPECT_FALSE(metered.get(model::ResourceKind::Query, "x").ok());
  text = m.metricsText();
  EXPECT_TRUE(hasLine(
      text, "bulkwarden_jobs_seen{org=\"acme\",resource=\"query-jobs\",state=\"InProgress\"} 2"));
  EXPECT_TRUE(hasLine(text, "bulkwarden_errors_total{kind=\"malformed\"} 1")) << text;
  EXPECT_TRUE(hasLine(text, "bulkwarden_errors_total{kind=\"not-found\"} 1")) << text;
}

TEST(MonitorHooks, ErrorKindsAreCountedAsTold) {
  Monitor m;
  m.onApiError("acme", "transient", 503, "");
  m.onApiError("beta", "transient", 0, "");
  m.onApiError("acme", "limit-exceeded", 403, "REQUEST_LIMIT_EXCEEDED");
  std::string text = m.metricsText();
  EXPECT_TRUE(hasLine(text, "bulkwarden_errors_total{kind=\"transient\"} 2")) << text;
  EXPECT_TRUE(hasLine(text, "bulkwarden_errors_total{kind=\"limit-exceeded\"} 1")) << text;
  EXPECT_TRUE(hasLine(text, "bulkwarden_errors_total{kind=\"audit\"} 0")) << text;
}

TEST(MonitorHooks, ApiUsageIsShownOnceItsMaximumIsKnown) {
  Monitor m;
  m.onApiUsage("acme", 5, 0);  // no maximum reported yet: nothing to show
  EXPECT_EQ(m.metricsText().find("bulkwarden_salesforce_api_usage{"), std::string::npos);
  m.onApiUsage("acme", 120, 15000);
  m.onApiUsage("acme", 121, 15000);
  std::string text = m.metricsText();
  EXPECT_TRUE(hasLine(text, "bulkwarden_salesforce_api_usage{kind=\"used\",org=\"acme\"} 121"))
      << text;
  EXPECT_TRUE(hasLine(text, "bulkwarden_salesforce_api_usage{kind=\"max\",org=\"acme\"} 15000"))
      << text;
}

TEST(MonitorHooks, AuditWritesAreTimedByKindAndAFailureIsNotReady) {
  Monitor m;
  m.setConfig("c", false, {"acme"}, {});
  m.setConfigLoaded(true);
  m.onAuditWrite(audit::WriteKind::Buffered, std::chrono::microseconds(50), true, "");
  m.onAuditWrite(audit::WriteKind::Buffered, std::chrono::microseconds(70), true, "");
  m.onAuditWrite(audit::WriteKind::Sync, std::chrono::milliseconds(2), true, "");
  std::string text = m.metricsText();
  EXPECT_TRUE(hasLine(text, "bulkwarden_audit_write_seconds_count{sync=\"buffered\"} 2")) << text;
  EXPECT_TRUE(hasLine(text, "bulkwarden_audit_write_seconds_count{sync=\"sync\"} 1")) << text;
  EXPECT_TRUE(hasLine(text, "bulkwarden_audit_write_seconds_bucket{sync=\"sync\",le=\"0.0025\"} 1"))
      << text;
  EXPECT_TRUE(m.notReadyReasons().empty());
  m.onAuditWrite(audit::WriteKind::Sync, std::chrono::milliseconds(1), false, "fdatasync: EIO");
  EXPECT_EQ(m.notReadyReasons(),
            std::vector<std::string>{"audit trail not writable: fdatasync: EIO"});
  EXPECT_TRUE(hasLine(m.metricsText(), "bulkwarden_errors_total{kind=\"audit\"} 1"));
}

}  // namespace
}  // namespace bulkwarden::status

namespace bulkwarden::status {
namespace {

class FixedClock : public model::Clock {
 public:
  model::Timestamp now() const override { return *model::parseTimestamp("2026-12-01T12:00:00Z"); }
  // Never waits: a stop request is the only answer.
  bool sleepUntil(model::Timestamp, const model::StopSignal& stop) const override {
    return stop.requested();
  }
};

TEST(MonitorBudget, CallsByPurposeTheBudgetAndItsDeferralsAreCountedAtEachScrape) {
  FixedClock clock;
  model::BudgetSpec spec;
  spec.calls = 10;
  auto budget = std::make_shared<engine::ApiBudget>("acme", spec, clock);
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(budget->admit(salesforce::CallPurpose::List));
  ASSERT_FALSE(budget->admit(salesforce::CallPurpose::FollowUp));
  Monitor m;
  m.setBudgets({budget});
  std::string text = m.metricsText();
  EXPECT_NE(text.find("bulkwarden_api_calls_by_purpose_total{org=\"acme\",purpose=\"list\"} 3"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("bulkwarden_api_calls_by_purpose_total{org=\"acme\",purpose=\"follow-up\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("bulkwarden_api_budget_calls{kind=\"available\",org=\"acme\"} 6"),
            std::string::npos)
      << text;
  // Spent to the last call: low, then exhausted (two warnings); a follow-up deferred.
  for (int i = 0; i < 6; ++i) ASSERT_FALSE(budget->admit(salesforce::CallPurpose::Action));
  EXPECT_TRUE(budget->followUpRefusal(1));
  text = m.metricsText();
  EXPECT_NE(text.find("bulkwarden_api_calls_by_purpose_total{org=\"acme\",purpose=\"list\"} 3"),
            std::string::npos)
      << "a second scrape adds nothing twice\n"
      << text;
  EXPECT_NE(text.find("bulkwarden_api_calls_by_purpose_total{org=\"acme\",purpose=\"action\"} 6"),
            std::string::npos);
  EXPECT_NE(text.find("bulkwarden_api_budget_warnings_total{org=\"acme\"} 2"), std::string::npos)
      << text;
  EXPECT_NE(text.find("bulkwarden_api_budget_deferred_total{org=\"acme\",what=\"follow-up\"} 1"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace bulkwarden::status
