#include "notify/Rebuild.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "audit/AuditLog.h"
#include "audit/Records.h"
#include "log/Log.h"
#include "model/Fd.h"

namespace bulkwarden::notify {
namespace {

constexpr std::string_view kMarksFile = "notify-queued";
constexpr std::string_view kMarksHeader = "bulkwarden digest marks 1";
constexpr size_t kMaxMarksBytes = 4 * 1024 * 1024;
constexpr size_t kMaxName = 200;  // a run id, org or policy name longer than this is not ours

using model::Fd;
using model::writeAll;

bool plainName(std::string_view s) {
  return !s.empty() && s.size() <= kMaxName && std::all_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
}

// As the digest of a pass's end cuts them (notify/Digest.cpp).
std::string capped(std::string text) {
  constexpr size_t kFieldCap = 300;
  if (text.size() <= kFieldCap) return text;
  text.resize(kFieldCap);
  return text + "...";
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size() && out.size() < 4) {
    size_t j = line.find(' ', i);
    if (j == std::string_view::npos) j = line.size();
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace

DigestMarks::DigestMarks(std::string dir) : dir_(std::move(dir)) {}

std::string DigestMarks::path() const { return dir_ + "/" + std::string(kMarksFile); }

bool DigestMarks::load() {
  model::MutexLock lock(mutex_);
  exists_ = false;
  since_ = 0;
  afterRun_.clear();
  order_.clear();
  keys_.clear();
  Fd fd(::open(path().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno != ENOENT) {
      log::warning("{}: cannot be read ({}); digests are rebuilt from the end of the trail only",
                   path(), std::strerror(errno));
    }
    return false;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
      static_cast<uint64_t>(st.st_size) > kMaxMarksBytes) {
    log::warning(
        "{}: not a file bulkwarden wrote (a link, not a regular file of this user, or "
        "over {} bytes); ignored and replaced",
        path(), kMaxMarksBytes);
    return false;
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  ssize_t n = ::read(fd.get(), text.data(), text.size());
  if (n != st.st_size) return false;
  std::string_view rest(text);
  bool first = true;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) break;  // a torn last line (a crash mid-append): not a mark
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    if (first) {
      if (line != kMarksHeader) {
        log::warning("{}: not a file bulkwarden wrote (first line); ignored and replaced", path());
        return false;
      }
      first = false;
      continue;
    }
    auto w = words(line);
    if (w.size() == 2 && w[0] == "since") {
      uint64_t v = 0;
      bool ok = w[1].size() <= 19 &&
                std::all_of(w[1].begin(), w[1].end(), [](char c) { return c >= '0' && c <= '9'; });
      for (char c : w[1]) v = v * 10 + static_cast<uint64_t>(c - '0');
      if (ok) since_ = v;
    } else if (w.size() == 2 && w[0] == "after-run" && plainName(w[1])) {
      afterRun_ = std::string(w[1]);
    } else if (w.size() == 3 && plainName(w[0]) && plainName(w[1]) && plainName(w[2])) {
      Key k{std::string(w[0]), std::string(w[1]), std::string(w[2])};
      if (keys_.insert(k).second) order_.push_back(std::move(k));
    }
  }
  if (first) return false;
  exists_ = true;
  return true;
}

bool DigestMarks::exists() const {
  model::MutexLock lock(mutex_);
  return exists_;
}
uint64_t DigestMarks::since() const {
  model::MutexLock lock(mutex_);
  return since_;
}
std::string DigestMarks::afterRun() const {
  model::MutexLock lock(mutex_);
  return afterRun_;
}
bool DigestMarks::queued(const std::string& run, const std::string& org,
                         const std::string& policy) const {
  model::MutexLock lock(mutex_);
  return keys_.count(Key{run, org, policy}) > 0;
}

bool DigestMarks::rewrite() {
  std::string text = fmt::format("{}\nsince {}\n", kMarksHeader, since_);
  if (!afterRun_.empty()) text += fmt::format("after-run {}\n", afterRun_);
  for (const auto& [run, org, policy] : order_) text += fmt::format("{} {} {}\n", run, org, policy);
  Fd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  std::string tmp = "." + std::string(kMarksFile) + ".tmp";
  bool ok = dir.get() >= 0;
  if (ok) {
    ::unlinkat(dir.get(), tmp.c_str(), 0);
    Fd fd(::openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                   0600));
    ok = fd.get() >= 0 && writeAll(fd.get(), text) && ::fsync(fd.get()) == 0;
  }
  ok = ok && ::renameat(dir.get(), tmp.c_str(), dir.get(), std::string(kMarksFile).c_str()) == 0;
  if (ok) ::fsync(dir.get());
  if (!ok) {
    log::error("{}: cannot be written ({}); after a crash, digests may be sent twice", path(),
               std::strerror(errno));
    if (dir.get() >= 0) ::unlinkat(dir.get(), tmp.c_str(), 0);
  }
  exists_ = exists_ || ok;
  return ok;
}

void DigestMarks::reset(uint64_t since) {
  model::MutexLock lock(mutex_);
  since_ = since;
  afterRun_.clear();
  order_.clear();
  keys_.clear();
  rewrite();
}

void DigestMarks::mark(const std::string& run, const std::string& org, const std::string& policy) {
  if (!plainName(run) || !plainName(org) || !plainName(policy)) return;
  model::MutexLock lock(mutex_);
  Key k{run, org, policy};
  if (!keys_.insert(k).second) return;
  order_.push_back(std::move(k));
  if (!exists_ || order_.size() > kMaxMarks) {
    if (order_.size() > kMaxMarks) {
      // The newest half stays; the passes of the marks dropped are settled by their run id.
      size_t drop = order_.size() - kMaxMarks / 2;
      for (size_t i = 0; i < drop; ++i) {
        afterRun_ = std::max(afterRun_, std::get<0>(order_[i]));
        keys_.erase(order_[i]);
      }
      order_.erase(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(drop));
    }
    rewrite();
    return;
  }
  Fd fd(::open(path().c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0 || !writeAll(fd.get(), fmt::format("{} {} {}\n", run, org, policy)) ||
      ::fdatasync(fd.get()) != 0) {
    log::error("{}: cannot be written ({}); after a crash, digests may be sent twice", path(),
               std::strerror(errno));
  }
}

// ---- rebuilding ---------------------------------------------------------------------------------

namespace {

struct JobEntry {
  std::string id, object, state, reason;
  std::optional<uint64_t> lastIntent;
  std::string outcome;  // of the last intent's result; "" while it has none
};

struct PolicyPass {
  std::string policy, action, mode;
  std::vector<JobEntry> jobs;  // decisions, in trail order
  std::map<std::string, size_t> byJob;
  std::vector<std::pair<std::string, int64_t>> held;         // reason, count (trail order)
  std::vector<std::pair<std::string, std::string>> heldIds;  // id, reason
};

struct PassRecords {
  uint64_t startSeq = 0;
  std::string run, org, resource, time;
  std::vector<std::string> policyOrder;
  std::map<std::string, PolicyPass> policies;
};

std::string objectText(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (!o || !o->has(key)) return {};
  const auto& v = o->get(key);
  return v.isString() ? v.extract<std::string>() : std::string();
}

}  // namespace

RebuildResult rebuildDigests(const std::vector<std::string>& trailFiles,
                             const RebuildOptions& options) {
  RebuildResult result;
  // The window: the last windowBytes of the files that can be read in place (not .gz).
  struct Slice {
    std::string path;
    uint64_t offset = 0;
  };
  std::vector<Slice> slices;
  uint64_t budget = options.windowBytes;
  for (auto it = trailFiles.rbegin(); it != trailFiles.rend() && budget > 0; ++it) {
    if (it->size() > 3 && it->compare(it->size() - 3, 3, ".gz") == 0) {
      result.windowCut = true;
      break;
    }
    struct stat st {};
    if (::stat(it->c_str(), &st) != 0) continue;
    auto size = static_cast<uint64_t>(st.st_size);
    uint64_t take = std::min(size, budget);
    budget -= take;
    slices.push_back(Slice{*it, size - take});
    if (take < size) result.windowCut = true;
  }
  std::reverse(slices.begin(), slices.end());

  std::map<std::string, PassRecords> passes;                        // by run id
  std::map<uint64_t, std::pair<std::string, std::string>> intents;  // seq -> run, policy|job
  audit::RecordParser parser;
  uint64_t firstSeq = 0;
  auto onLine = [&](std::string_view line) {
    // The seq first, cheaply (a record starts with it): every record of a pass after `since`
    // (and every result recovery wrote for it) comes after `since`, so older lines are not parsed.
    if (line.rfind("{\"seq\":", 0) == 0) {
      uint64_t v = 0;
      size_t i = 7;
      for (; i < line.size() && i < 27 && line[i] >= '0' && line[i] <= '9'; ++i) {
        v = v * 10 + static_cast<uint64_t>(line[i] - '0');
      }
      if (i > 7) {
        result.lastSeq = std::max(result.lastSeq, v);
        if (firstSeq == 0) firstSeq = v;
        if (v <= options.since) return;
      }
    }
    static constexpr std::string_view kTypes[] = {"\"type\":\"run-start\"", "\"type\":\"decision\"",
                                                  "\"type\":\"held\"",      "\"type\":\"intent\"",
                                                  "\"type\":\"result\"",    "\"type\":\"run-end\""};
    bool wanted = false;
    for (auto t : kTypes) wanted = wanted || line.find(t) != std::string_view::npos;
    if (!wanted) return;
    auto parsed = parser.parse(line);
    if (!parsed) return;
    const audit::Record& r = *parsed.record;
    result.lastSeq = std::max(result.lastSeq, r.seq);
    if (firstSeq == 0) firstSeq = r.seq;
    if (r.is(audit::RecordType::RunStart)) {
      if (r.seq <= options.since) return;
      if (!options.afterRun.empty() && r.run <= options.afterRun) return;
      if (passes.count(r.run) > 0) return;
      PassRecords p;
      p.startSeq = r.seq;
      p.run = r.run;
      p.org = r.org();
      p.resource = r.text("resource");
      p.time = r.ts;
      passes.emplace(r.run, std::move(p));
      return;
    }
    if (r.is(audit::RecordType::Result)) {
      // The engine's result or recovery's (run "recovery"): found by the intent it settles.
      auto seq = r.intent();
      if (!seq) return;
      auto in = intents.find(*seq);
      if (in == intents.end()) return;
      auto pit = passes.find(in->second.first);
      if (pit == passes.end()) return;
      auto& [run, key] = in->second;
      auto bar = key.find('|');
      auto pol = pit->second.policies.find(key.substr(0, bar));
      if (pol == pit->second.policies.end()) return;
      auto j = pol->second.byJob.find(key.substr(bar + 1));
      if (j == pol->second.byJob.end()) return;
      JobEntry& job = pol->second.jobs[j->second];
      if (job.lastIntent == *seq) job.outcome = r.outcomeName();
      if (r.run == run) pit->second.time = r.ts;
      return;
    }
    auto pit = passes.find(r.run);
    if (pit == passes.end()) return;
    PassRecords& pass = pit->second;
    pass.time = r.ts;
    if (r.is(audit::RecordType::RunEnd)) return;
    std::string policy = r.policy();
    if (!plainName(policy)) return;
    if (!options.wanted || !options.wanted(pass.run, pass.org, policy)) return;
    auto [pol, fresh] = pass.policies.try_emplace(policy);
    if (fresh) {
      pol->second.policy = policy;
      pol->second.action = r.action();
      pol->second.mode = r.mode();
      pass.policyOrder.push_back(policy);
    }
    PolicyPass& pp = pol->second;
    if (r.is(audit::RecordType::Held)) {
      std::string reason = capped(r.reason());
      pp.held.emplace_back(reason, r.integer("count").value_or(0));
      if (r.object->has("ids") && r.object->isArray("ids")) {
        auto ids = r.object->getArray("ids");
        for (size_t i = 0; i < ids->size() && i < kDigestJobs; ++i) {
          const auto& v = ids->get(static_cast<unsigned>(i));
          if (v.isString()) pp.heldIds.emplace_back(v.extract<std::string>(), reason);
        }
      }
      return;
    }
    auto job = r.job();
    if (!job || job->id.empty()) return;
    if (r.is(audit::RecordType::Decision)) {
      if (pp.byJob.count(job->id) > 0) return;
      pp.byJob[job->id] = pp.jobs.size();
      auto jo = r.object->getObject("job");
      pp.jobs.push_back(JobEntry{job->id, objectText(jo, "object"), job->state, capped(r.reason()),
                                 std::nullopt, ""});
      return;
    }
    if (r.is(audit::RecordType::Intent)) {
      auto j = pp.byJob.find(job->id);
      if (j == pp.byJob.end()) return;
      pp.jobs[j->second].lastIntent = r.seq;
      pp.jobs[j->second].outcome.clear();
      intents[r.seq] = {pass.run, policy + "|" + job->id};
    }
  };

  for (const auto& slice : slices) {
    Fd fd(::open(slice.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) {
      result.error = fmt::format("cannot read {}: {}", slice.path, std::strerror(errno));
      continue;
    }
    uint64_t offset = slice.offset;
    bool skipPartial = offset > 0;
    if (offset > 0) --offset;  // so that a line starting exactly at the cut is read whole
    std::string carry;
    std::string buf(1 << 16, '\0');
    bool tooLong = false;
    for (;;) {
      ssize_t n = ::pread(fd.get(), buf.data(), buf.size(), static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        result.error = fmt::format("cannot read {}: {}", slice.path, std::strerror(errno));
        break;
      }
      if (n == 0) break;
      offset += static_cast<uint64_t>(n);
      std::string_view chunk(buf.data(), static_cast<size_t>(n));
      while (!chunk.empty()) {
        size_t nl = chunk.find('\n');
        if (nl == std::string_view::npos) {
          if (!tooLong) carry.append(chunk);
          if (carry.size() > audit::kMaxRecordBytes) {
            tooLong = true;
            carry.clear();
          }
          break;
        }
        if (!tooLong) carry.append(chunk.substr(0, nl));
        chunk.remove_prefix(nl + 1);
        if (skipPartial) {
          skipPartial = false;  // the line the window cut into
        } else if (!tooLong && carry.size() <= audit::kMaxRecordBytes) {
          onLine(carry);
        }
        carry.clear();
        tooLong = false;
      }
    }
    // A last line without its newline is being written or was torn: not a record yet.
  }
  if (firstSeq > options.since + 1 && options.since > 0) result.windowCut = true;

  std::vector<const PassRecords*> ordered;
  for (const auto& [_, p] : passes) ordered.push_back(&p);
  std::sort(ordered.begin(), ordered.end(),
            [](const PassRecords* a, const PassRecords* b) { return a->startSeq < b->startSeq; });
  for (const PassRecords* p : ordered) {
    for (const auto& name : p->policyOrder) {
      const PolicyPass& pp = p->policies.at(name);
      Digest d;
      d.policy = pp.policy;
      d.org = p->org;
      d.resource = p->resource;
      d.run = p->run;
      d.time = p->time;
      d.action = pp.action;
      d.mode = pp.mode;
      const bool sends = d.action != "report" && d.mode == "enforce";
      for (const auto& j : pp.jobs) {
        std::string outcome;
        if (!sends) {
          outcome = std::string(audit::toString(audit::Outcome::Recorded));
        } else if (!j.lastIntent) {
          outcome = std::string(audit::toString(audit::Outcome::NotStarted));
        } else if (j.outcome.empty()) {
          outcome = std::string(audit::toString(audit::Outcome::Unknown));
        } else {
          outcome = j.outcome;
        }
        ++d.matched;
        ++d.outcomes[outcome];
        if (d.jobs.size() < kDigestJobs) {
          d.jobs.push_back(DigestJob{j.id, j.object, j.state, outcome, j.reason});
        } else {
          ++d.jobsOmitted;
        }
      }
      const std::string heldName(audit::toString(audit::Outcome::Held));
      int64_t heldTotal = 0;
      for (const auto& [reason, count] : pp.held) {
        heldTotal += std::max<int64_t>(count, 0);
        if (d.held.size() < kDigestJobs) d.held[reason] += std::max<int64_t>(count, 0);
      }
      if (heldTotal > 0) {
        d.matched += heldTotal;
        d.outcomes[heldName] += heldTotal;
      }
      int64_t named = 0;
      for (const auto& [id, reason] : pp.heldIds) {
        if (d.jobs.size() >= kDigestJobs) break;
        d.jobs.push_back(DigestJob{id, "", "", heldName, reason});
        ++named;
      }
      d.jobsOmitted += heldTotal - named;
      if (d.matched == 0) continue;
      result.digests.push_back(std::move(d));
    }
  }
  return result;
}

}  // namespace bulkwarden::notify
