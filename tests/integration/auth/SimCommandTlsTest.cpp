// `bulkwarden sim` as a child process serving HTTPS and the token endpoint from the command
// line options it documents: a client trusting the test CA logs in with the JWT flow.
#include <gtest/gtest.h>

#include <thread>

#include "auth/AuthSupport.h"
#include "salesforce/BulkClient.h"
#include "salesforce/OAuthTokenProvider.h"
#include "support/Child.h"

namespace bulkwarden::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(AuthTest, SimCommandServesHttpsAndTheTokenEndpoint) {
  auto cert = pki_->server("cli");
  writePrivate((dir_ / "jwt.crt").string(), jwt_->certificatePem, 0644);
  Child sim({"sim", "--empty", "--tls-cert", cert.certFile, "--tls-key", cert.keyFile, "--jwt-cert",
             (dir_ / "jwt.crt").string(), "--client-id", kClientId, "--username", kUsername,
             "--token-lifetime", "2h"},
            (dir_ / "sim.out").string(), (dir_ / "sim.err").string());
  std::string first;
  for (int i = 0; i < 200 && first.find('\n') == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
    first = sim.out();
  }
  ASSERT_EQ(first.rfind("bulkwarden sim: https://127.0.0.1:", 0), 0u) << first << sim.err();
  const std::string url = first.substr(16, first.find(" token ") - 16);

  salesforce::OAuthOptions o;
  o.flow = salesforce::OAuthFlow::JwtBearer;
  o.loginUrl = url;
  o.clientId = kClientId;
  o.username = kUsername;
  o.privateKeyPem = jwt_->privateKeyPem;
  o.transport.caFile = pki_->caFile;
  auto tokens = std::make_shared<salesforce::OAuthTokenProvider>(o);
  salesforce::ClientOptions c;
  c.caFile = pki_->caFile;
  salesforce::BulkClient bulk(c, tokens);
  auto listed = bulk.list(model::ResourceKind::Query, [](salesforce::Page&&) {});
  EXPECT_TRUE(listed.ok()) << listed.error().describe();
  EXPECT_EQ(tokens->instanceUrl(), url);
  sim.signal(SIGTERM);
  EXPECT_EQ(sim.wait(10s), 0) << sim.err();
}

TEST(SimCommandOptions, HelpDocumentsTheAuthOptionsAndBadOnesAreUsageErrors) {
  char tmpl[] = "/tmp/bw-simcli-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    Child help({"sim", "--help"}, dir + "/out", dir + "/err");
    ASSERT_EQ(help.wait(10s), 0);
    for (const char* option :
         {"--tls-cert", "--tls-key", "--client-id", "--jwt-cert", "--client-secret-file",
          "--refresh-token-file", "--token-lifetime", "--not-approved"}) {
      EXPECT_NE(help.out().find(option), std::string::npos) << option;
    }
  }
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"sim", "--tls-cert", "x.crt"},
                                             {"sim", "--token-lifetime", "soon"},
                                             {"sim", "--jwt-cert", dir + "/missing.crt"}}) {
    Child bad(args, dir + "/out", dir + "/err");
    EXPECT_EQ(bad.wait(10s), 64) << args.back() << ": " << bad.err();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bulkwarden::testing
