// Raw HTTP helpers for the simulated-org tests: a kept-alive Poco session and Poco JSON parsing,
// deliberately independent of bulkwarden's Salesforce client. Not thread-safe: one per thread.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sim/SimServer.h"

namespace bulkwarden::sim::testing {

inline constexpr const char* kBase = "/services/data/v62.0";

struct Reply {
  int status = 0;
  std::string reason;
  std::string body;
  std::map<std::string, std::string> headers;  // names as sent
  std::optional<std::string> header(const std::string& name) const {
    const auto it = headers.find(name);
    if (it == headers.end()) return std::nullopt;
    return it->second;
  }
  Poco::JSON::Object::Ptr object() const {
    return Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
  }
  Poco::JSON::Array::Ptr array() const {
    return Poco::JSON::Parser().parse(body).extract<Poco::JSON::Array::Ptr>();
  }
  // errorCode of the first entry of an error array; "" when the body is not one.
  std::string errorCode() const {
    try {
      const auto a = array();
      if (a->size() == 0) return "";
      return a->getObject(0)->getValue<std::string>("errorCode");
    } catch (const std::exception&) {
      return "";
    }
  }
  std::string errorMessage() const {
    try {
      return array()->getObject(0)->getValue<std::string>("message");
    } catch (const std::exception&) {
      return "";
    }
  }
};

// Sends `request` with `body` on `session` and reads the whole reply.
inline Reply exchange(Poco::Net::HTTPClientSession& session, Poco::Net::HTTPRequest& request,
                      const std::string& body) {
  session.sendRequest(request) << body;
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  Reply reply;
  reply.status = static_cast<int>(response.getStatus());
  reply.reason = response.getReason();
  std::ostringstream text;
  Poco::StreamCopier::copyStream(in, text);
  reply.body = text.str();
  for (const auto& [name, value] : response) reply.headers[name] = value;
  return reply;
}

class Client {
 public:
  explicit Client(uint16_t port) : session_("127.0.0.1", port) {
    session_.setKeepAlive(true);
    session_.setTimeout(Poco::Timespan(10, 0));
  }

  Reply call(const std::string& method, const std::string& uri, const std::string& token,
             const std::string& body = "", bool withAuth = true) {
    Poco::Net::HTTPRequest request(method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setKeepAlive(true);
    if (withAuth) request.set("Authorization", "Bearer " + token);
    if (!body.empty()) {
      request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    return exchange(session_, request, body);
  }

  Reply get(const std::string& uri, const std::string& token) { return call("GET", uri, token); }

 private:
  Poco::Net::HTTPClientSession session_;
};

// Follows a listing from `uri` to the end. Fails the test on a non-200 page.
struct Listing {
  std::vector<Poco::JSON::Object::Ptr> records;
  std::vector<std::string> nextUrls;  // each page's nextRecordsUrl ("" for null)
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& r : records) out.push_back(r->getValue<std::string>("id"));
    return out;
  }
};

inline Listing listAll(Client& client, std::string uri, const std::string& token,
                       int maxPages = 10000) {
  Listing listing;
  for (int page = 0; page < maxPages; ++page) {
    const Reply reply = client.get(uri, token);
    EXPECT_EQ(reply.status, 200) << uri << ": " << reply.body;
    if (reply.status != 200) break;
    const auto obj = reply.object();
    const auto records = obj->getArray("records");
    for (std::size_t i = 0; i < records->size(); ++i) {
      listing.records.push_back(records->getObject(static_cast<unsigned>(i)));
    }
    const bool done = obj->getValue<bool>("done");
    const bool hasNext = !obj->isNull("nextRecordsUrl");
    listing.nextUrls.push_back(hasNext ? obj->getValue<std::string>("nextRecordsUrl") : "");
    if (done) {
      EXPECT_FALSE(hasNext) << "done page with a nextRecordsUrl";
      break;
    }
    if (!hasNext) break;
    uri = obj->getValue<std::string>("nextRecordsUrl");
  }
  return listing;
}

inline JobSeed seed(std::string kind, std::string state) {
  JobSeed s;
  s.kind = std::move(kind);
  s.state = std::move(state);
  return s;
}

}  // namespace bulkwarden::sim::testing
