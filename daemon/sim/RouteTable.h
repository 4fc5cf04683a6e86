// The simulated org's URL space: which paths exist, which methods each allows, how each is
// authenticated, and which handler serves it. Patterns are path segments where `{version}` matches
// an API version segment (v62.0) and `{id}` any one segment; method "*" matches any method. Built
// once, then read-only: thread-safe for concurrent match() calls.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/SimMessages.h"

namespace bulkwarden::sim {

// What a matched request carries to its handler.
struct RouteCall {
  const SimRequest* request = nullptr;
  std::string base;   // "/services/data/v62.0" (or "/services/async/62.0" for the 1.0 resource)
  int version = 0;    // the major API version; 0 when the pattern has none
  std::string id;     // the {id} segment, if any
  std::string query;  // the raw query string
  int64_t now = 0;    // sim time, ms since the epoch
};

enum class RouteAuth {
  None,        // no session needed, no allowance used, no Sforce-Limit-Info (token, versions)
  Bearer,      // Authorization: Bearer <session>; counts against the allowance
  SfdcSession  // X-SFDC-Session: <session> (Bulk API 1.0); counts against the allowance
};

class RouteTable {
 public:
  using Handler = std::function<SimResponse(const RouteCall&)>;

  void add(std::string_view pattern, std::string method, RouteAuth auth, Handler handler);

  struct Match {
    enum class Kind { Found, WrongMethod, NotFound } kind = Kind::NotFound;
    RouteAuth auth = RouteAuth::Bearer;  // of the path, when Found or WrongMethod
    const Handler* handler = nullptr;    // when Found
    std::string allowed;                 // "GET,PATCH,DELETE" when WrongMethod
    std::string version;                 // the {version} segment as sent ("v62.0"), if any
    std::string id;                      // the {id} segment, if any
    std::string base;                    // the path up to and including {version}
  };
  Match match(std::string_view method, const std::vector<std::string>& segments) const;

  static std::vector<std::string> split(std::string_view path);

 private:
  struct Entry {
    std::vector<std::string> pattern;
    std::string method;
    RouteAuth auth;
    Handler handler;
  };
  std::vector<Entry> entries_;
};

}  // namespace bulkwarden::sim
