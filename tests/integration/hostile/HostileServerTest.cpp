// The adversarial server itself, and the transport's chunked path: Salesforce sends JSON chunked,
// so a body delivered in many small chunks must arrive whole and a chunked body over the cap must
// be refused like any other.
#include "support/HostileServer.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace bulkwarden::testing
