#include "app/ScheduleCommand.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string_view>

#include "app/Composition.h"
#include "app/ExitCodes.h"
#include "app/Runtime.h"
#include "log/Log.h"

namespace bulkwarden::app {

namespace {

constexpr const char* kScheduleUsage =
    R"(Usage: bulkwarden schedule [--config FILE] [--from ISO] [--count N] [--format table|json]

Prints the next pass times of every policy, soonest first, as the daemon computes them: cron in
its time zone (daylight saving changes included), a missed cron time late only within its
starting-deadline, an interval from the policy's last pass (read from the state-dir database
opened read-only, when it is readable). Calls no org and resolves no secret.

Options:
  --config FILE     configuration file (default /etc/bulkwarden/bulkwarden.yaml)
  --from ISO        compute from this time (RFC 3339, e.g. 2026-12-01T22:00:00Z; default now)
  --count N         times per policy, 1 to 1000 (default 5)
  --format FMT      table (default) or json: [{"policy": "name", "next": ["...Z", ...]}], UTC

In the table, a time outside the policy's windows is marked: that pass records its matches as
held back and sends nothing.
)";

// An argument echoed in an error: control characters masked, length capped.
std::string shown(std::string_view v) {
  std::string out;
  for (char c : v.substr(0, 80)) out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
  if (v.size() > 80) out += "...";
  return out;
}

int usage(const std::string& message) {
  fmt::print(stderr, "bulkwarden schedule: {}\nTry `bulkwarden schedule --help`.\n", message);
  return kExitUsage;
}

// Seconds are the schedule's precision; the daemon's own ticks carry milliseconds of wake-up.
std::string utcSeconds(model::Timestamp t) {
  using namespace std::chrono;
  auto s = floor<seconds>(t);
  auto day = floor<days>(s);
  year_month_day ymd{day};
  hh_mm_ss hms{s - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", int(ymd.year()), unsigned(ymd.month()),
                     unsigned(ymd.day()), hms.hours().count(), hms.minutes().count(),
                     hms.seconds().count());
}

std::string local(model::Timestamp t, const policy::TimeZone& zone) {
  using namespace std::chrono;
  int64_t utc = floor<seconds>(t).time_since_epoch().count();
  int32_t off = zone.offsetAt(utc);
  sys_seconds l{seconds{utc + off}};
  auto day = floor<days>(l);
  year_month_day ymd{day};
  hh_mm_ss hms{l - day};
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  int a = off < 0 ? -off : off;
  return fmt::format("{} {:04}-{:02}-{:02} {:02}:{:02} {}{:02}:{:02}",
                     kDays[weekday{day}.c_encoding()], int(ymd.year()), unsigned(ymd.month()),
                     unsigned(ymd.day()), hms.hours().count(), hms.minutes().count(),
                     off < 0 ? '-' : '+', a / 3600, (a % 3600) / 60);
}

std::string left(model::Timestamp t, model::Timestamp now) {
  auto d = std::chrono::duration_cast<std::chrono::seconds>(t - now);
  if (d.count() <= 0) return "now";
  auto s = d.count();
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}min", s / 60);
  if (s < 86400) return fmt::format("{}h {}min", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d {}h", s / 86400, (s % 86400) / 3600);
}

// The policies' last passes (latest over the orgs each applies to), read from the daemon's state
// database opened read-only (never created, never written; a link is not followed). Empty when
// there is none; when it cannot be read, the composition root says why on stderr.
std::map<std::string, model::Timestamp> lastPasses(const config::Config& cfg) {
  std::map<std::string, model::Timestamp> out;
  auto store = readOnlyState(cfg);
  for (const auto& p : cfg.policies) {
    for (const auto& org : cfg.orgs) {
      if (!p.appliesTo(org.name)) continue;
      auto t = store->lastPass(org.name, p.name);
      if (t && (!out.count(p.name) || *t > out[p.name])) out[p.name] = *t;
    }
  }
  return out;
}

}  // namespace

std::vector<PolicyTimes> policyTimes(const std::vector<policy::Policy>& policies,
                                     const std::map<std::string, model::Timestamp>& last,
                                     model::Timestamp from, size_t count) {
  std::vector<PolicyTimes> out;
  for (const auto& p : policies) {
    auto it = last.find(p.name);
    std::optional<model::Timestamp> l;
    if (it != last.end()) l = it->second;
    out.push_back({&p, p.schedule.upcoming(l, from, count)});
  }
  std::stable_sort(out.begin(), out.end(), [](const PolicyTimes& a, const PolicyTimes& b) {
    if (a.next.empty() || b.next.empty()) return !a.next.empty() && b.next.empty();
    return a.next.front() < b.next.front();
  });
  return out;
}

std::string scheduleJson(const std::vector<PolicyTimes>& times) {
  Poco::JSON::Array::Ptr root = new Poco::JSON::Array;
  for (const auto& t : times) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("policy", t.policy->name);
    Poco::JSON::Array::Ptr next = new Poco::JSON::Array;
    for (auto n : t.next) next->add(utcSeconds(n));
    o->set("next", next);
    root->add(o);
  }
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(root, out, 2);
  out << "\n";
  return out.str();
}

std::vector<std::string> outsideScheduleNotes(const std::vector<const policy::Policy*>& policies,
                                              model::Timestamp now) {
  std::vector<std::string> out;
  for (const auto* p : policies) {
    if (p->schedule.cron && !p->schedule.fireCovering(now)) {
      auto next = p->schedule.nextAfter(now);
      out.push_back(fmt::format("policy {} runs outside its schedule ({}); its next time is {}",
                                p->name, p->schedule.describe(),
                                next ? utcSeconds(*next) : std::string("never")));
    }
    if (!p->windows.open(now)) {
      out.push_back(fmt::format(
          "policy {} runs outside its windows: its matches are recorded and held back", p->name));
    }
  }
  return out;
}

int scheduleCommand(const std::vector<std::string>& args) {
  std::string configPath = "/etc/bulkwarden/bulkwarden.yaml";
  std::optional<model::Timestamp> from;
  size_t count = 5;
  std::string format = "table";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kScheduleUsage, stdout);
      return kExitOk;
    }
    bool takesValue =
        a == "--config" || a == "-c" || a == "--from" || a == "--count" || a == "--format";
    if (!takesValue) return usage(fmt::format("unknown option '{}'", shown(a)));
    if (i + 1 >= args.size()) return usage(fmt::format("{} needs a value", a));
    const std::string& v = args[++i];
    if (a == "--config" || a == "-c") {
      configPath = v;
    } else if (a == "--from") {
      from = model::parseTimestamp(v);
      if (!from) {
        return usage(
            fmt::format("--from '{}' is not a time such as 2026-12-01T22:00:00Z", shown(v)));
      }
    } else if (a == "--count") {
      size_t n = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || end != v.data() + v.size() || n < 1 || n > 1000) {
        return usage(fmt::format("--count '{}' is not a number from 1 to 1000", shown(v)));
      }
      count = n;
    } else {
      if (v != "table" && v != "json") return usage("--format is table or json");
      format = v;
    }
  }
  auto cfg = loadOrReport(configPath);
  if (!cfg) return kExitConfig;
  model::Timestamp now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  model::Timestamp start = from.value_or(now);
  auto times = policyTimes(cfg->policies, lastPasses(*cfg), start, count);
  if (format == "json") {
    std::fputs(scheduleJson(times).c_str(), stdout);
    return kExitOk;
  }
  for (const auto& t : times) {
    const auto& p = *t.policy;
    fmt::print("{}  ({}, {} {})\n  {}{}\n", p.name, model::resourceName(p.resource),
               policy::toString(p.action), policy::toString(p.mode), p.schedule.describe(),
               p.windows.empty() ? "" : "; acts only inside its windows");
    const auto& zone = p.schedule.cron && p.schedule.zone ? *p.schedule.zone
                       : p.windows.zone                   ? *p.windows.zone
                                                          : *policy::TimeZone::utc();
    for (auto n : t.next) {
      fmt::print("    {}  {} {}  {:>10}{}\n", utcSeconds(n), local(n, zone), zone.name(),
                 left(n, start), p.windows.open(n) ? "" : "  outside its windows: held back");
    }
  }
  if (times.empty()) fmt::print("no policies\n");
  return kExitOk;
}

}  // namespace bulkwarden::app
