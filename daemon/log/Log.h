// One line per event with a level, to standard error. Under systemd (JOURNAL_STREAM names the
// stream standard error is connected to) each line starts with the sd-daemon priority prefix
// "<N>" so journald keeps the level.
// Thread-safe: lines from several threads never interleave.
#pragma once

#include <fmt/format.h>

#include <optional>

#include <string>
#include <string_view>

#include "log/Sanitize.h"

namespace bulkwarden::log {

enum class Level { Debug = 0, Info = 1, Notice = 2, Warning = 3, Error = 4, Critical = 5 };

std::optional<Level> parseLevel(std::string_view text);
void setLevel(Level level);
Level level();
bool enabled(Level level);

// Writes one line. `text` must already be free of secrets and hold outside strings only through
// outside() (log/Sanitize.h); as a last line of defence the whole text goes through outside()
// again with the line cap kMaxLineBytes: secrets masked, control characters and invalid UTF-8
// escaped (no line can hold a raw newline or ESC), the length capped.
void write(Level level, std::string_view text);

template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Debug)) write(Level::Debug, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Info)) write(Level::Info, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void notice(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Notice)) write(Level::Notice, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warning(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Warning)) write(Level::Warning, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Error)) write(Level::Error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace bulkwarden::log
