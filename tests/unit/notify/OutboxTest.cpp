// The outbox of undelivered digests: kept 0600 and atomically, read back in order, and every
// file planted in the state directory treated as hostile.
#include "notify/Outbox.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace bulkwarden::notify {
namespace {

namespace fs = std::filesystem;

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "bulkwarden-outbox-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(OutboxTest, KeepsEntriesPrivateInOrderUntilRemoved) {
  Outbox box(dir_.string());
  auto a = box.put("ops", "{\"n\":1}");
  auto b = box.put("owners", "subject\nbody\nmore");
  ASSERT_TRUE(a && b);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / *a).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto entries = Outbox(dir_.string()).load();  // as after a restart
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].target, "ops");
  EXPECT_EQ(entries[0].payload, "{\"n\":1}");
  EXPECT_EQ(entries[1].payload, "subject\nbody\nmore");
  box.remove(*a);
  entries = box.load();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].target, "owners");
  // Only its own names: a remove of anything else does nothing.
  std::ofstream(dir_ / "state.sqlite") << "x";
  box.remove("state.sqlite");
  box.remove("../x");
  EXPECT_TRUE(fs::exists(dir_ / "state.sqlite"));
}

TEST_F(OutboxTest, PlantedLinksHugeFilesAndOthersWritableFilesAreLeftAlone) {
  std::ofstream(dir_ / "target") << "ops\n{\"planted\":true}";
  fs::create_symlink(dir_ / "target", dir_ / "notify-00000000000000000001.msg");
  std::ofstream(dir_ / "notify-00000000000000000002.msg") << "ops\n"
                                                          << std::string(kMaxEntryBytes + 1, 'x');
  std::ofstream(dir_ / "notify-00000000000000000003.msg") << "ops\n{}";
  ::chmod((dir_ / "notify-00000000000000000003.msg").c_str(), 0666);
  std::ofstream(dir_ / "notify-00000000000000000004.msg") << "no newline at all";
  ::mkfifo((dir_ / "notify-00000000000000000005.msg").c_str(), 0600);
  std::ofstream(dir_ / "notify-00000000000000000006.msg") << "ops\n{\"fine\":1}";
  ::chmod((dir_ / "notify-00000000000000000006.msg").c_str(), 0600);
  auto entries = Outbox(dir_.string()).load();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].payload, "{\"fine\":1}");
  EXPECT_TRUE(fs::exists(dir_ / "target"));  // the link's target untouched
}

TEST_F(OutboxTest, LoadsAtMostTheNewestCapEntries) {
  for (size_t i = 0; i < kMaxEntries + 5; ++i) {
    std::string name =
        "notify-" + std::string(20 - std::to_string(i).size(), '0') + std::to_string(i) + ".msg";
    std::ofstream(dir_ / name) << "ops\n" << i;
    ::chmod((dir_ / name).c_str(), 0600);
  }
  auto entries = Outbox(dir_.string()).load();
  ASSERT_EQ(entries.size(), kMaxEntries);
  EXPECT_EQ(entries.front().payload, "5");
}

}  // namespace
}  // namespace bulkwarden::notify
