#include "log/Log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace bulkwarden::log {
namespace {

std::atomic<int> gLevel{static_cast<int>(Level::Info)};
std::mutex gWriteMutex;

// systemd.exec(5): JOURNAL_STREAM is "DEVICE:INODE" of the stream connected to the journal.
// Only when standard error is that very stream do the "<N>" prefixes reach journald; a child
// whose stderr was redirected (a shell run from a service, `2>file`) inherits the variable and
// must write plain lines.
bool stderrIsJournal() {
  const char* env = std::getenv("JOURNAL_STREAM");
  if (!env) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

bool underJournal() {
  static const bool journal = stderrIsJournal();
  return journal;
}

// sd-daemon(3) priorities: 7 debug, 6 info, 5 notice, 4 warning, 3 err, 2 crit.
int journalPriority(Level level) {
  switch (level) {
    case Level::Debug:
      return 7;
    case Level::Info:
      return 6;
    case Level::Notice:
      return 5;
    case Level::Warning:
      return 4;
    case Level::Error:
      return 3;
    case Level::Critical:
      return 2;
  }
  return 6;
}

std::string_view levelName(Level level) {
  switch (level) {
    case Level::Debug:
      return "debug";
    case Level::Info:
      return "info";
    case Level::Notice:
      return "notice";
    case Level::Warning:
      return "warning";
    case Level::Error:
      return "error";
    case Level::Critical:
      return "crit";
  }
  return "info";
}

}  // namespace

std::optional<Level> parseLevel(std::string_view text) {
  for (int i = 0; i <= static_cast<int>(Level::Critical); ++i) {
    if (levelName(static_cast<Level>(i)) == text) return static_cast<Level>(i);
  }
  if (text == "error") return Level::Error;
  return std::nullopt;
}

void setLevel(Level level) { gLevel.store(static_cast<int>(level)); }
Level level() { return static_cast<Level>(gLevel.load()); }
bool enabled(Level l) { return static_cast<int>(l) >= gLevel.load(std::memory_order_relaxed); }

void write(Level level, std::string_view text) {
  std::string line;
  const std::string clean = outside(text, kMaxLineBytes);
  if (underJournal()) {
    line = fmt::format("<{}>{}\n", journalPriority(level), clean);
  } else {
    line = fmt::format("bulkwarden {}: {}\n", levelName(level), clean);
  }
  std::lock_guard lock(gWriteMutex);
  // One write(2) per line: lines stay whole even when several processes share the stream.
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

}  // namespace bulkwarden::log
