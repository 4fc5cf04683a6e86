// Reading untrusted YAML safely (docs/reliability.md): files are read into a size-capped
// string (regular files only), anchors, aliases and deep nesting are refused before any node is
// built, and the helpers below turn YAML nodes into values with file:line:col diagnostics.
// Free functions and small value types; no shared state.
#pragma once

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/Config.h"

namespace bulkwarden::config {

inline constexpr size_t kMaxConfigBytes = 1024 * 1024;
inline constexpr size_t kMaxPolicyFileBytes = 256 * 1024;
inline constexpr int kMaxYamlDepth = 16;

// Collects diagnostics for one file.
class DiagnosticSink {
 public:
  DiagnosticSink(std::string file, std::vector<Diagnostic>& out)
      : file_(std::move(file)), out_(out) {}
  const std::string& file() const { return file_; }
  policy::SourceLocation at(const YAML::Mark& mark) const;
  policy::SourceLocation at(const YAML::Node& node) const { return at(node.Mark()); }
  void error(const YAML::Mark& mark, std::string message, std::string hint = {});
  void error(const YAML::Node& node, std::string message, std::string hint = {});
  void error(const policy::SourceLocation& where, std::string message, std::string hint = {});
  void fileError(std::string message, std::string hint = {});
  size_t count() const { return out_.size(); }
  // An empty value (`key:`) has no useful position of its own (yaml-cpp marks the next token);
  // errors about it are reported at its key instead.
  void noteEmptyValue(const YAML::Node& value, const YAML::Mark& keyMark);

 private:
  std::string file_;
  std::vector<Diagnostic>& out_;
  std::vector<std::pair<YAML::Node, YAML::Mark>> emptyValues_;
};

// Reads a regular file of at most `maxBytes` into a string; reports to `sink` and returns nullopt
// on any problem (missing, not a regular file, too big, unreadable).
std::optional<std::string> readFileCapped(const std::string& path, size_t maxBytes,
                                          DiagnosticSink& sink);

// Parses one YAML document from `text`. Refuses anchors, aliases, more than one document and
// nesting deeper than `maxDepth`, reporting the position of the first offence. Returns nullopt
// (after reporting) on any problem; an empty document gives a Null node.
std::optional<YAML::Node> parseYaml(const std::string& text, DiagnosticSink& sink,
                                    int maxDepth = kMaxYamlDepth);

// "a map", "a list", "a value", "nothing".
std::string_view kindName(const YAML::Node& node);

// Levenshtein distance, case-insensitive.
size_t editDistance(std::string_view a, std::string_view b);
// The closest of `candidates` to `word` when close enough to be a likely typo.
std::optional<std::string_view> closest(std::string_view word,
                                        const std::vector<std::string_view>& candidates);
// "did you mean 'x'?" or "valid keys: a, b, c".
std::string keyHint(std::string_view key, const std::vector<std::string_view>& valid);

// A YAML map read once: keys in order, duplicates and unknown keys reported.
class MapView {
 public:
  struct Entry {
    std::string key;
    YAML::Node keyNode;
    YAML::Node value;
  };

  // Reports "expected <what>, got ..." when `node` is not a map (ok() is then false). Keys not in
  // `known` are reported as unknown `in <context>`; keys in `unsupported` as "not supported yet".
  MapView(const YAML::Node& node, DiagnosticSink& sink, std::string_view context,
          const std::vector<std::string_view>& known,
          const std::vector<std::string_view>& unsupported = {});

  bool ok() const { return ok_; }
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(std::string_view key) const;
  // The value of `key`, reporting "missing key" at the map when required and absent.
  const Entry* require(std::string_view key);
  const YAML::Node& node() const { return node_; }
  // Whether a key of the `unsupported` list was given (a missing companion key is then noise).
  bool sawUnsupported() const { return sawUnsupported_; }

 private:
  YAML::Node node_;
  DiagnosticSink& sink_;
  std::string context_;
  bool ok_ = false;
  bool sawUnsupported_ = false;
  std::vector<Entry> entries_;
  std::vector<std::string> unknown_;
};

// A scalar's text, or nullopt after reporting "expected <what>, got ...".
std::optional<std::string> scalarText(const YAML::Node& node, DiagnosticSink& sink,
                                      std::string_view what);

// Diagnostics grouped by file (in order of first appearance), then by line and column, so that
// they read top to bottom whatever order the checks ran in.
std::vector<Diagnostic> sortedByPlace(std::vector<Diagnostic> diagnostics);

// Makes `path` absolute against `base` (a directory) unless it already is.
std::string absoluteAgainst(const std::string& path, const std::string& base);

}  // namespace bulkwarden::config
