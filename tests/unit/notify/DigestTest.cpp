// The digest of a pass and its renderings: counts and reasons right, bounded, and whatever a job
// field holds (it comes from the server) escaped for JSON, Slack mrkdwn and email headers.
#include "notify/Digest.h"

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

namespace bulkwarden::notify {
namespace {

using engine::Decision;
using engine::Outcome;

policy::Policy policyNamed(const std::string& name, policy::Action action,
                           std::vector<std::string> notify) {
  policy::Policy p;
  p.name = name;
  p.action = action;
  p.mode = policy::Mode::Enforce;
  p.notify = std::move(notify);
  return p;
}

Decision decision(const policy::Policy& p, std::string id, Outcome outcome, std::string held = "") {
  Decision d;
  d.policy = &p;
  d.job.id = std::move(id);
  d.job.object = "Account";
  d.job.state = model::JobState::UploadComplete;
  d.reason = "state is UploadComplete";
  d.mode = p.mode;
  d.outcome = outcome;
  d.held = std::move(held);
  return d;
}

engine::PassSummary summary() {
  engine::PassSummary s;
  s.run = "r-1";
  s.org = "acme";
  s.resource = model::ResourceKind::Ingest;
  return s;
}

Poco::JSON::Object::Ptr parse(const std::string& text) {
  Poco::JSON::Parser p;
  return p.parse(text).extract<Poco::JSON::Object::Ptr>();
}

TEST(Digest, OnePerNotifyingPolicyWithCountsReasonsAndJobs) {
  auto stuck = policyNamed("stuck", policy::Action::Abort, {"ops"});
  auto quiet = policyNamed("quiet", policy::Action::Report, {});
  std::vector<Decision> ds = {
      decision(stuck, "750A", Outcome::Applied),
      decision(quiet, "750B", Outcome::Recorded),
      decision(stuck, "750C", Outcome::Held, "exempt: quarter close"),
      decision(stuck, "750D", Outcome::Failed),
  };
  auto out = buildDigests(summary(), ds, model::Timestamp{});
  ASSERT_EQ(out.size(), 1u);  // `quiet` names no notification
  const Digest& d = out[0];
  EXPECT_EQ(d.policy, "stuck");
  EXPECT_EQ(d.matched, 3);
  EXPECT_EQ(d.outcomes.at("applied"), 1);
  EXPECT_EQ(d.outcomes.at("held"), 1);
  EXPECT_EQ(d.outcomes.at("failed"), 1);
  EXPECT_EQ(d.held.at("exempt: quarter close"), 1);
  ASSERT_EQ(d.jobs.size(), 3u);
  EXPECT_EQ(d.jobs[1].why, "exempt: quarter close");

  auto json = parse(renderJson(d));
  EXPECT_EQ(json->getValue<std::string>("resource"), "ingest-jobs");
  EXPECT_EQ(json->getValue<int>("matched"), 3);
  EXPECT_EQ(json->getArray("held")->getObject(0)->getValue<int>("count"), 1);
  EXPECT_EQ(json->getArray("jobs")->getObject(0)->getValue<std::string>("outcome"), "applied");

  std::string text = parse(renderSlack(d))->getValue<std::string>("text");
  EXPECT_NE(text.find("1 aborted"), std::string::npos) << text;
  EXPECT_NE(text.find("1 held back"), std::string::npos) << text;
  EXPECT_EQ(emailSubject(d), "bulkwarden: stuck on acme: 1 aborted, 1 failed, 1 held back");
}

TEST(Digest, TheJobListIsBounded) {
  auto p = policyNamed("many", policy::Action::Delete, {"ops"});
  std::vector<Decision> ds;
  for (int i = 0; i < 10'000; ++i)
    ds.push_back(decision(p, "750" + std::to_string(i), Outcome::Applied));
  auto d = buildDigests(summary(), ds, model::Timestamp{}).at(0);
  EXPECT_EQ(d.jobs.size(), kDigestJobs);
  EXPECT_EQ(d.jobsOmitted, 10'000 - static_cast<int64_t>(kDigestJobs));
  EXPECT_EQ(d.outcomes.at("applied"), 10'000);
  EXPECT_LT(renderJson(d).size(), 20'000u);
  EXPECT_LT(renderSlack(d).size(), 10'000u);
  EXPECT_NE(parse(renderSlack(d))->getValue<std::string>("text").find("and 9980 more"),
            std::string::npos);
}

// A hostile server's job fields: quotes, control characters, Slack link syntax, header breaks.
TEST(Digest, HostileJobFieldsAreEscapedInEveryFormat) {
  auto p = policyNamed("p", policy::Action::Report, {"ops"});
  Decision d = decision(p, "750\"},{\"x\":1", Outcome::Recorded);
  d.job.object = "Acc<!channel>\r\nBcc: evil@x\x01";
  d.reason = std::string(10'000, 'r');
  auto dg = buildDigests(summary(), {d}, model::Timestamp{}).at(0);
  auto json = parse(renderJson(dg));  // still one valid object
  auto job = json->getArray("jobs")->getObject(0);
  EXPECT_EQ(job->getValue<std::string>("id"), "750\"},{\"x\":1");
  EXPECT_EQ(job->getValue<std::string>("object"), "Acc<!channel>\r\nBcc: evil@x\x01");
  EXPECT_LT(job->getValue<std::string>("why").size(), 400u);  // capped
  std::string text = parse(renderSlack(dg))->getValue<std::string>("text");
  EXPECT_EQ(text.find("<!channel>"), std::string::npos) << text;
  EXPECT_NE(text.find("&lt;!channel&gt;"), std::string::npos) << text;
  std::string body = emailBody(dg);
  EXPECT_EQ(body.find("\r\nBcc"), std::string::npos);
  EXPECT_EQ(emailSubject(dg).find_first_of("\r\n"), std::string::npos);
}

}  // namespace
}  // namespace bulkwarden::notify
