#include "notify/Outbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "log/Log.h"
#include "model/Fd.h"

namespace bulkwarden::notify {
namespace {

constexpr std::string_view kPrefix = "notify-";
constexpr std::string_view kSuffix = ".msg";

bool ours(std::string_view name) {
  return name.size() == kPrefix.size() + 20 + kSuffix.size() &&
         name.substr(0, kPrefix.size()) == kPrefix &&
         name.substr(name.size() - kSuffix.size()) == kSuffix &&
         name.substr(kPrefix.size(), 20).find_first_not_of("0123456789") == std::string_view::npos;
}

using model::Fd;
using model::writeAll;

}  // namespace

Outbox::Outbox(std::string dir) : dir_(std::move(dir)) {
  // Sequence numbers start from the clock so that they keep ordering across restarts even when
  // the folder was emptied.
  next_ = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count());
}

std::optional<std::string> Outbox::put(const std::string& target, const std::string& payload) {
  std::string name;
  {
    model::MutexLock lock(mutex_);
    name = fmt::format("{}{:020}{}", kPrefix, next_++, kSuffix);
  }
  Fd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  auto failed = [&](std::string_view what) -> std::optional<std::string> {
    log::error(
        "notification {}: cannot keep the digest in {} ({}: {}); it is sent, but not again "
        "after a crash",
        target, dir_, what, std::strerror(errno));
    return std::nullopt;
  };
  if (dir.get() < 0) return failed("open folder");
  std::string tmp = "." + name + ".tmp";
  {
    Fd fd(::openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                   0600));
    if (fd.get() < 0) return failed("create");
    if (!writeAll(fd.get(), target + "\n" + payload) || ::fsync(fd.get()) != 0) {
      ::unlinkat(dir.get(), tmp.c_str(), 0);
      return failed("write");
    }
  }
  if (::renameat(dir.get(), tmp.c_str(), dir.get(), name.c_str()) != 0) {
    ::unlinkat(dir.get(), tmp.c_str(), 0);
    return failed("rename");
  }
  ::fsync(dir.get());
  return name;
}

std::vector<OutboxEntry> Outbox::load() const {
  std::vector<std::string> names;
  Fd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return {};
  DIR* d = ::fdopendir(::dup(dir.get()));
  if (d == nullptr) return {};
  while (dirent* e = ::readdir(d)) {
    if (ours(e->d_name)) names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  if (names.size() > kMaxEntries) {
    log::warning("{} undelivered notifications in {}; sending the newest {} only", names.size(),
                 dir_, kMaxEntries);
    for (size_t i = 0; i + kMaxEntries < names.size(); ++i) remove(names[i]);
    names.erase(names.begin(), names.end() - kMaxEntries);
  }
  std::vector<OutboxEntry> out;
  for (const auto& name : names) {
    Fd fd(::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    struct stat st {};
    if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_uid != ::geteuid() || (st.st_mode & 022) != 0 ||
        static_cast<uint64_t>(st.st_size) > kMaxEntryBytes) {
      log::warning(
          "{}/{}: not a notification bulkwarden wrote (a link, not a regular file of "
          "this user, writable by others, or over {} bytes); left alone",
          dir_, name, kMaxEntryBytes);
      continue;
    }
    std::string text(static_cast<size_t>(st.st_size), '\0');
    ssize_t n = ::read(fd.get(), text.data(), text.size());
    if (n != st.st_size) continue;
    auto nl = text.find('\n');
    if (nl == std::string::npos || nl == 0 || nl > 64) {
      log::warning("{}/{}: no notification name on its first line; left alone", dir_, name);
      continue;
    }
    out.push_back(OutboxEntry{name, text.substr(0, nl), text.substr(nl + 1)});
  }
  return out;
}

void Outbox::remove(const std::string& file) const {
  if (!ours(file)) return;
  Fd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0 || (::unlinkat(dir.get(), file.c_str(), 0) != 0 && errno != ENOENT)) {
    log::warning("cannot remove {}/{} ({}); it may be sent again at the next start", dir_, file,
                 std::strerror(errno));
  }
}

}  // namespace bulkwarden::notify
