#include "audit/AuditLog.h"

#include "model/Failpoint.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/SHA2Engine.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

namespace bulkwarden::audit {
namespace {

constexpr std::string_view kHashKey = ",\"hash\":\"";
constexpr size_t kHashSuffixLen = kHashKey.size() + 64 + 2;  // ,"hash":"<64>"}

std::string errnoText(int err) { return std::strerror(err); }

// Splits a complete line into the hashed body and the stored hash; false if the line does not
// end the way every record ends.
bool splitHash(std::string_view line, std::string_view& body, std::string_view& hash) {
  if (line.size() < kHashSuffixLen + 2 || line.back() != '}') return false;
  size_t at = line.size() - kHashSuffixLen;
  if (line.substr(at, kHashKey.size()) != kHashKey) return false;
  if (line[line.size() - 2] != '"') return false;
  body = line.substr(0, at);
  hash = line.substr(at + kHashKey.size(), 64);
  for (char c : hash) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The seq of the first record of an open audit file (its first line is a complete record: the
// tail check above already vouched for the file's end).
uint64_t firstSeq(int fd) {
  std::string head(4096, '\0');
  ssize_t n = ::pread(fd, head.data(), head.size(), 0);
  if (n <= 0) return 0;
  head.resize(static_cast<size_t>(n));
  auto pos = head.find("{\"seq\":");
  if (pos != 0) return 0;
  return std::strtoull(head.c_str() + 7, nullptr, 10);
}

}  // namespace

std::string sha256Hex(std::string_view text) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(text.data(), static_cast<unsigned>(text.size()));
  return Poco::DigestEngine::digestToHex(engine.digest());
}

AuditLog::AuditLog(std::string path, ClockFn clock)
    : AuditLog(std::move(path), AuditOptions{}, std::move(clock)) {}

AuditLog::AuditLog(std::string path, AuditOptions options, ClockFn clock)
    : path_(std::move(path)), options_(options), clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = [] {
      return std::chrono::time_point_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now());
    };
  }
  prevHash_ = std::string(kGenesisHash);
  std::error_code ec;
  auto parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  recoveredBytes_ = openFile();
  if (recoveredBytes_ > 0) {
    append("recovery", "startup",
           Fields()
               .add("reason", "torn last record cut off")
               .add("bytes_dropped", static_cast<int64_t>(recoveredBytes_)),
           Sync::Durable);
  }
}

uint64_t AuditLog::openFile() {
  int fd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    throw AuditError(fmt::format("cannot open audit log {}: {}", path_, errnoText(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw AuditError(fmt::format("audit log {} is not a regular file", path_));
  }
  // Find the last complete line from the tail: the file can be large, the chain needs only the
  // last record.
  off_t size = st.st_size;
  uint64_t dropped = 0;
  uint64_t lastSeq = 0;
  std::string lastHash;
  off_t keep = 0;
  if (size > 0) {
    std::string tail;
    off_t start = size;
    size_t lastNewline = std::string::npos;
    while (start > 0) {
      off_t from = std::max<off_t>(0, start - (1 << 16));
      std::string buf(static_cast<size_t>(start - from), '\0');
      ssize_t n = ::pread(fd, buf.data(), buf.size(), from);
      if (n != static_cast<ssize_t>(buf.size())) {
        ::close(fd);
        throw AuditError(fmt::format("cannot read audit log {}: {}", path_, errnoText(errno)));
      }
      tail = buf + tail;
      start = from;
      // We need the last newline, and the newline before it (or the file start).
      lastNewline = tail.rfind('\n');
      if (lastNewline != std::string::npos) {
        size_t before = lastNewline == 0 ? std::string::npos : tail.rfind('\n', lastNewline - 1);
        if (before != std::string::npos || start == 0) break;
      }
    }
    keep = lastNewline == std::string::npos ? start : start + static_cast<off_t>(lastNewline) + 1;
    if (keep < size) {
      // A torn record: the process died (or the disk filled) mid-write. Cut it off.
      if (::ftruncate(fd, keep) != 0) {
        ::close(fd);
        throw AuditError(
            fmt::format("cannot cut the torn tail of {}: {}", path_, errnoText(errno)));
      }
      dropped = static_cast<uint64_t>(size - keep);
    }
    if (lastNewline != std::string::npos) {
      size_t begin = lastNewline == 0 ? std::string::npos : tail.rfind('\n', lastNewline - 1);
      begin = begin == std::string::npos ? 0 : begin + 1;
      std::string_view line(tail.data() + begin, lastNewline - begin);
      std::string_view body, hash;
      bool good = splitHash(line, body, hash) && sha256Hex(body) == hash;
      if (good) {
        try {
          Poco::JSON::Parser parser;
          auto obj = parser.parse(std::string(line)).extract<Poco::JSON::Object::Ptr>();
          lastSeq = obj->getValue<uint64_t>("seq");
        } catch (const Poco::Exception&) {
          good = false;
        }
      }
      if (!good) {
        ::close(fd);
        throw AuditError(fmt::format(
            "the last record of audit log {} is damaged; run `bulkwarden audit verify {}` and "
            "move the file aside to start a new trail",
            path_, path_));
      }
      lastHash = std::string(hash);
    }
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  fileBytes_ = static_cast<uint64_t>(keep);
  if (!lastHash.empty()) {
    // The file's own last record is the truth: a record whose write failed never counted.
    seq_ = syncedSeq_ = lastSeq;
    prevHash_ = lastHash;
    firstSeqInFile_ = firstSeq(fd);  // names the file when it is rotated
  } else {
    // A new or empty file: the chain goes on from memory (after rotation or logrotate).
    syncedSeq_ = seq_;
    firstSeqInFile_ = seq_ + 1;
  }
  return dropped;
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) {
    ::fdatasync(fd_);
    ::close(fd_);
  }
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
    std::string line = format(seq, "recovery", "startup", f, hash);
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
  line += "\"}\n";
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
  std::string rotated = fmt::format("{}.{:012d}", path_, firstSeqInFile_);
  if (::rename(path_.c_str(), rotated.c_str()) != 0) {
    fail(fmt::format("cannot rotate audit log {} to {}: {}", path_, rotated, errnoText(errno)));
    throw AuditError(failure_);
  }
  model::failpoint("during_rotate");
  openFile();  // a new, empty file: the chain goes on from memory
  // Make both names durable: the rename and the new file's directory entry.
  auto dir = std::filesystem::path(path_).parent_path();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
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

uint64_t AuditLog::append(std::string_view type, std::string_view run, const Fields& fields,
                          Sync sync) {
  std::unique_lock lock(mutex_);
  if (failed_) tryRecover(lock);
  if (failed_) throw AuditError(failure_);
  if (options_.reserveBytes > 0 && type == "intent") {
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
  if (type == "intent" && model::failpointHit("mid_record")) {
    // A torn record, as a crash in the middle of write(2) would leave it.
    (void)::write(fd_, line.data(), line.size() / 2);
    model::crashNow();
  }
  writeLine(line);
  seq_ = seq;
  prevHash_ = std::move(hash);
  if (type == "intent") model::failpoint("after_intent_write");
  if (sync == Sync::Durable) syncUpTo(lock, seq);
  if (type == "result") model::failpoint("after_result_write");
  return seq;
}

void AuditLog::sync() {
  std::unique_lock lock(mutex_);
  if (failed_) throw AuditError(failure_);
  syncUpTo(lock, seq_);
}

void AuditLog::syncThrough(uint64_t seq) {
  std::unique_lock lock(mutex_);
  if (failed_) throw AuditError(failure_);
  syncUpTo(lock, std::min(seq, seq_));
}

// Group commit: one caller syncs for everyone whose record was written before the sync began;
// the others wait for a sync that covers their record.
void AuditLog::syncUpTo(std::unique_lock<std::mutex>& lock, uint64_t seq) {
  while (syncedSeq_ < seq) {
    if (failed_) throw AuditError(failure_);
    if (syncing_) {
      synced_.wait(lock);
      continue;
    }
    syncing_ = true;
    uint64_t target = seq_;
    int fd = fd_;
    lock.unlock();
    int rc = ::fdatasync(fd);
    int err = errno;
    lock.lock();
    syncing_ = false;
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

VerifyReport verifyFile(const std::string& path) { return verifyFiles({path}); }

std::vector<std::string> trailFiles(const std::string& path) {
  namespace fs = std::filesystem;
  std::vector<std::string> rotated;
  fs::path p(path);
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::string prefix = p.filename().string() + ".";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() != prefix.size() + 12 || name.compare(0, prefix.size(), prefix) != 0) continue;
    bool digits = true;
    for (size_t i = prefix.size(); i < name.size(); ++i) digits &= name[i] >= '0' && name[i] <= '9';
    if (digits) rotated.push_back(entry.path().string());
  }
  std::sort(rotated.begin(), rotated.end());  // zero-padded first seq: name order is seq order
  rotated.push_back(path);
  return rotated;
}

VerifyReport verifyFiles(const std::vector<std::string>& paths) {
  VerifyReport report;
  auto fail = [&](int64_t lineNo, std::optional<uint64_t> seq, std::string problem) {
    report.ok = false;
    report.firstBadLine = lineNo;
    report.firstBadSeq = seq;
    report.problem = std::move(problem);
  };
  std::string prev;
  uint64_t expectSeq = 0;
  std::map<uint64_t, bool> open;  // intent seq -> still waiting for its result
  Poco::JSON::Parser parser;
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      report.ok = false;
      report.problem = fmt::format("cannot open {}: {}", path, errnoText(errno));
      return report;
    }
    std::string where = paths.size() > 1 ? path + " " : "";
    std::string line;
    int64_t lineNo = 0;
    while (std::getline(in, line)) {
      ++lineNo;
      std::optional<uint64_t> expected = expectSeq ? std::optional(expectSeq) : std::nullopt;
      if (in.eof()) {
        fail(lineNo, expected, where + "the last line has no newline (a torn record)");
        return report;
      }
      Poco::JSON::Object::Ptr obj;
      try {
        parser.reset();
        obj = parser.parse(line).extract<Poco::JSON::Object::Ptr>();
      } catch (const Poco::Exception& e) {
        fail(lineNo, expected,
             fmt::format("{}line {} is not a JSON object: {}", where, lineNo, e.displayText()));
        return report;
      }
      uint64_t seq = 0;
      std::string type, prevField;
      try {
        seq = obj->getValue<uint64_t>("seq");
        type = obj->getValue<std::string>("type");
        prevField = obj->getValue<std::string>("prev");
        obj->getValue<std::string>("ts");
        obj->getValue<std::string>("run");
      } catch (const Poco::Exception&) {
        fail(lineNo, expected,
             fmt::format("{}line {} lacks seq, ts, run, type or prev", where, lineNo));
        return report;
      }
      if (expectSeq != 0 && seq != expectSeq) {
        fail(lineNo, expectSeq,
             fmt::format("{}line {}: seq {} where {} was expected (a record is missing or moved)",
                         where, lineNo, seq, expectSeq));
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
      std::string_view body, hash;
      if (!splitHash(line, body, hash)) {
        fail(lineNo, seq, fmt::format("seq {}: no hash at the end of the record", seq));
        return report;
      }
      if (sha256Hex(body) != hash) {
        fail(lineNo, seq, fmt::format("seq {}: hash mismatch (the record was altered)", seq));
        return report;
      }
      if (type == "intent") open[seq] = true;
      if (type == "result") {
        uint64_t intent = 0;
        try {
          intent = obj->getValue<uint64_t>("intent");
        } catch (const Poco::Exception&) {
          fail(lineNo, seq, fmt::format("seq {}: a result without the seq of its intent", seq));
          return report;
        }
        if (open.erase(intent) == 0 && intent >= report.firstSeq) {
          fail(lineNo, seq,
               fmt::format("seq {}: result for intent {}, which is not open", seq, intent));
          return report;
        }
      }
      prev = std::string(hash);
      report.lastSeq = seq;
      expectSeq = seq + 1;
      ++report.records;
    }
  }
  for (auto& [seq, _] : open) report.openIntents.push_back(seq);
  return report;
}

}  // namespace bulkwarden::audit
