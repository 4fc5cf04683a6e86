// The rotated refresh token on disk: written atomically with mode 0600, bound to the configured
// token it descends from, and read as hostile input (symlinks, FIFOs, other owners' files,
// oversized or garbled files are refused without quoting them).
#include "salesforce/RefreshTokenStore.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace bulkwarden::salesforce {
namespace {

namespace fs = std::filesystem;

class TokenStore : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bw-tokens-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& text) {
    std::ofstream out(store().path(), std::ios::binary | std::ios::trunc);
    out << text;
  }
  RefreshTokenStore store() const { return RefreshTokenStore(dir_.string(), "acme"); }
  std::string refusal() {
    try {
      store().load("configured");
    } catch (const RefreshTokenStoreError& e) {
      return e.what();
    }
    ADD_FAILURE() << "the file was accepted";
    return {};
  }
  fs::path dir_;
};

TEST_F(TokenStore, SavesAtomicallyWithMode0600AndLoadsBack) {
  EXPECT_EQ(store().load("configured"), std::nullopt) << "no file yet";
  store().save("configured", "5Aep861.rotated-1");
  struct stat st {};
  ASSERT_EQ(::stat(store().path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(store().load("configured"), "5Aep861.rotated-1");
  store().save("configured", "5Aep861.rotated-2");
  EXPECT_EQ(store().load("configured"), "5Aep861.rotated-2");
  // No temp file is left behind.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(e.path().filename(), "refresh-token.acme");
  }
  EXPECT_EQ(files, 1);
}

TEST_F(TokenStore, CreatesAMissingStateDir) {
  RefreshTokenStore nested((dir_ / "a" / "b").string(), "acme");
  nested.save("configured", "tok");
  EXPECT_EQ(nested.load("configured"), "tok");
}

TEST_F(TokenStore, ANewConfiguredTokenWinsOverTheStoredOne) {
  store().save("configured", "rotated");
  EXPECT_EQ(store().load("configured"), "rotated");
  EXPECT_EQ(store().load("put-in-by-a-person"), std::nullopt);
  // The file keeps a hash, not the configured token.
  std::ifstream in(store().path());
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text.find("configured\n"), std::string::npos);
  EXPECT_NE(text.find(sha256Hex("configured")), std::string::npos);
}

TEST_F(TokenStore, ASymlinkIsNotFollowed) {
  RefreshTokenStore(dir_.string(), "other").save("configured", "planted");
  fs::create_symlink(dir_ / "refresh-token.other", store().path());
  EXPECT_NE(refusal().find("symbolic link"), std::string::npos);
}

TEST_F(TokenStore, AFifoIsRefusedWithoutHanging) {
  ASSERT_EQ(::mkfifo(store().path().c_str(), 0600), 0);
  EXPECT_NE(refusal().find("not a regular file"), std::string::npos);
}

TEST_F(TokenStore, OversizedGarbledOrForeignFilesAreRefusedWithoutQuotingThem) {
  const std::string hash = sha256Hex("configured");
  write("bulkwarden refresh-token 1\nconfigured-sha256 " + hash + "\nrefresh-token " +
        std::string(10'000, 'A') + "\n");
  EXPECT_NE(refusal().find("bytes"), std::string::npos);
  write("bulkwarden refresh-token 1\nconfigured-sha256 " + hash +
        "\nrefresh-token secret\x1b[2Jwith-escape\n");
  std::string why = refusal();
  EXPECT_NE(why.find("printable"), std::string::npos) << why;
  EXPECT_EQ(why.find("secret"), std::string::npos) << "the file's content is quoted: " << why;
  write("bulkwarden refresh-token 1\nconfigured-sha256 " + hash + "\nrefresh-token \n");
  EXPECT_NE(refusal().find("printable"), std::string::npos);
  write("bulkwarden refresh-token 1\nconfigured-sha256 xyz\nrefresh-token tok\n");
  EXPECT_NE(refusal().find("configured-sha256"), std::string::npos);
  write("refresh-token tok\n");
  EXPECT_NE(refusal().find("layout"), std::string::npos);
  write("bulkwarden refresh-token 1\nconfigured-sha256 " + hash + "\nrefresh-token tok");
  EXPECT_NE(refusal().find("layout"), std::string::npos) << "unterminated last line";
  write("bulkwarden refresh-token 1\nconfigured-sha256 " + hash + "\nrefresh-token tok\nmore\n");
  EXPECT_NE(refusal().find("layout"), std::string::npos);
}

TEST_F(TokenStore, RefusesToStoreATokenThatIsNotPlainText) {
  EXPECT_THROW(store().save("configured", "two\nlines"), RefreshTokenStoreError);
  EXPECT_THROW(store().save("configured", ""), RefreshTokenStoreError);
  EXPECT_FALSE(fs::exists(store().path()));
}

TEST_F(TokenStore, AnUnwritableFolderFailsAndLeavesTheOldFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes anywhere";
  store().save("configured", "old");
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_THROW(store().save("configured", "new"), RefreshTokenStoreError);
  fs::permissions(dir_, fs::perms::owner_all);
  EXPECT_EQ(store().load("configured"), "old");
}

TEST(TokenStoreName, OrgNamesOutsideTheConfigCharsetAreRefused) {
  EXPECT_THROW(RefreshTokenStore("/tmp", "../etc"), std::invalid_argument);
  EXPECT_THROW(RefreshTokenStore("/tmp", ""), std::invalid_argument);
  EXPECT_NO_THROW(RefreshTokenStore("/tmp", "acme-prod-2"));
}

}  // namespace
}  // namespace bulkwarden::salesforce
