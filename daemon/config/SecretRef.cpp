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

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads a secret file. `checkMode`: refuse a file that group or others may read, as ssh does
// with private keys (systemd credentials are private to the service already).
std::string readSecretFile(const SecretRef& ref, const std::string& path, bool checkMode) {
  Fd f{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)};
  if (f.fd < 0) {
    int err = errno;
    fail(ref, fmt::format("cannot read secret from {}: {}", ref.describe(), std::strerror(err)));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    fail(ref, fmt::format("secret from {} is not a regular file", ref.describe()));
  }
  if (checkMode && (st.st_mode & 077) != 0) {
    fail(ref, fmt::format("permissions {:04o} for '{}' are too open", st.st_mode & 07777, path),
         fmt::format("chmod 600 {}", path));
  }
  if (static_cast<size_t>(st.st_size) > kMaxSecretBytes) {
    fail(ref, fmt::format("secret from {} is larger than 64 KiB", ref.describe()));
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
    case Source::Credential: {
      const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
      if (dir == nullptr || *dir == '\0') {
        fail(*this, fmt::format("cannot read {}: $CREDENTIALS_DIRECTORY is not set", describe()),
             fmt::format("run under systemd with LoadCredential={}:/path/to/secret, or use "
                         "{{ file: /path }}",
                         name));
      }
      std::string path = std::string(dir) + "/" + name;
      if (::access(path.c_str(), F_OK) != 0) {
        fail(
            *this,
            fmt::format("cannot read {}: no such credential in $CREDENTIALS_DIRECTORY", describe()),
            fmt::format("add LoadCredential={}:/path/to/secret to the unit", name));
      }
      value = readSecretFile(*this, path, false);
      break;
    }
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

}  // namespace bulkwarden::config
