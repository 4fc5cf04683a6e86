#include "audit/AuditLog.h"
#include "audit/Records.h"

#include "model/Failpoint.h"

#include <Poco/HMACEngine.h>
#include <Poco/InflatingStream.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/SHA2Engine.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <map>
#include <memory>
#include <streambuf>
#include <type_traits>

namespace bulkwarden::audit {
namespace {

constexpr std::string_view kHashKey = ",\"hash\":\"";
constexpr std::string_view kMacKey = ",\"mac\":\"";
constexpr size_t kHashSuffixLen = kHashKey.size() + 64 + 2;  // ,"hash":"<64>"}
constexpr size_t kMacSuffixLen = kMacKey.size() + 64 + 1;    // ,"mac":"<64>"   (before the })
constexpr size_t kMaxAnchorBytes = 4096;
constexpr std::string_view kRecordStart = "{\"seq\":";

std::string errnoText(int err) { return std::strerror(err); }

bool isHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Splits a complete line into the hashed body, the stored hash and the mac (empty when the record
// has none); false if the line does not end the way every record ends:
// `...,"hash":"<64 hex>"}` or `...,"hash":"<64 hex>","mac":"<64 hex>"}`.
bool splitRecord(std::string_view line, std::string_view& body, std::string_view& hash,
                 std::string_view& mac) {
  mac = {};
  if (line.empty() || line.back() != '}') return false;
  std::string_view rest = line.substr(0, line.size() - 1);
  if (rest.size() > kMacSuffixLen &&
      rest.substr(rest.size() - kMacSuffixLen, kMacKey.size()) == kMacKey) {
    if (rest.back() != '"') return false;
    mac = rest.substr(rest.size() - 65, 64);
    if (!isHex64(mac)) return false;
    rest = rest.substr(0, rest.size() - kMacSuffixLen);
  }
  if (rest.size() < kHashSuffixLen + 1) return false;
  size_t at = rest.size() - (kHashSuffixLen - 1);
  if (rest.substr(at, kHashKey.size()) != kHashKey || rest.back() != '"') return false;
  body = rest.substr(0, at);
  hash = rest.substr(at + kHashKey.size(), 64);
  return isHex64(hash);
}

// The seq at the start of a record line, or nullopt.
std::optional<uint64_t> leadingSeq(std::string_view line) {
  if (line.substr(0, kRecordStart.size()) != kRecordStart) return std::nullopt;
  uint64_t v = 0;
  auto* b = line.data() + kRecordStart.size();
  auto [p, ec] = std::from_chars(b, line.data() + line.size(), v);
  if (ec != std::errc() || p == b || p == line.data() + line.size() || *p != ',') {
    return std::nullopt;
  }
  return v;
}

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() {
    int f = fd;
    fd = -1;
    return f;
  }
};

AuditError refused(std::string what) { return AuditError(what, AuditError::Kind::Refused); }

// The kind of an error from open(2) or write(2) at start: a read-only or full file system may
// clear by itself; a permission problem needs a person.
AuditError::Kind kindOf(int err) {
  switch (err) {
    case EROFS:
    case ENOSPC:
    case EDQUOT:
    case EAGAIN:
    case EBUSY:
    case EINTR:
      return AuditError::Kind::Busy;
    case EACCES:
    case EPERM:
    case ELOOP:
    case ENOTDIR:
    case EISDIR:
      return AuditError::Kind::Refused;
    default:
      return AuditError::Kind::Io;
  }
}

// Creates every missing folder of `dir` with mode 0700, whatever the umask (an explicit chmod
// after mkdir: mkdir's mode is masked).
void ensureDir(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path p(dir);
  fs::path at;
  for (const auto& part : p) {
    at /= part;
    if (::mkdir(at.c_str(), 0700) == 0) {
      ::chmod(at.c_str(), 0700);
    } else if (errno != EEXIST) {
      int err = errno;
      throw AuditError(fmt::format("cannot create folder {}: {}", at.string(), errnoText(err)),
                       kindOf(err));
    }
  }
}

// Opens a folder (following links: /var/log/bulkwarden is one under DynamicUser=) and refuses it
// unless root or this user owns it and neither group nor others may write to it: whoever can
// write to the folder can replace the files in it.
int openCheckedDir(const std::string& dir, std::string_view what) {
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd < 0) {
    int err = errno;
    throw AuditError(fmt::format("cannot open the {} folder {}: {}", what, dir, errnoText(err)),
                     kindOf(err));
  }
  struct stat st {};
  if (::fstat(d.fd, &st) != 0) {
    throw AuditError(fmt::format("cannot stat {}: {}", dir, errnoText(errno)));
  }
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    throw refused(fmt::format(
        "the {} folder {} belongs to uid {}, not to this user (uid {}): another user could "
        "replace its files (chown {} {}, or choose a folder of this user's)",
        what, dir, st.st_uid, ::geteuid(), ::geteuid(), dir));
  }
  if ((st.st_mode & 022) != 0) {
    throw refused(fmt::format(
        "the {} folder {} is writable by {} (mode {:04o}): they could replace its files "
        "(chmod go-w {})",
        what, dir, (st.st_mode & 002) ? "others" : "its group", st.st_mode & 07777, dir));
  }
  return d.release();
}

// Opens `name` in the folder `dfd` without following a link, and refuses anything but a regular
// file of this user's that neither group nor others may write. A new (empty) file gets `mode`
// whatever the umask.
int openChecked(int dfd, const std::string& name, const std::string& shown, int flags, mode_t mode,
                std::string_view what) {
  Fd f(::openat(dfd, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode));
  if (f.fd < 0) {
    int err = errno;
    if (err == ELOOP) {
      throw refused(fmt::format(
          "the {} {} is a symbolic link: bulkwarden never writes through a link (remove the "
          "link, or point the config at the real file)",
          what, shown));
    }
    throw AuditError(fmt::format("cannot open the {} {}: {}", what, shown, errnoText(err)),
                     kindOf(err));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    throw AuditError(fmt::format("cannot stat {}: {}", shown, errnoText(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    throw refused(fmt::format("the {} {} is not a regular file", what, shown));
  }
  if (st.st_uid != ::geteuid()) {
    throw refused(fmt::format(
        "the {} {} belongs to uid {}, not to this user (uid {}): refusing to use it (chown {} {}, "
        "or move it aside)",
        what, shown, st.st_uid, ::geteuid(), ::geteuid(), shown));
  }
  if ((st.st_mode & 022) != 0) {
    throw refused(fmt::format("the {} {} is writable by {} (mode {:04o}): chmod go-w {}", what,
                              shown, (st.st_mode & 002) ? "others" : "its group",
                              st.st_mode & 07777, shown));
  }
  if (st.st_size == 0 && (flags & O_CREAT) != 0 && (st.st_mode & 07777) != mode) {
    ::fchmod(f.fd, mode);
  }
  // Back to blocking I/O (O_NONBLOCK only kept a FIFO planted at the path from hanging open).
  ::fcntl(f.fd, F_SETFL, ::fcntl(f.fd, F_GETFL) & ~O_NONBLOCK);
  return f.release();
}

void preadAll(int fd, char* buf, size_t n, off_t at, const std::string& path) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, buf + got, n - got, at + static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      throw AuditError(fmt::format("cannot read audit log {}: {}", path,
                                   r < 0 ? errnoText(errno) : "unexpected end of file"));
    }
    got += static_cast<size_t>(r);
  }
}

// Where the last complete line of an open audit file ends, and that line. Reads backwards in
// blocks, never more than two records' worth: linear and bounded whatever the file holds.
struct Tail {
  uint64_t keep = 0;     // bytes up to and including the last newline
  std::string lastLine;  // without its newline; empty when the file has no complete line
};

Tail scanTail(int fd, uint64_t size, uint64_t cap, const std::string& path) {
  Tail t;
  if (size == 0) return t;
  constexpr uint64_t kBlock = 64 << 10;
  uint64_t window = std::min<uint64_t>(size, 2 * cap + 2);
  uint64_t base = size - window;
  std::string buf(window, '\0');
  std::optional<uint64_t> lastNl, prevNl;  // absolute offsets
  uint64_t low = size;                     // everything from here on is read
  while (low > base && !prevNl) {
    uint64_t n = std::min(kBlock, low - base);
    uint64_t at = low - n;
    preadAll(fd, buf.data() + (at - base), n, static_cast<off_t>(at), path);
    for (uint64_t i = low; i-- > at;) {
      if (buf[i - base] != '\n') continue;
      if (!lastNl) {
        lastNl = i;
      } else {
        prevNl = i;
        break;
      }
    }
    low = at;
    if (!lastNl && size - low > cap) break;  // already too long for a torn record
  }
  auto hint = fmt::format(
      "inspect the end of the file (tail -c 4096 {} | od -c | less); if it is a damaged audit "
      "trail, move it aside and keep it as evidence: bulkwarden then starts a new trail",
      path);
  if (!lastNl) {
    if (size > cap) {
      throw refused(fmt::format(
          "audit log {}: its last {} bytes hold no line break, more than a record can be ({} "
          "bytes): that is not a torn record, and bulkwarden will not cut it; {}",
          path, size - low, cap, hint));
    }
    // No complete line at all: the first record was torn, or this is not an audit file.
    std::string head = buf.substr(0, std::min<size_t>(buf.size(), kRecordStart.size()));
    if (kRecordStart.substr(0, head.size()) != head) {
      throw refused(
          fmt::format("audit log {} is not an audit trail (it does not start with a record); "
                      "bulkwarden will not cut or append to it: {}",
                      path, hint));
    }
    return t;
  }
  uint64_t torn = size - *lastNl - 1;
  if (torn > cap) {
    throw refused(fmt::format(
        "audit log {} ends with {} bytes after its last line break, more than a record can be "
        "({} bytes): that is not a torn record, and bulkwarden will not cut it; {}",
        path, torn, cap, hint));
  }
  uint64_t begin = prevNl ? *prevNl + 1 : 0;
  if (!prevNl && base > 0) {
    throw refused(fmt::format(
        "audit log {}: its last line is longer than a record can be ({} bytes): not an audit "
        "record; {}",
        path, cap, hint));
  }
  t.keep = *lastNl + 1;
  t.lastLine = buf.substr(begin - base, *lastNl - begin);
  return t;
}

// The seq and hash of a valid record line (hash checked), or nullopt.
std::optional<std::pair<uint64_t, std::string>> recordOf(std::string_view line) {
  std::string_view body, hash, mac;
  if (!splitRecord(line, body, hash, mac) || sha256Hex(body) != hash) return std::nullopt;
  auto parsed = parseRecord(line);
  if (!parsed) return std::nullopt;
  return std::make_pair(parsed.record->seq, std::string(hash));
}

// A read-only streambuf over a descriptor (so that the file is opened once, O_NOFOLLOW).
class FdBuf : public std::streambuf {
 public:
  explicit FdBuf(int fd) : fd_(fd) {}

 protected:
  int_type underflow() override {
    for (;;) {
      ssize_t n = ::read(fd_, buf_, sizeof buf_);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return traits_type::eof();
      setg(buf_, buf_, buf_ + n);
      return traits_type::to_int_type(buf_[0]);
    }
  }

 private:
  int fd_;
  char buf_[64 << 10];
};

// Reads a trail file line by line (through gzip for .gz), each line capped at kMaxRecordBytes.
class LineReader {
 public:
  explicit LineReader(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) {
      errno_ = errno;
      error_ = errno == ELOOP ? "a symbolic link (not followed)" : errnoText(errno);
      return;
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      error_ = "not a regular file";
      return;
    }
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    buf_ = std::make_unique<FdBuf>(fd_);
    file_ = std::make_unique<std::istream>(buf_.get());
    in_ = file_.get();
    if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
      gz_ = std::make_unique<Poco::InflatingInputStream>(*file_,
                                                         Poco::InflatingStreamBuf::STREAM_GZIP);
      in_ = gz_.get();
    }
  }
  ~LineReader() {
    gz_.reset();
    file_.reset();
    buf_.reset();
    if (fd_ >= 0) ::close(fd_);
  }
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;
  const std::string& error() const { return error_; }
  int err() const { return errno_; }
  // false at the end. `complete`: the line ended with a newline; `tooLong`: cut at the cap.
  bool next(std::string& line, bool& complete, bool& tooLong) {
    line.clear();
    complete = tooLong = false;
    if (!in_) return false;
    try {
      char c;
      while (in_->get(c)) {
        if (c == '\n') {
          complete = true;
          return true;
        }
        if (line.size() >= kMaxRecordBytes) {
          tooLong = true;
          return true;
        }
        line.push_back(c);
      }
    } catch (const std::exception& e) {
      error_ = e.what();
      return false;
    }
    return !line.empty();
  }

 private:
  int fd_ = -1;
  int errno_ = 0;
  std::string error_;
  std::unique_ptr<FdBuf> buf_;
  std::unique_ptr<std::istream> file_;
  std::unique_ptr<Poco::InflatingInputStream> gz_;
  std::istream* in_ = nullptr;
};

// The seq of the first record of an open audit file (its first line is a complete record: the
// tail check vouched for the file's end).
uint64_t firstSeqOfFd(int fd) {
  std::string head(64, '\0');
  ssize_t n = ::pread(fd, head.data(), head.size(), 0);
  if (n <= 0) return 0;
  head.resize(static_cast<size_t>(n));
  return leadingSeq(head).value_or(0);
}

// The seq of the first record of a trail file, or nullopt (empty or unreadable).
std::optional<uint64_t> firstSeqOf(const std::string& path) {
  LineReader r(path);
  std::string line;
  bool complete = false, tooLong = false;
  if (!r.error().empty() || !r.next(line, complete, tooLong)) return std::nullopt;
  return leadingSeq(line);
}

// The first record of the oldest file and, when `want` is set, the hash of that seq.
struct Found {
  uint64_t firstSeq = 0;
  std::string firstHash;
  std::optional<std::string> wantHash;
};
Found scanTrail(const std::vector<std::string>& files, uint64_t want) {
  Found f;
  std::string line;
  bool complete = false, tooLong = false;
  for (const auto& path : files) {
    LineReader r(path);
    while (r.next(line, complete, tooLong)) {
      if (!complete) break;
      auto rec = recordOf(line);
      if (!rec) continue;
      if (f.firstSeq == 0) {
        f.firstSeq = rec->first;
        f.firstHash = rec->second;
        if (want == 0) return f;
      }
      if (rec->first == want) {
        f.wantHash = rec->second;
        return f;
      }
    }
  }
  return f;
}

std::string anchorText(const Anchor& a, const std::string& key) {
  std::string text = "{\"trail\":";
  appendJsonString(text, a.trail);
  text +=
      fmt::format(",\"first_seq\":{},\"first_hash\":\"{}\",\"last_seq\":{},\"last_hash\":\"{}\"",
                  a.firstSeq, a.firstHash, a.lastSeq, a.lastHash);
  if (!key.empty()) text += fmt::format("{}{}\"", kMacKey, hmacSha256Hex(key, text));
  text += "}\n";
  return text;
}

class Sha256Block : public Poco::SHA2Engine {
 public:
  enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
  Sha256Block() : Poco::SHA2Engine(Poco::SHA2Engine::SHA_256) {}
};

}  // namespace

std::string sha256Hex(std::string_view text) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(text.data(), static_cast<unsigned>(text.size()));
  return Poco::DigestEngine::digestToHex(engine.digest());
}

std::string hmacSha256Hex(std::string_view key, std::string_view text) {
  const std::string secret(key);
  Poco::HMACEngine<Sha256Block> engine(secret);
  engine.update(text.data(), static_cast<unsigned>(text.size()));
  return Poco::DigestEngine::digestToHex(engine.digest());
}

std::optional<Anchor> readAnchor(const std::string& path, const std::string& key) {
  namespace fs = std::filesystem;
  fs::path p(path);
  std::string dir = p.parent_path().empty() ? "." : p.parent_path().string();
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw AuditError(
        fmt::format("cannot open the folder of the anchor {}: {}", path, errnoText(errno)),
        kindOf(errno));
  }
  Fd f(::openat(d.fd, p.filename().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (f.fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    if (errno == ELOOP) {
      throw refused(
          fmt::format("the audit anchor {} is a symbolic link (remove it; see "
                      "`bulkwarden audit accept`)",
                      path));
    }
    throw AuditError(fmt::format("cannot open the audit anchor {}: {}", path, errnoText(errno)),
                     kindOf(errno));
  }
  struct stat st {};
  // (root may read another user's anchor: `sudo bulkwarden audit verify --config`.)
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      (st.st_uid != ::geteuid() && ::geteuid() != 0) || (st.st_mode & 022) != 0 ||
      st.st_size > static_cast<off_t>(kMaxAnchorBytes)) {
    throw refused(fmt::format(
        "the audit anchor {} is not a regular file of this user's, at most 4 KiB, that only "
        "this user may write: refusing it (see `bulkwarden audit accept`)",
        path));
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  preadAll(f.fd, text.data(), text.size(), 0, path);
  auto damaged = [&](std::string_view why) {
    return refused(fmt::format("the audit anchor {} is damaged ({}); see `bulkwarden audit accept`",
                               path, why));
  };
  if (text.empty() || text.back() != '\n') throw damaged("no complete line");
  text.pop_back();
  Anchor a;
  try {
    Poco::JSON::Parser parser;
    auto obj = parser.parse(text).extract<Poco::JSON::Object::Ptr>();
    a.trail = obj->getValue<std::string>("trail");
    a.firstSeq = obj->getValue<uint64_t>("first_seq");
    a.firstHash = obj->getValue<std::string>("first_hash");
    a.lastSeq = obj->getValue<uint64_t>("last_seq");
    a.lastHash = obj->getValue<std::string>("last_hash");
    if (!isHex64(a.firstHash) || !isHex64(a.lastHash) || a.firstSeq == 0 ||
        a.lastSeq < a.firstSeq) {
      throw damaged("bad seq or hash");
    }
  } catch (const Poco::Exception& e) {
    throw damaged(e.displayText());
  }
  std::string_view view(text);
  auto macAt = view.rfind(kMacKey);
  if (macAt != std::string_view::npos && view.size() == macAt + kMacSuffixLen + 1) {
    std::string_view mac = view.substr(macAt + kMacKey.size(), 64);
    if (!key.empty()) {
      if (hmacSha256Hex(key, view.substr(0, macAt)) != mac) {
        throw refused(fmt::format(
            "the audit anchor {} does not match audit-key: it was written with another key or "
            "forged",
            path));
      }
      a.authenticated = true;
    }
  }
  return a;
}

AuditLog::AuditLog(std::string path, ClockFn clock)
    : AuditLog(std::move(path), AuditOptions{}, std::move(clock)) {}

AuditLog::AuditLog(std::string path, AuditOptions options, ClockFn clock)
    : path_(std::move(path)), options_(std::move(options)), clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = [] {
      return std::chrono::time_point_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now());
    };
  }
  prevHash_ = std::string(kGenesisHash);
  try {
    namespace fs = std::filesystem;
    fs::path p(path_);
    name_ = p.filename().string();
    if (name_.empty() || name_ == "." || name_ == "..") {
      throw refused(fmt::format("audit log {} names no file", path_));
    }
    std::string dir = p.parent_path().empty() ? "." : p.parent_path().string();
    ensureDir(dir);
    dirFd_ = openCheckedDir(dir, "audit");
    // One writer per trail, whatever state-dir each config names.
    std::string lockName = name_ + ".lock";
    lockFd_ = openChecked(dirFd_, lockName, path_ + ".lock", O_RDWR | O_CREAT, 0600, "audit lock");
    if (::flock(lockFd_, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      char holder[32] = {};
      ssize_t n = ::pread(lockFd_, holder, sizeof holder - 1, 0);
      std::string pid;
      for (ssize_t i = 0; i < n && holder[i] >= '0' && holder[i] <= '9'; ++i) pid += holder[i];
      throw AuditError(
          err == EWOULDBLOCK
              ? fmt::format(
                    "audit trail {} is in use by another bulkwarden (pid {}, lock {}.lock): "
                    "one writer per trail; stop the other one, or give this config its "
                    "own audit-log",
                    path_, pid.empty() ? "?" : pid, path_)
              : fmt::format("cannot lock {}.lock: {}", path_, errnoText(err)),
          AuditError::Kind::Busy);
    }
    std::string pid = fmt::format("{}\n", ::getpid());
    if (::ftruncate(lockFd_, 0) == 0) (void)!::pwrite(lockFd_, pid.data(), pid.size(), 0);
    recoveredBytes_ = openFile();
    if (seq_ == 0 && fileBytes_ == 0) continueFromRotated();
    std::optional<Fields> anchorRecord;
    if (!options_.anchorPath.empty()) anchorRecord = checkAnchor();
    if (recoveredBytes_ > 0) {
      append(toString(RecordType::Recovery), "startup",
             Fields()
                 .add("reason", "torn last record cut off")
                 .add("bytes_dropped", static_cast<int64_t>(recoveredBytes_)),
             Sync::Durable);
    }
    if (anchorRecord) append(toString(RecordType::Anchor), "startup", *anchorRecord, Sync::Durable);
  } catch (...) {
    closeAll();
    throw;
  }
}

// A new, empty live file beside rotated ones (logrotate moved the file while bulkwarden was
// stopped): the chain goes on from the newest rotated file's last record instead of starting a
// second chain at seq 1.
void AuditLog::continueFromRotated() {
  auto files = trailFiles(path_);
  if (files.size() < 2) return;
  const std::string& newest = files[files.size() - 2];
  LineReader in(newest);
  std::string line, last;
  bool complete = false, tooLong = false;
  while (in.next(line, complete, tooLong)) {
    if (complete && !tooLong) last.swap(line);
  }
  auto rec = recordOf(last);
  if (!rec) {
    throw refused(fmt::format(
        "audit log {} is new, but the last record of the rotated file {} is not valid: run "
        "`bulkwarden audit verify {}`",
        path_, newest, path_));
  }
  seq_ = syncedSeq_ = rec->first;
  prevHash_ = rec->second;
  firstSeqInFile_ = seq_ + 1;
}

void AuditLog::closeAll() {
  for (int* fd : {&fd_, &dirFd_, &lockFd_, &anchorDirFd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

std::optional<Fields> AuditLog::checkAnchor() {
  namespace fs = std::filesystem;
  fs::path ap(options_.anchorPath);
  std::string dir = ap.parent_path().empty() ? "." : ap.parent_path().string();
  anchorName_ = ap.filename().string();
  ensureDir(dir);
  anchorDirFd_ = openCheckedDir(dir, "state");
  std::optional<Anchor> anchor;
  std::string unusable;
  try {
    anchor = readAnchor(options_.anchorPath, options_.key);
  } catch (const AuditError& e) {
    if (!options_.acceptAnchor) {
      throw refused(
          fmt::format("{}; to replace it with an anchor of the trail as it is, on "
                      "purpose: `bulkwarden audit accept --config FILE`",
                      e.what()));
    }
    unusable = e.what();
  }
  auto files = trailFiles(path_);
  if (anchor && anchor->trail == path_) {
    headSeq_ = anchor->firstSeq;
    headHash_ = anchor->firstHash;
    std::string problem;
    if (anchor->lastSeq > seq_) {
      problem = seq_ == 0
                    ? fmt::format(
                          "the trail is empty, but its anchor {} says it reached seq "
                          "{}: its records were removed",
                          options_.anchorPath, anchor->lastSeq)
                    : fmt::format(
                          "the trail ends at seq {}, but its anchor {} says it "
                          "reached seq {}: records {}..{} were cut from its end",
                          seq_, options_.anchorPath, anchor->lastSeq, seq_ + 1, anchor->lastSeq);
    } else {
      std::optional<std::string> hash = anchor->lastSeq == seq_
                                            ? std::optional(prevHash_)
                                            : scanTrail(files, anchor->lastSeq).wantHash;
      if (!hash) {
        problem = fmt::format("seq {}, the last record its anchor {} names, is not in the trail",
                              anchor->lastSeq, options_.anchorPath);
      } else if (*hash != anchor->lastHash) {
        problem = fmt::format(
            "seq {} is not the record its anchor {} names (another hash): the "
            "trail was rewritten",
            anchor->lastSeq, options_.anchorPath);
      }
    }
    if (problem.empty()) {
      anchoredSeq_ = anchor->lastSeq;
      if (!options_.key.empty() && !anchor->authenticated) {
        anchorNote_ = "the anchor now carries a mac (audit-key is set)";
        return Fields().add("reason", anchorNote_);
      }
      return std::nullopt;
    }
    if (!options_.acceptAnchor) {
      throw refused(fmt::format(
          "audit trail {} is behind its anchor: {}. Check it with `bulkwarden audit verify "
          "--config FILE`; to go on with the trail as it is, on purpose, run `bulkwarden audit "
          "accept --config FILE` (recorded in the trail)",
          path_, problem));
    }
    auto head = scanTrail(files, 0);
    headSeq_ = head.firstSeq;
    headHash_ = head.firstHash;
    anchorNote_ = "accepted: " + problem;
    return Fields()
        .add("reason", "accepted by the operator (audit accept): " + problem)
        .add("anchor_last_seq", static_cast<int64_t>(anchor->lastSeq))
        .add("anchor_last_hash", anchor->lastHash)
        .add("anchor_first_seq", static_cast<int64_t>(anchor->firstSeq))
        .add("trail_last_seq", static_cast<int64_t>(seq_));
  }
  // No anchor for this trail yet: it starts from the trail as found.
  auto head = scanTrail(files, 0);
  headSeq_ = head.firstSeq;
  headHash_ = head.firstHash;
  if (!anchor && unusable.empty() && seq_ == 0) {
    anchorNote_.clear();  // a new trail: anchored at its first sync, nothing to record
    return std::nullopt;
  }
  Fields f;
  if (!unusable.empty()) {
    anchorNote_ = "replaced an unusable anchor: " + unusable;
    f.add("reason", "accepted by the operator (audit accept): " + anchorNote_);
  } else if (anchor) {
    anchorNote_ = fmt::format("created (the previous anchor named trail {})", anchor->trail);
    f.add("reason", "new anchor: the previous one named another trail")
        .add("previous_trail", anchor->trail)
        .add("previous_last_seq", static_cast<int64_t>(anchor->lastSeq));
  } else {
    anchorNote_ = seq_ == 0 ? "created"
                            : fmt::format(
                                  "created for the trail as it is (seq {}..{}): there was "
                                  "no anchor",
                                  headSeq_, seq_);
    f.add("reason", "new anchor: none was found");
  }
  f.add("trail_first_seq", static_cast<int64_t>(headSeq_))
      .add("trail_last_seq", static_cast<int64_t>(seq_));
  if (options_.acceptAnchor) f.add("accepted", true);
  return f;
}

// Writes the anchor atomically: a new file (never through a link), fsync, rename over the old
// one, fsync the folder. Called only by the thread that holds the sync (one at a time).
void AuditLog::writeAnchor(uint64_t seq, const std::string& hash, uint64_t headSeq,
                           const std::string& headHash) {
  Anchor a;
  a.trail = path_;
  a.firstSeq = headSeq;
  a.firstHash = headHash;
  a.lastSeq = seq;
  a.lastHash = hash;
  std::string text = anchorText(a, options_.key);
  std::string tmp = anchorName_ + ".tmp";
  // Two logs of one process may share a state-dir for a moment (a reload that moves audit-log):
  // one temporary file at a time.
  static std::mutex tmpMutex;
  std::lock_guard tmpLock(tmpMutex);
  ::unlinkat(anchorDirFd_, tmp.c_str(), 0);  // a stale one, or a planted link (removes the link)
  Fd f(::openat(anchorDirFd_, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                0600));
  auto err = [&](std::string_view what) {
    return AuditError(fmt::format("cannot update the audit anchor {}: {}: {}", options_.anchorPath,
                                  what, errnoText(errno)));
  };
  if (f.fd < 0) throw err("create");
  ::fchmod(f.fd, 0600);
  if (::write(f.fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    throw err("write");
  }
  if (::fsync(f.fd) != 0) throw err("fsync");
  if (::renameat(anchorDirFd_, tmp.c_str(), anchorDirFd_, anchorName_.c_str()) != 0) {
    throw err("rename");
  }
  if (::fsync(anchorDirFd_) != 0) throw err("fsync of its folder");
  lastAnchor_ = std::chrono::steady_clock::now();
}

uint64_t AuditLog::openFile() {
  Fd fd(openChecked(dirFd_, name_, path_, O_RDWR | O_APPEND | O_CREAT, 0640, "audit log"));
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) {
    throw AuditError(fmt::format("cannot stat audit log {}: {}", path_, errnoText(errno)));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  // The chain needs only the last record: read backwards, at most two records' worth.
  Tail tail = scanTail(fd.fd, size, kMaxRecordBytes, path_);
  uint64_t lastSeq = 0;
  std::string lastHash;
  if (!tail.lastLine.empty() || tail.keep > 0) {
    // Never cut (or append to) a file whose last complete line is not an audit record.
    auto rec = recordOf(tail.lastLine);
    if (!rec) {
      throw refused(fmt::format(
          "the last complete line of audit log {} is not a valid audit record; bulkwarden will "
          "not cut or append to it: run `bulkwarden audit verify {}`, and move the file aside to "
          "start a new trail",
          path_, path_));
    }
    lastSeq = rec->first;
    lastHash = rec->second;
    if (seq_ > 0 && (lastSeq != seq_ || lastHash != prevHash_)) {
      // Reopened (recovery, SIGUSR1): the file must continue where this process left off.
      throw refused(fmt::format(
          "audit log {} now ends at seq {}, but this process wrote up to seq {}: it was cut or "
          "replaced behind bulkwarden's back",
          path_, lastSeq, seq_));
    }
  }
  uint64_t dropped = 0;
  if (tail.keep < size) {
    // A torn record: the process died (or the disk filled) mid-write. Cut it off.
    if (::ftruncate(fd.fd, static_cast<off_t>(tail.keep)) != 0) {
      int e = errno;
      throw AuditError(
          fmt::format("cannot cut the torn tail of {}: {}", path_, errnoText(e)),
          kindOf(e) == AuditError::Kind::Busy ? AuditError::Kind::Busy : AuditError::Kind::Io);
    }
    dropped = size - tail.keep;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd.release();
  fileBytes_ = tail.keep;
  if (!lastHash.empty()) {
    // The file's own last record is the truth: a record whose write failed never counted.
    seq_ = syncedSeq_ = lastSeq;
    prevHash_ = lastHash;
    firstSeqInFile_ = firstSeqOfFd(fd_);  // names the file when it is rotated
    if (firstSeqInFile_ == 0) firstSeqInFile_ = lastSeq;
  } else {
    // A new or empty file: the chain goes on from memory (after rotation or logrotate).
    syncedSeq_ = seq_;
    firstSeqInFile_ = seq_ + 1;
  }
  return dropped;
}

AuditLog::~AuditLog() {
  if (fd_ >= 0 && !failed_ && !syncing_) {
    if (::fdatasync(fd_) == 0 && anchorDirFd_ >= 0 && seq_ > anchoredSeq_ && headSeq_ > 0) {
      try {
        writeAnchor(seq_, prevHash_, headSeq_, headHash_);
      } catch (const AuditError&) {
        // Nothing to tell at exit: the anchor lags, which it may (the trail is ahead of it).
      }
    }
  }
  closeAll();
}

uint64_t AuditLog::lastSeq() const {
  std::lock_guard lock(mutex_);
  return seq_;
}

std::string AuditLog::failure() const {
  std::lock_guard lock(mutex_);
  return failed_ ? failure_ : std::string();
}

void AuditLog::fail(std::string why) {
  failed_ = true;
  failure_ = std::move(why);
  nextRetry_ = std::chrono::steady_clock::now() + options_.retryInterval;
}

// Called with the lock held while failed_: at most once per retryInterval, reopen on a new
// descriptor (never fsync again on the one that failed), cut the torn tail, and say so.
void AuditLog::tryRecover(std::unique_lock<std::mutex>& lock) {
  if (std::chrono::steady_clock::now() < nextRetry_) return;
  synced_.wait(lock, [this] { return !syncing_; });
  std::string previous = failure_;
  try {
    uint64_t dropped = openFile();
    failed_ = false;
    std::string hash;
    uint64_t seq = seq_ + 1;
    Fields f;
    f.add("reason", "audit trail writable again after: " + previous)
        .add("bytes_dropped", static_cast<int64_t>(dropped));
    std::string line = format(seq, toString(RecordType::Recovery), "startup", f, hash);
    writeLine(line);
    seq_ = seq;
    prevHash_ = std::move(hash);
    if (::fdatasync(fd_) != 0) {
      fail(fmt::format("audit log {} fdatasync failed: {}", path_, errnoText(errno)));
      return;
    }
    syncedSeq_ = seq_;
  } catch (const AuditError& e) {
    fail(e.what());
  }
}

std::string AuditLog::format(uint64_t seq, std::string_view type, std::string_view run,
                             const Fields& fields, std::string& hash) const {
  std::string line;
  line.reserve(256 + fields.body().size());
  line += fmt::format("{{\"seq\":{},\"ts\":\"{}\",\"run\":", seq, model::formatRfc3339(clock_()));
  appendJsonString(line, run);
  line += ",\"type\":";
  appendJsonString(line, type);
  if (!fields.empty()) {
    line.push_back(',');
    line += fields.body();
  }
  line += ",\"prev\":\"";
  line += prevHash_;
  line += "\"";
  hash = sha256Hex(line);
  line += kHashKey;
  line += hash;
  line += "\"";
  if (!options_.key.empty()) {
    // The mac covers the hash, which covers prev: it authenticates this record and all before.
    line += kMacKey;
    line += hmacSha256Hex(options_.key, hash);
    line += "\"";
  }
  line += "}\n";
  if (line.size() > kMaxRecordBytes) {
    // Records are bounded, so that a torn tail is too (not a failure of the log).
    throw AuditError(fmt::format("a {} record of {} bytes is over the {} byte limit of a record",
                                 type, line.size(), kMaxRecordBytes));
  }
  return line;
}

// One write(2) of the whole line: with O_APPEND it lands in one piece unless the disk is full.
// Throws (after failing the log closed) when it does not.
void AuditLog::writeLine(const std::string& line) {
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      fail(fmt::format("audit log {} write failed after {} of {} bytes: {}", path_, off,
                       line.size(), errnoText(err)));
      throw AuditError(failure_);
    }
    off += static_cast<size_t>(n);
  }
  fileBytes_ += line.size();
}

void AuditLog::rotate(std::unique_lock<std::mutex>& lock) {
  synced_.wait(lock, [this] { return !syncing_; });  // no fdatasync may be using the old fd
  // Everything in the old file must be durable before it is renamed away.
  if (::fdatasync(fd_) != 0) {
    fail(fmt::format("audit log {} fdatasync failed: {}", path_, errnoText(errno)));
    throw AuditError(failure_);
  }
  syncedSeq_ = seq_;
  std::string rotatedName = fmt::format("{}.{:012d}", name_, firstSeqInFile_);
  std::string rotated = fmt::format("{}.{:012d}", path_, firstSeqInFile_);
  // Relative to the folder opened at start: a folder swapped since cannot redirect the rename.
  if (::renameat(dirFd_, name_.c_str(), dirFd_, rotatedName.c_str()) != 0) {
    fail(fmt::format("cannot rotate audit log {} to {}: {}", path_, rotated, errnoText(errno)));
    throw AuditError(failure_);
  }
  model::failpoint("during_rotate");
  openFile();  // a new, empty file: the chain goes on from memory
  // Make both names durable: the rename and the new file's directory entry.
  ::fsync(dirFd_);
}

void AuditLog::reopen() {
  std::unique_lock lock(mutex_);
  synced_.wait(lock, [this] { return !syncing_; });
  if (fd_ >= 0) ::fdatasync(fd_);
  try {
    openFile();
    failed_ = false;
  } catch (const AuditError& e) {
    fail(e.what());
    throw;
  }
}

template <class F>
auto AuditLog::observed(WriteKind kind, F write) -> decltype(write()) {
  WriteObserver* observer = observer_.load();
  if (!observer) return write();
  const auto start = std::chrono::steady_clock::now();
  try {
    if constexpr (std::is_void_v<decltype(write())>) {
      write();
      observer->onAuditWrite(kind, std::chrono::steady_clock::now() - start, true, "");
    } else {
      auto out = write();
      observer->onAuditWrite(kind, std::chrono::steady_clock::now() - start, true, "");
      return out;
    }
  } catch (const AuditError& e) {
    observer->onAuditWrite(kind, std::chrono::steady_clock::now() - start, false, e.what());
    throw;
  }
}

uint64_t AuditLog::append(std::string_view type, std::string_view run, const Fields& fields,
                          Sync sync) {
  return observed(sync == Sync::Durable ? WriteKind::Durable : WriteKind::Buffered,
                  [&] { return appendRecord(type, run, fields, sync); });
}

void AuditLog::sync() {
  observed(WriteKind::Sync, [this] { syncAll(); });
}

void AuditLog::syncThrough(uint64_t seq) {
  observed(WriteKind::Sync, [this, seq] { syncRecordsThrough(seq); });
}

uint64_t AuditLog::appendRecord(std::string_view type, std::string_view run, const Fields& fields,
                                Sync sync) {
  const std::optional<RecordType> kind = parseRecordType(type);
  const bool intent = kind == RecordType::Intent;
  std::unique_lock lock(mutex_);
  if (failed_) tryRecover(lock);
  if (failed_) throw AuditError(failure_);
  if (options_.reserveBytes > 0 && intent) {
    // Below the reserve no new action starts; results of actions in flight still get written.
    struct statvfs vfs {};
    if (::fstatvfs(fd_, &vfs) == 0) {
      uint64_t freeBytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
      if (freeBytes < options_.reserveBytes) {
        throw AuditError(fmt::format(
            "only {} bytes free on the file system of {}, below the reserve of {}: no new action",
            freeBytes, path_, options_.reserveBytes));
      }
    }
  }
  uint64_t seq = seq_ + 1;
  std::string hash;
  std::string line = format(seq, type, run, fields, hash);
  if (options_.rotateBytes > 0 && fileBytes_ > 0 &&
      fileBytes_ + line.size() > options_.rotateBytes) {
    rotate(lock);
  }
  if (intent && model::failpointHit("mid_record")) {
    // A torn record, as a crash in the middle of write(2) would leave it.
    (void)::write(fd_, line.data(), line.size() / 2);
    model::crashNow();
  }
  writeLine(line);
  seq_ = seq;
  prevHash_ = std::move(hash);
  if (headSeq_ == 0) {
    headSeq_ = seq;  // a new trail: its first record is its head
    headHash_ = prevHash_;
  }
  if (intent) model::failpoint("after_intent_write");
  // Intents are the hot path: they move the anchor at most once per anchorInterval; any other
  // durable record (config, run-end, recovery, anchor) moves it at once.
  if (sync == Sync::Durable) syncUpTo(lock, seq, !intent);
  if (kind == RecordType::Result) model::failpoint("after_result_write");
  return seq;
}

void AuditLog::syncAll() {
  std::unique_lock lock(mutex_);
  if (failed_) throw AuditError(failure_);
  syncUpTo(lock, seq_, true);
}

void AuditLog::syncRecordsThrough(uint64_t seq) {
  std::unique_lock lock(mutex_);
  if (failed_) throw AuditError(failure_);
  syncUpTo(lock, std::min(seq, seq_));
}

// Group commit: one caller syncs for everyone whose record was written before the sync began;
// the others wait for a sync that covers their record.
void AuditLog::syncUpTo(std::unique_lock<std::mutex>& lock, uint64_t seq, bool checkpoint) {
  while (syncedSeq_ < seq) {
    if (failed_) throw AuditError(failure_);
    if (syncing_) {
      synced_.wait(lock);
      continue;
    }
    syncing_ = true;
    uint64_t target = seq_;
    std::string targetHash = prevHash_;
    uint64_t headSeq = headSeq_;
    std::string headHash = headHash_;
    int fd = fd_;
    lock.unlock();
    int rc = ::fdatasync(fd);
    int err = errno;
    // The anchor names only records already durable: after a crash the trail may be ahead of
    // it, never behind. Only the syncing thread writes it, so writes cannot reorder.
    std::string anchorError;
    if (rc == 0 && anchorDirFd_ >= 0 && target > anchoredSeq_ && headSeq > 0 &&
        (checkpoint || std::chrono::steady_clock::now() - lastAnchor_ >= options_.anchorInterval)) {
      try {
        writeAnchor(target, targetHash, headSeq, headHash);
        anchoredSeq_ = target;
      } catch (const AuditError& e) {
        anchorError = e.what();
      }
    }
    lock.lock();
    syncing_ = false;
    if (rc == 0 && !anchorError.empty()) {
      // Fail closed: a trail whose anchor cannot follow it could be cut unseen. The retry
      // (tryRecover) reopens and the next sync tries the anchor again.
      fail(anchorError);
      synced_.notify_all();
      throw AuditError(failure_);
    }
    if (rc != 0) {
      // After a failed fsync the kernel may have dropped the dirty pages: never trust this fd
      // again (recovery reopens on a new one).
      fail(fmt::format("audit log {} fdatasync failed: {}", path_, errnoText(err)));
      synced_.notify_all();
      throw AuditError(failure_);
    }
    syncedSeq_ = std::max(syncedSeq_, target);
    synced_.notify_all();
  }
}

std::string readTrailLines(const std::vector<std::string>& paths,
                           const std::function<void(const std::string&, std::string_view)>& fn,
                           uint64_t* tooLong) {
  for (const auto& path : paths) {
    LineReader in(path);
    if (!in.error().empty()) return fmt::format("cannot read {}: {}", path, in.error());
    std::string line;
    bool complete = false, cut = false, skipping = false;
    while (in.next(line, complete, cut)) {
      if (skipping || cut) {
        // The rest of an over-long line comes in pieces of at most the cap: drop them all.
        if (cut && !skipping && tooLong) ++*tooLong;
        skipping = cut || !complete;
        continue;
      }
      fn(path, line);
    }
    if (!in.error().empty()) return fmt::format("cannot read {}: {}", path, in.error());
  }
  return {};
}

VerifyReport verifyFile(const std::string& path) { return verifyFiles({path}); }

std::vector<std::string> trailFiles(const std::string& path, std::vector<std::string>* unchecked) {
  namespace fs = std::filesystem;
  fs::path p(path);
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  const std::string base = p.filename().string();
  auto digits = [](std::string_view s) {
    return !s.empty() && s.size() <= 20 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  std::vector<std::pair<uint64_t, std::string>> rotated;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() <= base.size() + 1 || name.compare(0, base.size(), base) != 0) continue;
    char sep = name[base.size()];
    if (sep != '.' && sep != '-') continue;  // `.N`, `.<12 digits>`, `-YYYYMMDD` (dateext)
    std::string_view rest(name);
    rest.remove_prefix(base.size() + 1);
    std::string_view number = rest;
    auto dot = rest.find('.');
    std::string_view compression;
    if (dot != std::string_view::npos) {
      number = rest.substr(0, dot);
      compression = rest.substr(dot + 1);
    }
    if (!digits(number)) continue;
    std::string full = entry.path().string();
    if (!compression.empty() && compression != "gz") {
      // xz, bz2, zst...: cannot be read here; say so rather than skip in silence.
      if (compression == "xz" || compression == "bz2" || compression == "zst" ||
          compression == "lz4" || compression == "Z") {
        if (unchecked) unchecked->push_back(full);
      }
      continue;
    }
    // Ordered by the records they hold: names differ between bulkwarden and logrotate (and
    // logrotate's numbers run backwards), seqs do not.
    // A file that is not empty but does not start with a record (or is a link) is kept first,
    // so that verify names it instead of leaving it out.
    std::error_code sizeEc;
    if (auto seq = firstSeqOf(full)) {
      rotated.emplace_back(*seq, full);
    } else if (!entry.is_regular_file(sizeEc) || entry.file_size(sizeEc) > 0) {
      rotated.emplace_back(0, full);
    }
  }
  std::sort(rotated.begin(), rotated.end());
  std::vector<std::string> out;
  for (auto& r : rotated) out.push_back(std::move(r.second));
  if (unchecked) std::sort(unchecked->begin(), unchecked->end());
  out.push_back(path);
  return out;
}

VerifyReport verifyFiles(const std::vector<std::string>& paths, const VerifyOptions& options) {
  VerifyReport report;
  auto fail = [&](int64_t lineNo, std::optional<uint64_t> seq, std::string problem) {
    report.ok = false;
    report.firstBadLine = lineNo;
    report.firstBadSeq = seq;
    report.problem = std::move(problem);
  };
  const Anchor* anchor = options.anchor;
  std::string prev;
  uint64_t expectSeq = 0;
  bool macSeen = false, lastHadMac = false;
  std::optional<std::string> anchorLastHash;
  std::string previousFile;
  std::map<uint64_t, bool> open;  // intent seq -> still waiting for its result
  RecordParser parser;
  for (const auto& path : paths) {
    LineReader in(path);
    if (!in.error().empty()) {
      report.ok = false;
      report.unreadable = true;
      report.problem = fmt::format("cannot read {}: {}", path, in.error());
      return report;
    }
    std::string where = paths.size() > 1 ? path + " " : "";
    std::string line;
    int64_t lineNo = 0;
    bool complete = false, tooLong = false;
    while (in.next(line, complete, tooLong)) {
      ++lineNo;
      std::optional<uint64_t> expected = expectSeq ? std::optional(expectSeq) : std::nullopt;
      if (tooLong) {
        fail(lineNo, expected,
             fmt::format("{}line {} is longer than a record can be ({} bytes)", where, lineNo,
                         kMaxRecordBytes));
        return report;
      }
      if (!complete) {
        fail(lineNo, expected, where + "the last line has no newline (a torn record)");
        return report;
      }
      ParsedLine parsed = parser.parse(line);
      if (!parsed) {
        fail(lineNo, expected,
             parsed.failure == ParseFailure::MissingHeader
                 ? fmt::format("{}line {} lacks seq, ts, run, type or prev", where, lineNo)
                 : fmt::format("{}line {} is not a JSON object: {}", where, lineNo, parsed.error));
        return report;
      }
      const Record& record = *parsed.record;
      const uint64_t seq = record.seq;
      const std::string& prevField = record.prev;
      if (expectSeq != 0 && seq != expectSeq) {
        if (lineNo == 1 && seq > expectSeq) {
          fail(lineNo, expectSeq,
               fmt::format("{} starts at seq {}, but {} ends at seq {}: records {}..{} are "
                           "missing (a rotated file deleted or moved away?)",
                           path, seq, previousFile, expectSeq - 1, expectSeq, seq - 1));
        } else {
          fail(lineNo, expectSeq,
               fmt::format("{}line {}: seq {} where {} was expected (a record is missing or "
                           "moved)",
                           where, lineNo, seq, expectSeq));
        }
        return report;
      }
      if (report.records == 0) {
        report.firstSeq = seq;
        if (seq == 1 && prevField != kGenesisHash) {
          fail(lineNo, seq, "the first record (seq 1) does not start the chain");
          return report;
        }
      } else if (prevField != prev) {
        fail(lineNo, seq,
             fmt::format("seq {}: prev does not match the hash of seq {}", seq, seq - 1));
        return report;
      }
      std::string_view body, hash, mac;
      if (!splitRecord(line, body, hash, mac)) {
        fail(lineNo, seq, fmt::format("seq {}: no hash at the end of the record", seq));
        return report;
      }
      if (sha256Hex(body) != hash) {
        fail(lineNo, seq, fmt::format("seq {}: hash mismatch (the record was altered)", seq));
        return report;
      }
      if (!options.key.empty()) {
        if (!mac.empty()) {
          if (hmacSha256Hex(options.key, hash) != mac) {
            fail(lineNo, seq,
                 fmt::format("seq {}: its mac does not match audit-key: the record was rewritten "
                             "by someone without the key (or written with another key)",
                             seq));
            return report;
          }
          macSeen = true;
          ++report.macs;
        } else if (macSeen) {
          fail(lineNo, seq,
               fmt::format("seq {} carries no mac, though records before it do: the trail was "
                           "rewritten from here by someone without audit-key",
                           seq));
          return report;
        }
        lastHadMac = !mac.empty();
      }
      if (report.records == 0) report.firstHash = std::string(hash);
      if (anchor && seq == anchor->lastSeq) anchorLastHash = std::string(hash);
      if (record.is(RecordType::Intent)) open[seq] = true;
      if (record.is(RecordType::Result)) {
        auto intentSeq = record.intent();
        if (!intentSeq) {
          fail(lineNo, seq, fmt::format("seq {}: a result without the seq of its intent", seq));
          return report;
        }
        const uint64_t intent = *intentSeq;
        if (open.erase(intent) == 0 && intent >= report.firstSeq) {
          fail(lineNo, seq,
               fmt::format("seq {}: result for intent {}, which is not open", seq, intent));
          return report;
        }
      }
      prev = std::string(hash);
      report.lastSeq = seq;
      report.lastHash = prev;
      expectSeq = seq + 1;
      ++report.records;
    }
    if (!in.error().empty()) {
      fail(lineNo, expectSeq ? std::optional(expectSeq) : std::nullopt,
           fmt::format("cannot read {}: {}", path, in.error()));
      return report;
    }
    previousFile = path;
  }
  if (!options.key.empty() && report.records > 0 && !lastHadMac) {
    fail(0, report.lastSeq,
         fmt::format("the last record (seq {}) carries no mac: with audit-key set every record "
                     "bulkwarden writes has one; the trail was written without the key or "
                     "rewritten",
                     report.lastSeq));
    return report;
  }
  if (anchor) {
    if (report.records == 0) {
      fail(0, std::nullopt,
           fmt::format("the trail is empty, but its anchor says it held seq {}..{}: cut",
                       anchor->firstSeq, anchor->lastSeq));
      return report;
    }
    if (report.firstSeq > anchor->firstSeq) {
      fail(1, report.firstSeq,
           fmt::format("cut head: the trail starts at seq {}, but its anchor says it starts at seq "
                       "{}: records {}..{} are missing",
                       report.firstSeq, anchor->firstSeq, anchor->firstSeq, report.firstSeq - 1));
      return report;
    }
    if (report.firstSeq == anchor->firstSeq && report.firstHash != anchor->firstHash) {
      fail(1, report.firstSeq,
           fmt::format("seq {}, the trail's first record, is not the one its anchor names "
                       "(another hash): the trail was rewritten",
                       report.firstSeq));
      return report;
    }
    if (report.lastSeq < anchor->lastSeq) {
      fail(0, report.lastSeq + 1,
           fmt::format("cut tail: the trail ends at seq {}, but its anchor says it reached seq {}: "
                       "records {}..{} were removed from its end",
                       report.lastSeq, anchor->lastSeq, report.lastSeq + 1, anchor->lastSeq));
      return report;
    }
    if (!anchorLastHash || *anchorLastHash != anchor->lastHash) {
      fail(0, anchor->lastSeq,
           fmt::format("seq {} is not the record its anchor names (another hash): the trail was "
                       "rewritten up to there",
                       anchor->lastSeq));
      return report;
    }
  }
  for (auto& [seq, _] : open) report.openIntents.push_back(seq);
  return report;
}

}  // namespace bulkwarden::audit
