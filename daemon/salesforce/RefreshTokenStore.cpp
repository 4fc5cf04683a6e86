#include "salesforce/RefreshTokenStore.h"

#include <Poco/SHA2Engine.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "log/Log.h"
#include "model/Fd.h"

namespace bulkwarden::salesforce {
namespace {

constexpr std::string_view kMagic = "bulkwarden refresh-token 1";
constexpr std::string_view kHashKey = "configured-sha256 ";
constexpr std::string_view kTokenKey = "refresh-token ";
constexpr std::size_t kMaxTokenLength = 4096;
// The layout with the longest token, and nothing more: a bigger file is not ours.
constexpr std::size_t kMaxFileBytes =
    kMagic.size() + kHashKey.size() + 64 + kTokenKey.size() + kMaxTokenLength + 3;

std::string errnoText(int err) { return std::strerror(err); }

using model::Fd;

bool isLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Splits `text` into lines ending in '\n'; nullopt if the last line is unterminated.
std::optional<std::vector<std::string_view>> lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    out.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace

std::string sha256Hex(const std::string& text) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(text);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

bool plainTokenText(const std::string& token) {
  return !token.empty() && token.size() <= kMaxTokenLength &&
         std::all_of(token.begin(), token.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

RefreshTokenStore::RefreshTokenStore(const std::string& stateDir, const std::string& org)
    : dir_(stateDir.empty() ? std::string(".") : stateDir) {
  const bool ok =
      !org.empty() && org.size() <= 64 && std::all_of(org.begin(), org.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      });
  if (!ok) throw std::invalid_argument("an org name for a token file must match [a-z0-9-]{1,64}");
  path_ = dir_ + "/refresh-token." + org;
}

std::optional<std::string> RefreshTokenStore::load(const std::string& configured) const {
  auto fail = [&](const std::string& why) {
    return RefreshTokenStoreError(fmt::format("token file {}: {}", path_, why));
  };
  // O_NONBLOCK: a FIFO planted at the path must not hang the open.
  Fd fd(::open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT) return std::nullopt;
    if (err == ELOOP) throw fail("is a symbolic link; not followed");
    throw fail("cannot open: " + errnoText(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw fail("cannot stat: " + errnoText(errno));
  if (!S_ISREG(st.st_mode)) throw fail("is not a regular file");
  if (st.st_uid != ::geteuid()) {
    throw fail(
        fmt::format("belongs to uid {}, not to bulkwarden's uid {}", st.st_uid, ::geteuid()));
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxFileBytes) {
    throw fail(fmt::format("is {} bytes, more than a token file's {}", st.st_size, kMaxFileBytes));
  }
  if ((st.st_mode & 077) != 0) {
    log::warning("token file {}: mode {:o} lets other users read it; it should be 0600", path_,
                 st.st_mode & 0777);
  }
  std::string text(kMaxFileBytes + 1, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw fail("cannot read: " + errnoText(errno));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > kMaxFileBytes) throw fail("grew past a token file's size while read");
  text.resize(got);
  auto parts = lines(text);
  if (!parts || parts->size() != 3 || (*parts)[0] != kMagic ||
      (*parts)[1].substr(0, kHashKey.size()) != kHashKey ||
      (*parts)[2].substr(0, kTokenKey.size()) != kTokenKey) {
    throw fail("not a bulkwarden token file (unexpected layout)");
  }
  const std::string_view hash = (*parts)[1].substr(kHashKey.size());
  if (hash.size() != 64 || !isLowerHex(hash)) throw fail("bad configured-sha256 line");
  const std::string token((*parts)[2].substr(kTokenKey.size()));
  if (!plainTokenText(token)) {
    throw fail("the refresh token has characters outside printable ASCII, or is empty");
  }
  if (hash != sha256Hex(configured)) return std::nullopt;
  return token;
}

void RefreshTokenStore::save(const std::string& configured, const std::string& token) const {
  auto fail = [&](const std::string& why) {
    return RefreshTokenStoreError(fmt::format("token file {}: {}", path_, why));
  };
  if (!plainTokenText(token)) throw fail("refusing to store a token that is not printable ASCII");
  std::error_code ec;
  if (!std::filesystem::exists(dir_, ec)) {
    std::filesystem::create_directories(dir_, ec);
    if (ec) throw fail("cannot create its folder: " + ec.message());
    ::chmod(dir_.c_str(), 0700);
  }
  const std::string text =
      fmt::format("{}\n{}{}\n{}{}\n", kMagic, kHashKey, sha256Hex(configured), kTokenKey, token);
  const std::string temp = fmt::format("{}.tmp.{}", path_, ::getpid());
  ::unlink(temp.c_str());  // a leftover of a crash between open and rename
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) throw fail("cannot create " + temp + ": " + errnoText(errno));
  auto abandon = [&](const std::string& why) {
    const int err = errno;
    ::close(fd.release());
    ::unlink(temp.c_str());
    return fail(why + ": " + errnoText(err));
  };
  if (::fchmod(fd.get(), 0600) != 0) throw abandon("cannot set mode 0600");
  if (!model::writeAll(fd.get(), text)) throw abandon("cannot write");
  if (::fsync(fd.get()) != 0) throw abandon("cannot fsync");
  if (::close(fd.release()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    throw fail("cannot close: " + errnoText(err));
  }
  if (::rename(temp.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    throw fail("cannot rename into place: " + errnoText(err));
  }
  // The rename is durable only once the folder is synced.
  Fd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0 || ::fsync(dir.get()) != 0) {
    throw fail("cannot fsync its folder: " + errnoText(errno));
  }
}

}  // namespace bulkwarden::salesforce
