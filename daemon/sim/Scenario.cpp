#include "sim/Scenario.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>

namespace bulkwarden::sim {

namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

constexpr std::array<std::string_view, 12> kObjects = {
    "Account", "Contact", "Lead",  "Opportunity", "Case",     "Task",
    "Event",   "Order",   "Asset", "Product2",    "Campaign", "Invoice__c"};
constexpr std::array<std::string_view, 5> kIngestOperations = {"insert", "update", "upsert",
                                                               "delete", "hardDelete"};
constexpr std::array<std::string_view, 4> kUsers = {"005R0000000GiwjIAC", "005R0000000Hk3tIAC",
                                                    "0058Z000007lKMAQA2", "0053h000002xQ5sAAE"};

milliseconds draw(const DurationRange& range, std::mt19937_64& rng) {
  if (range.max <= range.min) return range.min;
  std::uniform_int_distribution<int64_t> dist(range.min.count(), range.max.count());
  return milliseconds{dist(rng)};
}

template <std::size_t N>
std::string_view pickOne(const std::array<std::string_view, N>& values, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::size_t> dist(0, N - 1);
  return values[dist(rng)];
}

bool isTerminalName(std::string_view state) {
  return state == "JobComplete" || state == "Failed" || state == "Aborted";
}

bool isStateName(std::string_view state) {
  return state == "Open" || state == "UploadComplete" || state == "InProgress" ||
         isTerminalName(state);
}

DurationRange parseRange(std::string_view text) {
  // A dash separates two durations; durations themselves never contain one.
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    const auto d = parseDuration(text);
    return {d, d};
  }
  DurationRange range{parseDuration(text.substr(0, dash)), parseDuration(text.substr(dash + 1))};
  if (range.max < range.min) {
    throw std::invalid_argument(fmt::format("range '{}' ends before it starts", text));
  }
  return range;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto pos = text.find(sep, start);
    parts.push_back(text.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

JobGroup group(std::string kind, std::string state, int count, DurationRange age) {
  JobGroup g;
  g.kind = std::move(kind);
  g.state = std::move(state);
  g.count = count;
  g.age = age;
  return g;
}

}  // namespace

milliseconds parseDuration(std::string_view text) {
  int64_t value = 0;
  const auto* begin = text.data();
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc{} || ptr == begin || value < 0) {
    throw std::invalid_argument(
        fmt::format("bad duration '{}' (want e.g. 30s, 45m, 2h, 7d)", text));
  }
  const std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
  int64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else if (unit == "d") {
    scale = 86'400'000;
  } else {
    throw std::invalid_argument(fmt::format("bad duration '{}' (units: ms s m h d)", text));
  }
  if (value > INT64_MAX / scale)
    throw std::invalid_argument(fmt::format("duration '{}' too large", text));
  return milliseconds{value * scale};
}

JobGroup parseJobGroup(std::string_view spec) {
  const auto parts = split(spec, ':');
  if (parts.size() < 3) {
    throw std::invalid_argument(
        fmt::format("job spec '{}': want KIND:STATE:COUNT[:OPTION]...", spec));
  }
  JobGroup g;
  if (parts[0] != "query" && parts[0] != "ingest") {
    throw std::invalid_argument(fmt::format("job spec '{}': kind must be query or ingest", spec));
  }
  g.kind = std::string(parts[0]);
  const bool classic = spec.find(":type=Classic") != std::string_view::npos;
  if (!isStateName(parts[1]) || (parts[1] == "Open" && g.kind != "ingest" && !classic)) {
    throw std::invalid_argument(
        fmt::format("job spec '{}': bad state '{}' for {} jobs", spec, parts[1], g.kind));
  }
  g.state = std::string(parts[1]);
  const auto [ptr, ec] =
      std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(), g.count);
  if (ec != std::errc{} || ptr != parts[2].data() + parts[2].size() || g.count < 1 ||
      g.count > 1'000'000) {
    throw std::invalid_argument(fmt::format("job spec '{}': bad count '{}'", spec, parts[2]));
  }
  for (std::size_t i = 3; i < parts.size(); ++i) {
    const auto option = parts[i];
    const auto eq = option.find('=');
    const auto key = option.substr(0, eq);
    const auto value = eq == std::string_view::npos ? std::string_view{} : option.substr(eq + 1);
    if (key == "race" && eq == std::string_view::npos) {
      g.finishesOnAbort = true;
      continue;
    }
    if (eq == std::string_view::npos || value.empty()) {
      throw std::invalid_argument(
          fmt::format("job spec '{}': option '{}' needs a value", spec, key));
    }
    if (key == "refuse-abort") {
      const auto [end, err] =
          std::from_chars(value.data(), value.data() + value.size(), g.refusedAborts);
      if (err != std::errc{} || end != value.data() + value.size() || g.refusedAborts < 0) {
        throw std::invalid_argument(
            fmt::format("job spec '{}': refuse-abort wants a count, got '{}'", spec, value));
      }
    } else if (key == "age") {
      g.age = parseRange(value);
    } else if (key == "modified") {
      g.modifiedAgo = parseRange(value);
    } else if (key == "start") {
      g.startAfter = parseRange(value);
    } else if (key == "finish") {
      g.finishAfter = parseRange(value);
    } else if (key == "final") {
      if (value != "JobComplete" && value != "Failed") {
        throw std::invalid_argument(
            fmt::format("job spec '{}': final must be JobComplete or Failed", spec));
      }
      g.finalState = std::string(value);
    } else if (key == "type") {
      if (value != "V2Query" && value != "V2Ingest" && value != "Classic" &&
          value != "BigObjectIngest") {
        throw std::invalid_argument(fmt::format("job spec '{}': bad type '{}'", spec, value));
      }
      g.jobType = std::string(value);
    } else if (key == "object") {
      g.object = std::string(value);
    } else if (key == "operation") {
      g.operation = std::string(value);
    } else if (key == "creator") {
      g.createdById = std::string(value);
    } else if (key == "api") {
      try {
        g.apiVersion = std::stod(std::string(value));
      } catch (const std::exception&) {
        throw std::invalid_argument(
            fmt::format("job spec '{}': bad api version '{}'", spec, value));
      }
    } else {
      throw std::invalid_argument(fmt::format("job spec '{}': unknown option '{}'", spec, key));
    }
  }
  return g;
}

std::vector<JobSeed> expandGroup(const JobGroup& group, std::mt19937_64& rng) {
  std::vector<JobSeed> seeds;
  seeds.reserve(static_cast<std::size_t>(std::max(group.count, 0)));
  std::uniform_int_distribution<int> percent(0, 99);
  for (int i = 0; i < group.count; ++i) {
    JobSeed s;
    s.kind = group.kind;
    s.jobType = group.jobType;
    s.state = group.state;
    s.object = group.object.empty() ? std::string(pickOne(kObjects, rng)) : group.object;
    if (!group.operation.empty()) {
      s.operation = group.operation;
    } else if (group.kind == "query") {
      s.operation = percent(rng) < 85 ? "query" : "queryAll";
    } else {
      s.operation = std::string(pickOne(kIngestOperations, rng));
    }
    s.createdById =
        group.createdById.empty() ? std::string(pickOne(kUsers, rng)) : group.createdById;
    s.age = draw(group.age, rng);
    if (group.modifiedAgo) {
      s.modifiedAgo = std::min(draw(*group.modifiedAgo, rng), s.age);
    } else if (isTerminalName(group.state)) {
      // A finished job was last touched a little after it was created.
      const DurationRange processing{std::min(s.age, milliseconds{2s}),
                                     std::min(s.age, milliseconds{40min})};
      s.modifiedAgo = s.age - draw(processing, rng);
    } else if (group.state == "InProgress") {
      s.modifiedAgo = s.age - draw({0ms, std::min(s.age, milliseconds{90s})}, rng);
    } else {
      s.modifiedAgo = s.age;
    }
    if (group.finishAfter) s.finishAfter = draw(*group.finishAfter, rng);
    if (group.startAfter) s.startAfter = draw(*group.startAfter, rng);
    s.finalState = group.finalState;
    s.finishesOnAbort = group.finishesOnAbort;
    s.refusedAborts = group.refusedAborts;
    s.apiVersion = group.apiVersion;
    seeds.push_back(std::move(s));
  }
  return seeds;
}

std::vector<JobGroup> classicJobs(int count) {
  std::vector<JobGroup> out;
  auto add = [&out](std::string kind, std::string state, int n, DurationRange age) {
    if (n <= 0) return;
    JobGroup g = group(std::move(kind), std::move(state), n, age);
    g.jobType = "Classic";
    g.apiVersion = 58.0;
    out.push_back(std::move(g));
  };
  const int open = count - count * 3 / 10;
  const int closed = count * 15 / 100;
  // Data Loader and ETL tools leave 1.0 jobs Open when they stop midway: most of them.
  add("ingest", "Open", open - open / 5, {std::chrono::hours(1), std::chrono::hours(30)});
  add("query", "Open", open / 5, {std::chrono::hours(1), std::chrono::hours(30)});
  add("ingest", "InProgress", closed, {std::chrono::minutes(30), std::chrono::hours(8)});
  add("ingest", "JobComplete", count - open - closed, {std::chrono::hours(1), 3 * 24h});
  return out;
}

Scenario defaultScenario() {
  using D = DurationRange;
  Scenario s;
  auto add = [&s](JobGroup g) { s.groups.push_back(std::move(g)); };
  // Query jobs.
  add(group("query", "InProgress", 40, D{2h, 6h}));      // stuck for hours
  add(group("query", "UploadComplete", 30, D{1h, 4h}));  // queued for hours
  auto moving = group("query", "InProgress", 60, D{1min, 20min});
  moving.finishAfter = D{5min, 30min};
  add(moving);
  auto queued = group("query", "UploadComplete", 40, D{0ms, 5min});
  queued.finishAfter = D{2min, 20min};
  add(queued);
  auto failing = group("query", "InProgress", 10, D{5min, 30min});
  failing.finishAfter = D{5min, 60min};
  failing.finalState = "Failed";
  add(failing);
  add(group("query", "JobComplete", 1500, D{1h, 6 * 24h}));
  add(group("query", "Failed", 60, D{2h, 5 * 24h}));
  add(group("query", "Aborted", 120, D{1h, 6 * 24h}));
  auto racing = group("query", "InProgress", 5, D{10min, 40min});
  racing.finishesOnAbort = true;
  add(racing);
  // Ingest jobs.
  add(group("ingest", "Open", 25, D{12h, 20h}));  // left open, never closed
  add(group("ingest", "Open", 20, D{1min, 2h}));
  add(group("ingest", "UploadComplete", 20, D{2h, 8h}));  // stuck in the queue
  add(group("ingest", "InProgress", 30, D{1h, 5h}));      // stuck
  auto ingesting = group("ingest", "InProgress", 50, D{1min, 30min});
  ingesting.finishAfter = D{5min, 40min};
  add(ingesting);
  auto ingestFailing = group("ingest", "UploadComplete", 10, D{0ms, 10min});
  ingestFailing.finishAfter = D{5min, 30min};
  ingestFailing.finalState = "Failed";
  add(ingestFailing);
  add(group("ingest", "JobComplete", 1200, D{1h, 6 * 24h}));
  add(group("ingest", "Failed", 80, D{1h, 6 * 24h}));
  add(group("ingest", "Aborted", 60, D{1h, 6 * 24h}));
  auto ingestRacing = group("ingest", "InProgress", 5, D{10min, 40min});
  ingestRacing.finishesOnAbort = true;
  add(ingestRacing);
  // Bulk API 1.0 jobs, which /jobs/query lists unless filtered by jobType.
  auto classicQuery = group("query", "JobComplete", 15, D{1h, 3 * 24h});
  classicQuery.jobType = "Classic";
  classicQuery.apiVersion = 58.0;
  add(classicQuery);
  auto classicIngest = group("ingest", "InProgress", 5, D{3h, 10h});
  classicIngest.jobType = "Classic";
  classicIngest.apiVersion = 58.0;
  add(classicIngest);
  return s;
}

JobGroup arrivingJob(std::mt19937_64& rng, const std::string& sessionUser) {
  using D = DurationRange;
  JobGroup g;
  const int pick = std::uniform_int_distribution<int>(0, 99)(rng);
  if (pick < 25) {
    g = group("query", "InProgress", 1, D{});  // will be stuck: never finishes by itself
  } else if (pick < 45) {
    g = group("query", "InProgress", 1, D{});  // finishes, sometimes only after hours
    g.finishAfter = D{10min, 3h};
  } else if (pick < 60) {
    g = group("ingest", "Open", 1, D{});  // left Open by its loader
  } else if (pick < 70) {
    g = group("ingest", "Open", 1, D{});  // a 1.0 job Data Loader left Open
    g.jobType = "Classic";
    g.apiVersion = 58.0;
  } else if (pick < 75) {
    g = group("ingest", "InProgress", 1, D{});  // a 1.0 job closed, never processed
    g.jobType = "Classic";
    g.apiVersion = 58.0;
  } else if (pick < 80) {
    g = group("query", "InProgress", 1, D{});  // a 1.0 query job that never returns
    g.jobType = "Classic";
    g.apiVersion = 58.0;
  } else {
    g = group("ingest", "InProgress", 1, D{});  // loads and finishes
    g.finishAfter = D{5min, 40min};
    if (pick >= 95) g.finalState = "Failed";
  }
  // Created by the integration user a third of the time, else by another user.
  if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) {
    g.createdById = sessionUser;
  } else {
    g.createdById = std::string(pickOne(kUsers, rng));
  }
  return g;
}

}  // namespace bulkwarden::sim
