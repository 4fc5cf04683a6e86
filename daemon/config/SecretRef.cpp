#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "config/Config.h"

namespace bulkwarden::config {
namespace {

constexpr size_t kMaxSecretBytes = 64 * 1024;

std::string joinDiagnostics(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const Diagnostic& d : diagnostics) {
    if (!out.empty()) out += '\n';
    out += d.str();
  }
  return out;
}

[[noreturn]] void fail(const SecretRef& ref, std::string message, std::string hint = {}) {
  throw ConfigError({Diagnostic{ref.where, std::move(message), std::move(hint)}});
}

std::string trimNewline(std::string value) {
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  return value;
}

// An open descriptor, closed once (move-only: openSecret() returns it).
struct Fd {
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& other) noexcept : fd(other.fd) { other.fd = -1; }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int fd = -1;
};

// The rule for a secret in a plain file (`{ file: PATH }`): a regular file, owned by the running
// user or root, that neither group nor others may read (0600 or 0400), as ssh requires of private
// keys. A root-owned 0640 file shared with a group is refused too: it cannot be told from a
// careless chmod, and systemd's LoadCredential= (read as root) is the way to hand a root-owned
// secret to the service. Credentials are checked for type and content only: systemd made them
// private to the service. Returns the problem, or an empty string.
std::string checkStat(const SecretRef& ref, const std::string& path, const struct stat& st,
                      bool checkMode, std::string& hint) {
  if (S_ISDIR(st.st_mode)) return fmt::format("secret from {} is a directory", ref.describe());
  if (!S_ISREG(st.st_mode))
    return fmt::format("secret from {} is not a regular file", ref.describe());
  if (checkMode && st.st_uid != ::geteuid() && st.st_uid != 0) {
    hint = fmt::format("chown {} {}", ::geteuid(), path);
    return fmt::format(
        "secret from {} belongs to uid {}, neither the running user (uid {}) nor "
        "root: that user could replace it",
        ref.describe(), st.st_uid, ::geteuid());
  }
  if (checkMode && (st.st_mode & 077) != 0) {
    hint = fmt::format("chmod 600 {}", path);
    return fmt::format("permissions {:04o} for '{}' are too open: group or others may read it",
                       st.st_mode & 07777, path);
  }
  if (static_cast<size_t>(st.st_size) > kMaxSecretBytes) {
    return fmt::format("secret from {} is larger than 64 KiB", ref.describe());
  }
  return {};
}

Fd openSecret(const SecretRef& ref, const std::string& path) {
  // O_NONBLOCK: a FIFO under the name must not hang `validate` or the start (refused as not a
  // regular file).
  Fd f{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)};
  if (f.fd < 0) {
    int err = errno;
    fail(ref, fmt::format("cannot read secret from {}: {}", ref.describe(), std::strerror(err)));
  }
  return f;
}

// Reads a secret file. `checkMode`: the owner and mode rule above.
std::string readSecretFile(const SecretRef& ref, const std::string& path, bool checkMode) {
  Fd f = openSecret(ref, path);
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    fail(ref, fmt::format("cannot read secret from {}: {}", ref.describe(), std::strerror(errno)));
  }
  std::string hint;
  if (auto problem = checkStat(ref, path, st, checkMode, hint); !problem.empty()) {
    fail(ref, std::move(problem), std::move(hint));
  }
  std::string value(kMaxSecretBytes + 1, '\0');
  size_t got = 0;
  while (got < value.size()) {
    ssize_t n = ::read(f.fd, value.data() + got, value.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fail(ref,
           fmt::format("cannot read secret from {}: {}", ref.describe(), std::strerror(errno)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > kMaxSecretBytes) {
    fail(ref, fmt::format("secret from {} is larger than 64 KiB", ref.describe()));
  }
  value.resize(got);
  return value;
}

// Checks a secret file without keeping its value: the rules above, and not empty once trailing
// newlines are cut (only the bytes up to the first one that is not CR or LF are read).
void checkSecretFile(const SecretRef& ref, const std::string& path, bool checkMode) {
  Fd f = openSecret(ref, path);
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    fail(ref, fmt::format("cannot read secret from {}: {}", ref.describe(), std::strerror(errno)));
  }
  std::string hint;
  if (auto problem = checkStat(ref, path, st, checkMode, hint); !problem.empty()) {
    fail(ref, std::move(problem), std::move(hint));
  }
  char buf[256];
  for (size_t total = 0; total <= kMaxSecretBytes;) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fail(ref,
           fmt::format("cannot read secret from {}: {}", ref.describe(), std::strerror(errno)));
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] != '\n' && buf[i] != '\r') return;
    }
    total += static_cast<size_t>(n);
  }
  fail(ref, fmt::format("secret from {} is empty", ref.describe()),
       "write the secret into it, without anything else");
}

std::string credentialsDirectory(const SecretRef& ref) {
  const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
  if (dir == nullptr || *dir == '\0') {
    fail(ref,
         fmt::format("cannot read {}: $CREDENTIALS_DIRECTORY is not set; credentials are "
                     "provided by systemd's LoadCredential= to the service",
                     ref.describe()),
         fmt::format("outside the service: systemd-run -p LoadCredential={}:/path/to/secret --pipe "
                     "--wait bulkwarden ... (docs/operations.md), or use {{ file: /path }}",
                     ref.name));
  }
  std::string path = std::string(dir) + "/" + ref.name;
  if (::access(path.c_str(), F_OK) != 0) {
    fail(
        ref,
        fmt::format("cannot read {}: no such credential in $CREDENTIALS_DIRECTORY", ref.describe()),
        fmt::format("add LoadCredential={}:/path/to/secret to the unit", ref.name));
  }
  return path;
}

}  // namespace

std::string Diagnostic::str() const {
  std::string loc = where.str();
  std::string out = loc.empty() ? message : fmt::format("{}: {}", loc, message);
  if (!hint.empty()) out += fmt::format(" ({})", hint);
  return out;
}

ConfigError::ConfigError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(joinDiagnostics(diagnostics)), diagnostics_(std::move(diagnostics)) {}

std::string SecretRef::describe() const {
  switch (source) {
    case Source::File:
      return "file " + name;
    case Source::Credential:
      return "credential " + name;
    case Source::Env:
      return "env " + name;
  }
  return name;
}

std::string SecretRef::resolve() const {
  std::string value;
  switch (source) {
    case Source::File:
      value = readSecretFile(*this, name, true);
      break;
    case Source::Credential:
      value = readSecretFile(*this, credentialsDirectory(*this), false);
      break;
    case Source::Env: {
      const char* v = std::getenv(name.c_str());
      if (v == nullptr)
        fail(*this, fmt::format("cannot read {}: the variable is not set", describe()));
      value = v;
      break;
    }
  }
  value = trimNewline(std::move(value));
  if (value.empty()) fail(*this, fmt::format("secret from {} is empty", describe()));
  return value;
}

void SecretRef::check() const {
  switch (source) {
    case Source::File:
      checkSecretFile(*this, name, true);
      return;
    case Source::Credential:
      checkSecretFile(*this, credentialsDirectory(*this), false);
      return;
    case Source::Env: {
      const char* v = std::getenv(name.c_str());
      if (v == nullptr)
        fail(*this, fmt::format("cannot read {}: the variable is not set", describe()));
      if (trimNewline(v).empty()) fail(*this, fmt::format("secret from {} is empty", describe()));
      return;
    }
  }
}

std::vector<const SecretRef*> secretRefs(const Config& config) {
  std::vector<const SecretRef*> out;
  for (const auto& org : config.orgs) {
    for (const auto* ref : {&org.auth.accessToken, &org.auth.privateKey, &org.auth.clientSecret,
                            &org.auth.refreshToken}) {
      if (*ref) out.push_back(&**ref);
    }
  }
  for (const auto& n : config.notifications) {
    if (n.urlSecret) out.push_back(&*n.urlSecret);
    if (n.password) out.push_back(&*n.password);
  }
  if (config.cluster && config.cluster->password) out.push_back(&*config.cluster->password);
  return out;
}

}  // namespace bulkwarden::config
