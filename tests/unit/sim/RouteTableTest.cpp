// The simulated org's URL space on its own: patterns with {version} and {id}, the method rules
// (405 with Allow), and paths that exist nowhere.
#include "sim/RouteTable.h"

#include <gtest/gtest.h>

namespace bulkwarden::sim {
namespace {

RouteTable table() {
  RouteTable t;
  auto handler = [](const char* name) {
    return [name](const RouteCall&) {
      SimResponse r;
      r.body = name;
      return r;
    };
  };
  t.add("/services/data/{version}/jobs/query", "GET", RouteAuth::Bearer, handler("list"));
  t.add("/services/data/{version}/jobs/query/{id}", "GET", RouteAuth::Bearer, handler("get"));
  t.add("/services/data/{version}/jobs/query/{id}", "PATCH", RouteAuth::Bearer, handler("abort"));
  t.add("/services/data/{version}/jobs/query/{id}", "DELETE", RouteAuth::Bearer, handler("delete"));
  t.add("/services/async/{version}/job/{id}", "POST", RouteAuth::SfdcSession, handler("classic"));
  t.add("/services/oauth2/token", "*", RouteAuth::None, handler("token"));
  return t;
}

std::string call(const RouteTable::Match& m) {
  EXPECT_EQ(m.kind, RouteTable::Match::Kind::Found);
  if (m.handler == nullptr) return "";
  return (*m.handler)(RouteCall{}).body;
}

TEST(SimRouteTable, SplitDropsEmptySegments) {
  EXPECT_EQ(RouteTable::split("/a//b/"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(RouteTable::split(""), std::vector<std::string>{});
  EXPECT_EQ(RouteTable::split("///"), std::vector<std::string>{});
}

TEST(SimRouteTable, MatchesByMethodAndCapturesVersionIdAndBase) {
  auto t = table();
  auto m = t.match("PATCH", RouteTable::split("/services/data/v62.0/jobs/query/750R0000000001"));
  EXPECT_EQ(call(m), "abort");
  EXPECT_EQ(m.version, "v62.0");
  EXPECT_EQ(m.id, "750R0000000001");
  EXPECT_EQ(m.base, "/services/data/v62.0");
  EXPECT_EQ(m.auth, RouteAuth::Bearer);
  auto c = t.match("POST", RouteTable::split("/services/async/62.0/job/750R0000000001"));
  EXPECT_EQ(call(c), "classic");
  EXPECT_EQ(c.auth, RouteAuth::SfdcSession);
  EXPECT_EQ(c.base, "/services/async/62.0");
  EXPECT_EQ(call(t.match("PUT", RouteTable::split("/services/oauth2/token"))), "token");
}

TEST(SimRouteTable, AnotherMethodOnAKnownPathListsWhatIsAllowed) {
  auto t = table();
  auto m = t.match("POST", RouteTable::split("/services/data/v62.0/jobs/query/750R0000000001"));
  EXPECT_EQ(m.kind, RouteTable::Match::Kind::WrongMethod);
  EXPECT_EQ(m.allowed, "GET,PATCH,DELETE");
  EXPECT_EQ(m.handler, nullptr);
}

TEST(SimRouteTable, UnknownPathsAndLengthsAreNotFound) {
  auto t = table();
  for (const char* path : {"/services/data/v62.0/jobs", "/services/data/v62.0/jobs/query/a/b",
                           "/services/data/v62.0/jobs/ingest", "/", "/services/oauth2/token/x"}) {
    EXPECT_EQ(t.match("GET", RouteTable::split(path)).kind, RouteTable::Match::Kind::NotFound)
        << path;
  }
}

}  // namespace
}  // namespace bulkwarden::sim
