// Keeps an org's newest refresh token on disk (issue 13: refresh-token rotation), so that a
// rotated token survives a restart. One file per org in state-dir, mode 0600, replaced
// atomically (temp file, fsync, rename, fsync of the folder). Beside the token it keeps a SHA-256
// of the configured refresh token it descends from: when the configured token changes (a person
// put a new one in), the stored one no longer applies. The file is hostile input: opened without
// following a symlink, size-capped, every character checked; its content never appears in errors.
// Not thread-safe: the token provider calls it with its own lock held.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

namespace bulkwarden::salesforce {

class RefreshTokenStoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RefreshTokenStore {
 public:
  // The file for `org` in `stateDir`: <stateDir>/refresh-token.<org>. Throws
  // std::invalid_argument for an org name outside [a-z0-9-] (config names are checked already).
  RefreshTokenStore(const std::string& stateDir, const std::string& org);

  const std::string& path() const { return path_; }

  // The stored token if the file exists and was written for `configured`; nullopt when there is
  // no file or it descends from another configured token. Throws RefreshTokenStoreError for a
  // file that cannot be trusted (a symlink, not a regular file, too big, bad characters, bad
  // layout) or read, saying what is wrong without quoting it.
  std::optional<std::string> load(const std::string& configured) const;

  // Replaces the file with `token`, descending from `configured`. Durable when it returns (the
  // rename and the folder are synced). Creates state-dir (0700) if missing. Throws
  // RefreshTokenStoreError; the old file is then untouched.
  void save(const std::string& configured, const std::string& token) const;

 private:
  std::string dir_;
  std::string path_;
};

// SHA-256 of `text` in lowercase hex.
std::string sha256Hex(const std::string& text);

// A refresh or access token as bulkwarden accepts one: 1 to 4096 printable ASCII characters,
// no space.
bool plainTokenText(const std::string& token);

}  // namespace bulkwarden::salesforce
