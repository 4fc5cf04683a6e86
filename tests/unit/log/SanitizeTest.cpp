// The log sanitiser: every secret shape masked, control characters and invalid UTF-8 escaped,
// the cap, and megabyte inputs of each shape that once overflowed std::regex's recursion.
#include "log/Sanitize.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "log/Log.h"

namespace bulkwarden::log {
namespace {

// ThreadSanitizer and AddressSanitizer builds run several times slower; a linear scan stays far
// below the bound either way, a quadratic one far above it.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kSanitizerSlowdown = 15;
#else
constexpr int kSanitizerSlowdown = 1;
#endif

using namespace std::string_literals;

bool hasRawControl(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

// Whether `s` is well-formed UTF-8 without C1 controls, line/paragraph separators or bidi
// controls.
bool safeUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (n == 0 || i + n > s.size()) return false;
    char32_t cp = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (size_t k = 1; k < n; ++k) {
      const auto t = static_cast<unsigned char>(s[i + k]);
      if ((t & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (t & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    if ((cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
        (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)) {
      return false;
    }
    i += n;
  }
  return true;
}

TEST(Redact, EachSecretShapeIsMasked) {
  struct Case {
    std::string in;
    std::string secret;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"session 00D5e000000AbCd!AQ8AQK.lmx_9-Z end", "AQ8AQK", "session 00D*** end"},
      {"sid=00DR00000009ZyXWVU!ARsAQ.x", "ARsAQ", "sid=00D***"},
      {"Authorization header said Bearer abc.def-ghi, then", "abc.def",
       "Authorization header said Bearer ***, then"},
      {"BEARER\ttok3n\"", "tok3n", "BEARER\t***\""},
      {"key -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY----- "
       "after",
       "MIIEpAIBAAKCAQEA", "key [PEM redacted] after"},
      {"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg and no end", "MIIEvQIBADANBg",
       "[PEM redacted]"},
      {"-----BEGIN ENCRYPTED PRIVATE KEY-----xyzSECRET-----END ENCRYPTED PRIVATE KEY-----.",
       "xyzSECRET", "[PEM redacted]."},
      {"grant_type=x&assertion=eyJhbGc.sig&client_id=c", "eyJhbGc",
       "grant_type=x&assertion=***&client_id=c"},
      {"client_secret=S3cr3t refresh_token=5Aep861&x", "S3cr3t",
       "client_secret=*** refresh_token=***&x"},
      {"Access_Token=opaque\"", "opaque", "Access_Token=***\""},
      {"user=a&PASSWORD=hunter2", "hunter2", "user=a&PASSWORD=***"},
      {R"({"access_token" : "opaque-value","x":1})", "opaque-value",
       R"({"access_token" : "***","x":1})"},
      {R"({"refresh_token":"abc\"xyz"})", "xyz", R"({"refresh_token":"***"})"},
      {R"({"client_secret":"cs1", "assertion":"as1", "signature":"sig1", "password":"pw1"})", "cs1",
       R"({"client_secret":"***", "assertion":"***", "signature":"***", "password":"***"})"},
      {"Authorization: Bearer xyz123\r\nAccept: */*", "xyz123",
       "Authorization: ***\r\nAccept: */*"},
      {"authorization:token-abc", "token-abc", "authorization:***"},
      {"jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl!", "eyJzdWIiOiJ1In0",
       "jwt [JWT redacted]!"},
  };
  for (const auto& c : cases) {
    const std::string out = redactSecrets(c.in);
    EXPECT_EQ(out, c.expected) << c.in;
    EXPECT_EQ(out.find(c.secret), std::string::npos) << c.in;
    // outside() masks the same, and escapes what redactSecrets() leaves.
    EXPECT_EQ(outside(c.in, 4096).find(c.secret), std::string::npos) << c.in;
  }
}

TEST(Redact, OrdinaryTextIsLeftAlone) {
  for (const std::string& text :
       {"login to https://x/services/oauth2/token (jwt-bearer) refused"s,
        "00D5e000000AbCd without a bang, 00D12345678901234567!x (id too long)"s,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"s,
        "eyJonly.one.segment eyJa.notjwt access_token password: x"s,
        R"({"token_type":"Bearer","instance_url":"https://acme.my.salesforce.com"})"s,
        "bearer, Bearer \"quoted\""s, ""s}) {
    EXPECT_EQ(redactSecrets(text), text);
  }
}

TEST(Escape, ControlCharactersAndInvalidUtf8AreEscaped) {
  EXPECT_EQ(escapeControl("a\nbulkwarden crit: forged"), "a\\nbulkwarden crit: forged");
  EXPECT_EQ(escapeControl("\r\n\t\x1b[31mred\x7f\x01"s + '\0'),
            "\\r\\n\\t\\x1b[31mred\\x7f\\x01\\x00");
  EXPECT_EQ(escapeControl("csi \xc2\x9b"
                          "2J nel \xc2\x85"),
            "csi \\u009b2J nel \\u0085");
  EXPECT_EQ(escapeControl("ls \xe2\x80\xa8 ps \xe2\x80\xa9 rlo \xe2\x80\xae fsi \xe2\x81\xa8"),
            "ls \\u2028 ps \\u2029 rlo \\u202e fsi \\u2068");
  // Invalid UTF-8: a stray byte, a cut sequence, an overlong '/', a surrogate, beyond U+10FFFF.
  EXPECT_EQ(escapeControl("\xff x \xc3"), "\\xff x \\xc3");
  EXPECT_EQ(escapeControl("\xc0\xaf"), "\\xc0\\xaf");
  EXPECT_EQ(escapeControl("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  EXPECT_EQ(escapeControl("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
  // Real text stays as it is, backslashes included.
  const std::string text =
      "Compte_\xc3\xa9t\xc3\xa9__c \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 a\\nb";
  EXPECT_EQ(escapeControl(text), text);
  // Escaping twice changes nothing.
  const std::string once = escapeControl("x\n\x1b\xc2\x9b\xff");
  EXPECT_EQ(escapeControl(once), once);
}

TEST(Outside, CapsWithAVisibleMarkerAndNeverCutsACharacter) {
  EXPECT_EQ(outside("short"), "short");
  const std::string out = outside(std::string(100'000, 'a'), 100);
  EXPECT_EQ(out, std::string(100, 'a') + "...[truncated 99900 bytes]");
  // An escape or a UTF-8 character that does not fit whole is left out whole.
  EXPECT_EQ(outside("abcd\n", 5), "abcd...[truncated 1 bytes]");
  EXPECT_EQ(outside("abc\xc3\xa9", 4), "abc...[truncated 2 bytes]");
  EXPECT_EQ(outside("ab\x1b", 4), "ab...[truncated 1 bytes]");
  // A mask stands whole or not at all; the secret never shows.
  EXPECT_EQ(outside("x Bearer tok", 10), "x Bearer ...[truncated 3 bytes]");
  // Each escape counts at its escaped size.
  const std::string controls(1000, '\x1b');
  std::string tenEscapes;
  for (int i = 0; i < 10; ++i) tenEscapes += "\\x1b";
  EXPECT_EQ(outside(controls, 40), tenEscapes + "...[truncated 990 bytes]");
  // Beyond kMaxScanBytes the input is not looked at: counted as truncated.
  EXPECT_EQ(outside(std::string(kMaxScanBytes + 7, '\n'), 2),
            "\\n...[truncated " + std::to_string(kMaxScanBytes + 6) + " bytes]");
}

TEST(Outside, RandomBytesComeOutSafe) {
  std::mt19937 rng(11);
  const std::string alphabet = "\n\r\x1b\x7f\xc2\x9b\xe2\x80\xa8\xff\xc3\xa9 aB0!.=\"-:eyJ00D";
  for (int round = 0; round < 1000; ++round) {
    std::string in;
    const size_t n = rng() % 200;
    for (size_t i = 0; i < n; ++i) {
      in.push_back(rng() % 4 == 0 ? static_cast<char>(rng() % 256)
                                  : alphabet[rng() % alphabet.size()]);
    }
    const size_t cap = rng() % 64;
    const std::string out = outside(in, cap);
    ASSERT_FALSE(hasRawControl(out)) << round;
    ASSERT_TRUE(safeUtf8(out)) << round;
    ASSERT_LE(out.size(), cap + kMaxMarkerBytes) << round;
    const std::string all = escapeControl(in);
    ASSERT_FALSE(hasRawControl(all));
    ASSERT_TRUE(safeUtf8(all));
  }
}

std::chrono::nanoseconds threadCpuTime() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// Each shape that made std::regex recurse once per character, at 1 MB: it must finish fast (no
// stack overflow, no quadratic scan) and mask what it should.
TEST(Redact, MegabyteInputsOfEveryShapeFinishQuickly) {
  constexpr size_t kMb = 1024 * 1024;
  const auto repeat = [](const std::string& unit) {
    std::string s;
    s.reserve(kMb + unit.size());
    while (s.size() < kMb) s += unit;
    return s;
  };
  const std::string run(kMb, 'a');
  const std::vector<std::pair<std::string, std::string>> inputs = {
      {"bearer run", "Bearer " + run},
      {"bearer spaces", "Bearer" + std::string(kMb, ' ')},
      {"bearers", repeat("Bearer ")},
      {"pem body, no end", "-----BEGIN RSA PRIVATE KEY-----" + run},
      {"pem label run", "-----BEGIN " + std::string(kMb, 'A')},
      {"pem false ends", "-----BEGIN PRIVATE KEY-----" + repeat("-----END X")},
      {"pem begins", repeat("-----BEGIN ")},
      {"form value", "assertion=" + run},
      {"form keys", repeat("password=")},
      {"json value", "\"access_token\":\"" + run},
      {"json escapes", "\"access_token\":\"" + repeat("\\\"")},
      {"json spaces", "\"access_token\"" + std::string(kMb, ' ')},
      {"authorization", "Authorization: " + run},
      {"authorization spaces", "Authorization:" + std::string(kMb, ' ')},
      {"session run", "00D" + run},
      {"session ids", repeat("00D000000000001AAA!x")},
      {"session zeros", repeat("00D")},
      {"jwt run", "eyJ" + run},
      {"jwt heads", repeat("eyJ")},
      {"jwt dots", repeat("eyJa.")},
      {"jwt pairs", repeat("eyJa.eyJb")},
      {"url", "https://" + run},
      {"controls", std::string(kMb, '\x1b')},
      {"invalid utf-8", std::string(kMb, '\xff')},
      {"c1", repeat("\xc2\x9b")},
  };
  for (const auto& [name, in] : inputs) {
    // CPU time of this thread: a loaded test machine does not make it look slow.
    const auto start = threadCpuTime();
    const std::string redacted = redactSecrets(in);
    const std::string escaped = escapeControl(in);
    const std::string capped = outside(in, kMaxLineBytes);
    const auto took = threadCpuTime() - start;
    // A linear pass over 1 MiB takes well under a second even unoptimised (about 1 s at worst
    // seen, on a Debug build with both cores busy); a quadratic one would take hours. The bound
    // tells the two apart without timing the machine's load.
    EXPECT_LT(took, std::chrono::milliseconds(5000) * kSanitizerSlowdown) << name;
    EXPECT_LE(capped.size(), kMaxLineBytes + kMaxMarkerBytes) << name;
    EXPECT_FALSE(hasRawControl(capped)) << name;
    EXPECT_FALSE(hasRawControl(escaped)) << name;
  }
  // And what they hide stays hidden.
  EXPECT_EQ(redactSecrets("Bearer " + run), "Bearer ***");
  EXPECT_EQ(redactSecrets("-----BEGIN RSA PRIVATE KEY-----" + run), "[PEM redacted]");
  EXPECT_EQ(redactSecrets("assertion=" + run), "assertion=***");
  EXPECT_EQ(redactSecrets("Authorization: " + run), "Authorization: ***");
  EXPECT_EQ(redactSecrets("eyJ" + run + ".eyJ" + run + "." + run), "[JWT redacted]");
  EXPECT_EQ(outside("-----BEGIN RSA PRIVATE KEY-----" + std::string(500'000, 'a'), 100),
            "[PEM redacted]");
  // Past the scan window the rest is counted, not shown.
  EXPECT_EQ(outside("-----BEGIN RSA PRIVATE KEY-----" + run, 100),
            "[PEM redacted]...[truncated 31 bytes]");
}

// log::write: one line per call whatever the text holds, with the level prefix, capped.
class LogWrite : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-logwrite-XXXXXX";
    fd_ = ::mkstemp(tmpl);
    ASSERT_GE(fd_, 0);
    path_ = tmpl;
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fd_, STDERR_FILENO);
  }
  void TearDown() override {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  std::string written() const {
    std::string out;
    char buf[65536];
    ssize_t n = 0;
    off_t off = 0;
    while ((n = ::pread(fd_, buf, sizeof buf, off)) > 0) {
      out.append(buf, static_cast<size_t>(n));
      off += n;
    }
    return out;
  }
  int fd_ = -1;
  int saved_ = -1;
  std::string path_;
};

TEST_F(LogWrite, OutsideTextCannotForgeALineOrReachTheTerminal) {
  write(Level::Warning,
        "skipped record 750\r\nbulkwarden crit: forged\x1b[2J\xc2\x9b"
        "31m\xe2\x80\xa8x");
  const std::string out = written();
  EXPECT_EQ(out,
            "bulkwarden warning: skipped record 750\\r\\nbulkwarden crit: forged\\x1b[2J\\u009b31m"
            "\\u2028x\n");
}

TEST_F(LogWrite, ALongLineIsCappedAndSecretsMasked) {
  write(Level::Error, "instance https://eyJ" + std::string(200'000, 'a') + " Bearer tok");
  const std::string out = written();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.find('\n'), out.size() - 1);
  EXPECT_LE(out.size(), kMaxLineBytes + kMaxMarkerBytes + 40);
  EXPECT_NE(out.find("...[truncated "), std::string::npos);
  write(Level::Error, "x Authorization: Bearer abc\nBearer def");
  EXPECT_NE(written().find("bulkwarden error: x Authorization: ***\\nBearer ***\n"),
            std::string::npos);
}

}  // namespace
}  // namespace bulkwarden::log
