// The adversarial server itself, and the transport's chunked path: Salesforce sends JSON chunked,
// so a body delivered in many small chunks must arrive whole and a chunked body over the cap must
// be refused like any other.
#include "support/HostileServer.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <optional>
#include <string>

#include "salesforce/HttpTransport.h"

namespace bulkwarden::testing {
namespace {

TEST(HostileServer, ChunkedBodyInSmallPiecesArrivesWhole) {
  std::string body = "{\"records\":[" + std::string(50'000, ' ') + "]}";
  HostileServer server([&](const HostileRequest&) {
    HostileReply reply;
    reply.stream = [&](std::ostream& out) {
      for (size_t i = 0; i < body.size(); i += 7) {
        out << body.substr(i, 7);
        out.flush();
      }
    };
    return reply;
  });
  salesforce::HttpTransport transport(server.url(), {});
  salesforce::HttpRequest request;
  request.method = "GET";
  request.target = "/x";
  auto response = transport.send(request);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response.value().body, body);
  EXPECT_EQ(server.count("GET", "/x"), 1u);
}

TEST(HostileServer, ChunkedBodyOverTheCapIsRefused) {
  HostileServer server([](const HostileRequest&) {
    HostileReply reply;
    reply.chunked = true;
    reply.body = std::string(64 * 1024, 'x');
    return reply;
  });
  salesforce::TransportOptions options;
  options.maxBodyBytes = 16 * 1024;
  salesforce::HttpTransport transport(server.url(), options);
  salesforce::HttpRequest request;
  request.method = "GET";
  request.target = "/big";
  auto response = transport.send(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().kind, salesforce::ApiError::Kind::Malformed);
}

// BULKWARDEN_SIM_CHUNKED=1 (CI's chunked run of the integration suite): a normal JSON reply goes
// out chunked, whole; a reply whose framing the test is about, or that names its own framing,
// keeps it.
TEST(HostileServer, BulkwardenSimChunkedChunksNormalJsonRepliesOnly) {
  const char* before = std::getenv("BULKWARDEN_SIM_CHUNKED");
  const std::optional<std::string> saved =
      before != nullptr ? std::optional<std::string>(before) : std::nullopt;
  ::setenv("BULKWARDEN_SIM_CHUNKED", "1", 1);
  const std::string body = "{\"records\":[" + std::string(20'000, ' ') + "]}";
  HostileServer server([&](const HostileRequest& r) {
    HostileReply reply;
    reply.body = body;
    if (r.target == "/framed") reply.framingUnderTest = true;
    if (r.target == "/text") reply.contentType = "text/html";
    return reply;
  });
  auto get = [&](const std::string& target, std::string& got) {
    Poco::Net::HTTPClientSession session("127.0.0.1", server.port());
    Poco::Net::HTTPRequest request("GET", target, Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    got.clear();
    Poco::StreamCopier::copyToString(in, got);
    return response.getChunkedTransferEncoding();
  };
  std::string got;
  EXPECT_TRUE(get("/jobs", got));
  EXPECT_EQ(got, body);
  EXPECT_FALSE(get("/framed", got));
  EXPECT_EQ(got, body);
  EXPECT_FALSE(get("/text", got));
  ::unsetenv("BULKWARDEN_SIM_CHUNKED");
  EXPECT_FALSE(get("/jobs", got)) << "off unless asked";
  if (saved) ::setenv("BULKWARDEN_SIM_CHUNKED", saved->c_str(), 1);
}

}  // namespace
}  // namespace bulkwarden::testing
