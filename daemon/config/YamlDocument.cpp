#include "config/YamlDocument.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/anchor.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <tuple>

namespace bulkwarden::config {

policy::SourceLocation DiagnosticSink::at(const YAML::Mark& mark) const {
  policy::SourceLocation loc;
  loc.file = file_;
  if (!mark.is_null() && mark.line >= 0) {
    loc.line = mark.line + 1;
    loc.column = mark.column + 1;
  }
  return loc;
}

void DiagnosticSink::error(const YAML::Mark& mark, std::string message, std::string hint) {
  out_.push_back(Diagnostic{at(mark), std::move(message), std::move(hint)});
}

void DiagnosticSink::error(const YAML::Node& node, std::string message, std::string hint) {
  if (node.IsNull()) {
    for (const auto& [value, keyMark] : emptyValues_) {
      if (value.is(node)) return error(keyMark, std::move(message), std::move(hint));
    }
  }
  error(node.Mark(), std::move(message), std::move(hint));
}

void DiagnosticSink::error(const policy::SourceLocation& where, std::string message,
                           std::string hint) {
  out_.push_back(Diagnostic{where, std::move(message), std::move(hint)});
}

void DiagnosticSink::noteEmptyValue(const YAML::Node& value, const YAML::Mark& keyMark) {
  if (value.IsNull()) emptyValues_.emplace_back(value, keyMark);
}

void DiagnosticSink::fileError(std::string message, std::string hint) {
  out_.push_back(
      Diagnostic{policy::SourceLocation{file_, 0, 0}, std::move(message), std::move(hint)});
}

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string sizeText(size_t bytes) {
  if (bytes % (1024 * 1024) == 0) return fmt::format("{} MiB", bytes / (1024 * 1024));
  if (bytes % 1024 == 0) return fmt::format("{} KiB", bytes / 1024);
  return fmt::format("{} bytes", bytes);
}

}  // namespace

std::optional<std::string> readFileCapped(const std::string& path, size_t maxBytes,
                                          DiagnosticSink& sink) {
  // O_NONBLOCK: opening a FIFO must not hang the daemon; fstat then refuses it.
  Fd f{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)};
  if (f.fd < 0) {
    int err = errno;
    if (err == ENOENT) {
      sink.fileError(fmt::format("file '{}' does not exist", path));
    } else {
      sink.fileError(fmt::format("cannot open '{}': {}", path, std::strerror(err)));
    }
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    sink.fileError(fmt::format("cannot stat '{}': {}", path, std::strerror(errno)));
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    sink.fileError(fmt::format("'{}' is not a regular file", path),
                   S_ISDIR(st.st_mode) ? "name a file, or a glob such as dir/*.yaml" : "");
    return std::nullopt;
  }
  if (static_cast<size_t>(st.st_size) > maxBytes) {
    sink.fileError(fmt::format("file is larger than {} ({} bytes)", sizeText(maxBytes),
                               static_cast<long long>(st.st_size)));
    return std::nullopt;
  }
  std::string text;
  text.resize(maxBytes + 1);
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(f.fd, text.data() + got, text.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      sink.fileError(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
      return std::nullopt;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > maxBytes) {  // the file grew after fstat
    sink.fileError(fmt::format("file is larger than {}", sizeText(maxBytes)));
    return std::nullopt;
  }
  text.resize(got);
  return text;
}

namespace {

// Thrown out of the event handler to stop the parser at the first offence.
struct Refused {
  YAML::Mark mark;
  std::string message;
  std::string hint;
};

// Walks the parse events before any node exists: an alias bomb is refused here, before it can
// expand (docs/reliability.md), and so is nesting deeper than the schema ever needs.
class Guard : public YAML::EventHandler {
 public:
  explicit Guard(int maxDepth) : maxDepth_(maxDepth) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ > 1) {
      throw Refused{mark, "a file holds one YAML document; found a second one",
                    "remove the '---' separator or split the file"};
    }
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { checkAnchor(mark, anchor); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    throw Refused{mark, "YAML aliases (*name) are not allowed",
                  "write the value out in full; anchors and aliases are refused"};
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    checkAnchor(mark, anchor);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    checkAnchor(mark, anchor);
    enter(mark);
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    checkAnchor(mark, anchor);
    enter(mark);
  }
  void OnMapEnd() override { --depth_; }

 private:
  static void checkAnchor(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) {
      throw Refused{mark, "YAML anchors (&name) are not allowed",
                    "write the value out in full; anchors and aliases are refused"};
    }
  }
  void enter(const YAML::Mark& mark) {
    if (++depth_ > maxDepth_) {
      throw Refused{mark, fmt::format("nesting deeper than {} levels", maxDepth_), ""};
    }
  }

  int maxDepth_;
  int depth_ = 0;
  int documents_ = 0;
};

}  // namespace

namespace {

// yaml-cpp reports a tab in indentation as "illegal block entry" or "end of map not found",
// which says nothing of the tab: look for one in the indentation (spaces, tabs and list dashes)
// of the offending line or the one before it.
std::string tabHint(const std::string& text, const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return {};
  size_t start = 0;
  int line = 0;
  size_t prevStart = std::string::npos;
  while (line < mark.line) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) return {};
    prevStart = start;
    start = nl + 1;
    ++line;
  }
  auto tabbed = [&text](size_t from) {
    for (size_t i = from; i < text.size() && text[i] != '\n'; ++i) {
      if (text[i] == '\t') return true;
      if (text[i] != ' ' && text[i] != '-') return false;
    }
    return false;
  };
  if (tabbed(start) || (prevStart != std::string::npos && tabbed(prevStart))) {
    return "YAML forbids tabs for indentation; use spaces";
  }
  return {};
}

}  // namespace

std::optional<YAML::Node> parseYaml(const std::string& text, DiagnosticSink& sink, int maxDepth) {
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    Guard guard(maxDepth);
    while (parser.HandleNextDocument(guard)) {
    }
    return YAML::Load(text);
  } catch (const Refused& r) {
    sink.error(r.mark, r.message, r.hint);
  } catch (const YAML::DeepRecursion& e) {
    sink.error(e.mark, fmt::format("nesting deeper than {} levels", e.depth()));
  } catch (const YAML::ParserException& e) {
    sink.error(e.mark, fmt::format("YAML syntax error: {}", e.msg), tabHint(text, e.mark));
  } catch (const YAML::Exception& e) {
    sink.error(e.mark, fmt::format("cannot read YAML: {}", e.msg));
  }
  return std::nullopt;
}

std::string_view kindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a value";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "nothing";
  }
  return "something else";
}

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (same ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::optional<std::string_view> closest(std::string_view word,
                                        const std::vector<std::string_view>& candidates) {
  std::optional<std::string_view> best;
  size_t bestDistance = 0;
  for (std::string_view c : candidates) {
    size_t d = editDistance(word, c);
    if (!best || d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  // Close enough to be a typo: "api_version", "olderthan", "InProgres", "instanceUrl".
  size_t limit = std::max<size_t>(2, word.size() / 3);
  if (best && bestDistance <= limit && bestDistance < word.size()) return best;
  // Or one name inside the other: "objectName" for "object", "max" for "max-actions".
  if (word.size() >= 3) {
    for (std::string_view c : candidates) {
      if (c.size() >= 3 &&
          (word.find(c) != std::string_view::npos || c.find(word) != std::string_view::npos)) {
        return c;
      }
    }
  }
  return std::nullopt;
}

std::string keyHint(std::string_view key, const std::vector<std::string_view>& valid) {
  if (auto c = closest(key, valid)) return fmt::format("did you mean '{}'?", *c);
  return fmt::format("valid keys: {}", fmt::join(valid, ", "));
}

MapView::MapView(const YAML::Node& node, DiagnosticSink& sink, std::string_view context,
                 const std::vector<std::string_view>& known,
                 const std::vector<std::string_view>& unsupported)
    : node_(node), sink_(sink), context_(context) {
  if (!node.IsMap()) {
    sink.error(node, fmt::format("expected {}, got {}", context, kindName(node)));
    return;
  }
  ok_ = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node k = it->first;  // a copy: `it->first` is a proxy that dies right away
    if (!k.IsScalar()) {
      sink.error(k, fmt::format("a key in {} must be a plain name, got {}", context, kindName(k)));
      continue;
    }
    std::string key = k.Scalar();
    if (const Entry* prior = find(key)) {
      sink.error(k, fmt::format("duplicate key '{}' in {}", key, context),
                 fmt::format("first given at line {}", sink.at(prior->keyNode).line));
      continue;
    }
    sink.noteEmptyValue(it->second, k.Mark());
    if (std::find(unsupported.begin(), unsupported.end(), key) != unsupported.end()) {
      sink.error(k, fmt::format("'{}' is not supported yet", key));
      sawUnsupported_ = true;
    } else if (std::find(known.begin(), known.end(), key) == known.end()) {
      sink.error(k, fmt::format("unknown key '{}' in {}", key, context), keyHint(key, known));
      unknown_.push_back(key);
    } else {
      entries_.push_back(Entry{key, k, it->second});
    }
  }
}

const MapView::Entry* MapView::find(std::string_view key) const {
  for (const Entry& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

const MapView::Entry* MapView::require(std::string_view key) {
  const Entry* e = find(key);
  if (e) return e;
  // A misspelt key was reported already ("did you mean 'age'?"); do not also call it missing.
  for (const std::string& u : unknown_) {
    if (auto c = closest(u, {key}); c && *c == key) return nullptr;
  }
  sink_.error(node_, fmt::format("missing key '{}' in {}", key, context_));
  return nullptr;
}

std::optional<std::string> scalarText(const YAML::Node& node, DiagnosticSink& sink,
                                      std::string_view what) {
  if (!node.IsScalar()) {
    sink.error(node, fmt::format("expected {}, got {}", what, kindName(node)));
    return std::nullopt;
  }
  return node.Scalar();
}

std::vector<Diagnostic> sortedByPlace(std::vector<Diagnostic> diagnostics) {
  std::vector<std::string> files;
  for (const Diagnostic& d : diagnostics) {
    if (std::find(files.begin(), files.end(), d.where.file) == files.end()) {
      files.push_back(d.where.file);
    }
  }
  auto rank = [&files](const Diagnostic& d) {
    auto index = std::find(files.begin(), files.end(), d.where.file) - files.begin();
    return std::make_tuple(index, d.where.line, d.where.column);
  };
  std::stable_sort(diagnostics.begin(), diagnostics.end(),
                   [&rank](const Diagnostic& a, const Diagnostic& b) { return rank(a) < rank(b); });
  return diagnostics;
}

std::string absoluteAgainst(const std::string& path, const std::string& base) {
  std::filesystem::path p(path);
  if (p.is_absolute()) return p.lexically_normal().string();
  return (std::filesystem::path(base) / p).lexically_normal().string();
}

}  // namespace bulkwarden::config
