#include "policy/TimeZone.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

namespace bulkwarden::policy {

namespace {

constexpr size_t kMaxTzifBytes = 1 << 20;

uint32_t be32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
int64_t be64(const unsigned char* p) {
  return static_cast<int64_t>((uint64_t(be32(p)) << 32) | uint64_t(be32(p + 4)));
}

bool validZoneName(std::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '/' || name.front() == '.') return false;
  if (name.find("..") != std::string_view::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' ||
           c == '_' || c == '-' || c == '+';
  });
}

}  // namespace

std::shared_ptr<const TimeZone> TimeZone::utc() {
  static const auto zone = [] {
    auto z = std::make_shared<TimeZone>();
    z->name_ = "UTC";
    return std::shared_ptr<const TimeZone>(z);
  }();
  return zone;
}

std::shared_ptr<const TimeZone> TimeZone::fromTzif(std::string name, std::string_view bytes) {
  auto data = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t size = bytes.size();
  auto header = [&](size_t at, uint32_t counts[6]) {
    if (at + 44 > size || bytes.substr(at, 4) != "TZif") return false;
    for (int i = 0; i < 6; ++i) counts[i] = be32(data + at + 20 + 4 * i);
    return true;
  };
  uint32_t c[6];  // isutcnt isstdcnt leapcnt timecnt typecnt charcnt
  if (!header(0, c)) return nullptr;
  char version = size > 4 ? bytes[4] : 0;
  size_t at = 44;
  int timeSize = 4;
  if (version >= '2') {
    // Skip the 32-bit block; the 64-bit one that follows covers every year.
    size_t v1 = size_t(c[3]) * 5 + size_t(c[4]) * 6 + c[5] + size_t(c[2]) * 8 + c[1] + c[0];
    at += v1;
    if (!header(at, c)) return nullptr;
    at += 44;
    timeSize = 8;
  }
  uint32_t timecnt = c[3], typecnt = c[4];
  if (typecnt == 0 || typecnt > 256 || timecnt > 100000) return nullptr;
  size_t need = size_t(timecnt) * (timeSize + 1) + size_t(typecnt) * 6;
  if (at + need > size) return nullptr;
  const unsigned char* times = data + at;
  const unsigned char* idx = times + size_t(timecnt) * timeSize;
  const unsigned char* types = idx + timecnt;
  std::vector<int32_t> typeOffsets(typecnt);
  for (uint32_t i = 0; i < typecnt; ++i) {
    typeOffsets[i] = static_cast<int32_t>(be32(types + 6 * i));
    if (typeOffsets[i] < -26 * 3600 || typeOffsets[i] > 26 * 3600) return nullptr;
  }
  auto zone = std::make_shared<TimeZone>();
  zone->name_ = std::move(name);
  zone->initialOffset_ = typeOffsets[0];
  int64_t last = INT64_MIN;
  for (uint32_t i = 0; i < timecnt; ++i) {
    int64_t t = timeSize == 8 ? be64(times + 8 * i)
                              : static_cast<int64_t>(static_cast<int32_t>(be32(times + 4 * i)));
    if (idx[i] >= typecnt || t <= last) return nullptr;
    last = t;
    zone->transitions_.push_back(t);
    zone->offsets_.push_back(typeOffsets[idx[i]]);
  }
  return zone;
}

std::shared_ptr<const TimeZone> TimeZone::load(std::string_view name, std::string* error) {
  if (name == "UTC" || name == "Etc/UTC" || name == "Z") return utc();
  if (!validZoneName(name)) {
    if (error) *error = "not a time zone name";
    return nullptr;
  }
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const TimeZone>, std::less<>> cache;
  std::lock_guard lock(mutex);
  if (auto it = cache.find(name); it != cache.end()) return it->second;
  const char* dir = std::getenv("TZDIR");
  std::string path =
      std::string(dir && *dir ? dir : "/usr/share/zoneinfo") + "/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (error) *error = "unknown time zone (not in the system tz database)";
    return nullptr;
  }
  std::string bytes;
  bytes.resize(kMaxTzifBytes);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<size_t>(in.gcount()));
  auto zone = fromTzif(std::string(name), bytes);
  if (!zone) {
    if (error) *error = "not a valid TZif file";
    return nullptr;
  }
  cache.emplace(std::string(name), zone);
  return zone;
}

int32_t TimeZone::offsetAt(int64_t utc) const {
  // Past the last transition the last offset holds. Debian's tzdata is built "fat" (transitions
  // listed to 2037), which covers any schedule bulkwarden computes.
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc);
  if (it == transitions_.begin()) return initialOffset_;
  return offsets_[static_cast<size_t>(it - transitions_.begin() - 1)];
}

std::vector<int64_t> TimeZone::instantsOf(int64_t local) const {
  // Offsets in use within a day either side; a zone changes offset at most once in that span.
  std::vector<int64_t> out;
  for (int32_t off : {offsetAt(local - 86400), offsetAt(local + 86400)}) {
    int64_t u = local - off;
    if (offsetAt(u) == off && std::find(out.begin(), out.end(), u) == out.end()) out.push_back(u);
  }
  std::sort(out.begin(), out.end());
  return out;
}

int64_t TimeZone::nextChangeAfter(int64_t utc, int64_t limit) const {
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc);
  if (it == transitions_.end() || *it > limit) return limit;
  return *it;
}

}  // namespace bulkwarden::policy
