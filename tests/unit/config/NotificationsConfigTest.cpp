// `notifications:` in the config and policies' `notify:` (docs/notifications.md): the forms that
// load, and every mistake reported at its file:line:col.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "config/Config.h"

namespace bulkwarden::config {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class NotificationsConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "bulkwarden-notify-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& notifications, const std::string& notify = "[ops]") {
    std::ofstream(dir_ / "p.yaml") << "policies:\n"
                                      "  - name: p\n"
                                      "    resource: query-jobs\n"
                                      "    action: report\n"
                                      "    notify: "
                                   << notify << "\n    filters:\n      - state: InProgress\n";
    std::ofstream(dir_ / "c.yaml") << "orgs:\n"
                                      "  - name: a\n"
                                      "    instance-url: https://a.my.salesforce.com\n"
                                      "    auth: { flow: access-token, access-token: { env: T } }\n"
                                      "policies: [p.yaml]\n"
                                   << notifications;
    return (dir_ / "c.yaml").string();
  }
  std::vector<Diagnostic> errorsOf(const std::string& path) {
    try {
      loadConfig(path);
    } catch (const ConfigError& e) {
      return e.diagnostics();
    }
    return {};
  }

  fs::path dir_;
};

TEST_F(NotificationsConfig, WebhooksAndEmailLoadAndTheirSecretsAreChecked) {
  auto cfg = loadConfig(write(
      "notifications:\n"
      "  - name: ops\n"
      "    webhook: { url: { env: OPS_HOOK }, format: slack }\n"
      "  - name: plain\n"
      "    webhook: { url: \"https://hooks.acme.com/bw\" }\n"
      "  - name: owners\n"
      "    email: { smtp: smtp.acme.com:587, from: bw@acme.com, to: [a@acme.com, b@acme.com],\n"
      "             username: bw, password: { credential: smtp } }\n",
      "[ops, owners]"));
  ASSERT_EQ(cfg.notifications.size(), 3u);
  const auto& ops = cfg.notifications[0];
  EXPECT_EQ(ops.kind, NotificationConfig::Kind::Webhook);
  EXPECT_EQ(ops.format, NotificationConfig::Format::Slack);
  ASSERT_TRUE(ops.urlSecret);
  EXPECT_EQ(ops.urlSecret->name, "OPS_HOOK");
  EXPECT_EQ(cfg.notifications[1].url, "https://hooks.acme.com/bw");
  EXPECT_EQ(cfg.notifications[1].format, NotificationConfig::Format::Json);
  const auto& owners = cfg.notifications[2];
  EXPECT_EQ(owners.kind, NotificationConfig::Kind::Email);
  EXPECT_EQ(owners.smtpHost, "smtp.acme.com");
  EXPECT_EQ(owners.smtpPort, 587);
  EXPECT_TRUE(owners.starttls);  // the default
  EXPECT_EQ(owners.to.size(), 2u);
  ASSERT_EQ(cfg.policies.size(), 1u);
  EXPECT_EQ(cfg.policies[0].notify, (std::vector<std::string>{"ops", "owners"}));
  // validate checks the new secrets: the URL's and the password's.
  auto refs = secretRefs(cfg);
  ASSERT_EQ(refs.size(), 3u);
  EXPECT_EQ(refs[1]->name, "OPS_HOOK");
  EXPECT_EQ(refs[2]->name, "smtp");
}

TEST_F(NotificationsConfig, AnUnknownNotificationNameIsAnErrorAtItsPlace) {
  auto d = errorsOf(
      write("notifications:\n  - name: ops\n    webhook: { url: { env: H } }\n", "[ops, opz]"));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].where.file, (dir_ / "p.yaml").string());
  EXPECT_EQ(d[0].where.line, 5);
  EXPECT_EQ(d[0].where.column, 19);
  EXPECT_THAT(d[0].message, HasSubstr("unknown notification 'opz'"));
  EXPECT_THAT(d[0].hint, HasSubstr("did you mean 'ops'?"));
  // With no notifications at all.
  d = errorsOf(write("", "[ops]"));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_THAT(d[0].hint, HasSubstr("defines no notifications"));
}

TEST_F(NotificationsConfig, MistakesAreReportedWithoutEchoingAUrl) {
  struct Case {
    std::string yaml;
    int line;
    std::string text;
  };
  const std::vector<Case> cases = {
      {"    webhook: { url: \"https://hooks.slack.com/services/T/B/SECRETX\" }\n", 8,
       "a Slack webhook URL is a secret"},
      {"    webhook: { url: \"http://hooks.acme.com/SECRETX\" }\n", 8, "not loopback"},
      {"    webhook: { url: \"ftp://x/SECRETX\" }\n", 8, "bad webhook url"},
      {"    webhook: { url: { env: H }, format: xml }\n", 8, "unknown format 'xml'"},
      {"    webhook: { url: { env: H } }\n    email: { smtp: a:25 }\n", 7, "either a webhook"},
      {"    email: { smtp: nohost, from: a@b.c, to: [x@y.z] }\n", 8, "bad smtp address"},
      {"    email: { smtp: a:25, from: \"a@b.c\\r\\nRCPT TO: <evil@x>\", to: [x@y.z] }\n", 8,
       "bad email address"},
      {"    email: { smtp: a:25, from: a@b.c, to: [x@y.z], username: u }\n", 8,
       "username and password go together"},
      {"    email: { smtp: a:25, from: a@b.c, to: [x@y.z], starttls: maybe }\n", 8,
       "true or false"},
  };
  for (const auto& c : cases) {
    auto d = errorsOf(write("notifications:\n  - name: ops\n" + c.yaml, "[]"));
    ASSERT_FALSE(d.empty()) << c.yaml;
    EXPECT_EQ(d[0].where.line, c.line) << d[0].str();
    EXPECT_THAT(d[0].message, HasSubstr(c.text)) << d[0].str();
    for (const auto& x : d) EXPECT_THAT(x.str(), ::testing::Not(HasSubstr("SECRETX")));
  }
  auto d =
      errorsOf(write("notifications:\n  - name: ops\n    webhook: { url: { env: H } }\n"
                     "  - name: ops\n    webhook: { url: { env: H } }\n",
                     "[]"));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_THAT(d[0].message, HasSubstr("duplicate notification name 'ops'"));
}

}  // namespace
}  // namespace bulkwarden::config
