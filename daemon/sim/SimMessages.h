// One HTTP request and reply as the simulated org sees them, and what the network does to a reply.
// Plain values; safe to copy between threads.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace bulkwarden::sim {

// One HTTP request as the org sees it.
struct SimRequest {
  std::string method;
  std::string uri;  // path and query string
  std::string authorization;
  std::string contentType;
  std::string body;
  std::string sfdcSession;  // X-SFDC-Session (the Bulk API 1.0 resource's session header)
  std::string accept;       // Accept
};

// What the network does to a reply (docs/reliability.md: resets and slow drips): the server adapter
// acts it out.
enum class NetFault {
  None,
  ResetBeforeApply,  // the connection is reset; the request was not applied
  ResetAfterApply,   // the request was applied, then the connection is reset: no reply
  Trickle,           // the reply is sent one byte at a time, `trickleEvery` apart
};

struct SimResponse {
  int status = 200;
  std::string contentType = "application/json;charset=UTF-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  NetFault netFault = NetFault::None;
  std::chrono::milliseconds trickleEvery{0};
};

}  // namespace bulkwarden::sim
