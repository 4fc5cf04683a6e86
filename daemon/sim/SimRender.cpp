#include "sim/SimRender.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <utility>
#include <vector>

#include "sim/SimText.h"

namespace bulkwarden::sim::render {

namespace {

std::string versionLabel(int major) {
  // 62.0 is Winter '25; three releases a year: Winter, Spring, Summer.
  constexpr std::array<std::string_view, 3> kSeasons = {"Winter", "Spring", "Summer"};
  const int offset = major - 62;
  const int season = ((offset % 3) + 3) % 3;
  const int year = 25 + (offset - season) / 3;
  return fmt::format("{} '{:02d}", kSeasons[static_cast<std::size_t>(season)], year);
}

void appendCommon(std::string& out, const StoredJob& job, const JobView& v) {
  out += R"({"id":")";
  out += job.id;  // generated or validated ids need no escaping, but seeds may carry anything
  out += R"(","operation":")";
  appendJsonEscaped(out, job.operation);
  out += R"(","object":")";
  appendJsonEscaped(out, job.object);
  out += R"(","createdById":")";
  appendJsonEscaped(out, job.createdById);
  out += R"(","createdDate":")";
  appendTimestamp(out, job.createdMs);
  out += R"(","systemModstamp":")";
  appendTimestamp(out, v.modstampMs);
  out += R"(","state":")";
  out += stateName(v.state);
  fmt::format_to(std::back_inserter(out),
                 R"(","concurrencyMode":"Parallel","contentType":"CSV","apiVersion":{:.1f})",
                 job.apiVersion);
}

}  // namespace

SimResponse error(int status, std::string_view code, std::string_view message) {
  SimResponse r;
  r.status = status;
  r.body =
      fmt::format(R"([{{"errorCode":{},"message":{}}}])", jsonString(code), jsonString(message));
  return r;
}

void appendListRecord(std::string& out, const StoredJob& job, const JobView& v) {
  appendCommon(out, job, v);
  out += R"(,"jobType":")";
  appendJsonEscaped(out, job.jobType);
  out += R"(","lineEnding":"LF","columnDelimiter":"COMMA")";
}

std::string shortInfo(const StoredJob& job, const JobView& v) {
  std::string out;
  appendCommon(out, job, v);
  out += '}';
  return out;
}

std::string fullInfo(const StoredJob& job, const JobView& v, int64_t now) {
  std::string out;
  appendListRecord(out, job, v);
  int64_t processed = 0;
  int64_t total = 0;
  switch (v.state) {
    case JobState::Open:
    case JobState::UploadComplete:
      break;
    case JobState::InProgress:
      processed =
          job.finishAtMs == kNeverMs || job.finishAtMs <= v.modstampMs
              ? job.numberRecords / 3
              : job.numberRecords *
                    std::clamp<int64_t>(now - v.modstampMs, 0, job.finishAtMs - v.modstampMs) /
                    (job.finishAtMs - v.modstampMs);
      total = std::max<int64_t>(now - v.modstampMs, 0) / 2;
      break;
    case JobState::JobComplete:
      processed = job.numberRecords;
      total = std::clamp<int64_t>((v.modstampMs - job.createdMs) * 4 / 5, 0, 3'600'000);
      break;
    case JobState::Failed:
      processed = job.numberRecords / 2;
      total = std::clamp<int64_t>((v.modstampMs - job.createdMs) * 4 / 5, 0, 3'600'000);
      break;
    case JobState::Aborted:
      processed = job.numberRecords / 4;
      total = std::clamp<int64_t>((v.modstampMs - job.createdMs) / 2, 0, 3'600'000);
      break;
  }
  const bool failed = v.state == JobState::Failed;
  fmt::format_to(std::back_inserter(out), R"(,"numberRecordsProcessed":{},"retries":{})", processed,
                 failed ? 2 : 0);
  fmt::format_to(std::back_inserter(out), R"(,"totalProcessingTime":{})", total);
  if (job.ingest) {
    fmt::format_to(
        std::back_inserter(out),
        R"(,"numberRecordsFailed":{},"apexProcessingTime":0,"apiActiveProcessingTime":{})",
        failed ? std::max<int64_t>(1, job.numberRecords / 10) : 0, total * 3 / 4);
    if (v.state == JobState::Open) {
      fmt::format_to(std::back_inserter(out),
                     R"(,"contentUrl":"services/data/v{:.1f}/jobs/ingest/{}/batches")",
                     job.apiVersion, job.id);
    }
    if (failed) out += R"(,"errorMessage":"InvalidBatch : Max retry attempts exceeded")";
  } else {
    out += R"(,"isPkChunkingSupported":true)";
    if (failed) out += R"(,"errorMessage":"InternalServerError : Retried more than 15 times")";
  }
  out += '}';
  return out;
}

void beginPage(std::string& out, bool done) {
  out += R"({"done":)";
  out += done ? "true" : "false";
  out += R"(,"records":[)";
}

void endPage(std::string& out, std::string_view nextUrl) {
  out += R"(],"nextRecordsUrl":)";
  if (nextUrl.empty()) {
    out += "null";
  } else {
    out += '"';
    appendJsonEscaped(out, nextUrl);
    out += '"';
  }
  out += '}';
}

std::string limits(int64_t max, int64_t used) {
  return fmt::format(
      R"({{"DailyApiRequests":{{"Max":{},"Remaining":{}}},"DailyBulkV2QueryJobs":{{"Max":10000,"Remaining":10000}},"DailyBulkApiBatches":{{"Max":15000,"Remaining":15000}}}})",
      max, std::max<int64_t>(max - used, 0));
}

std::string versions(int oldest, int newest) {
  std::string body = "[";
  for (int v = oldest; v <= newest; ++v) {
    if (v > oldest) body += ',';
    fmt::format_to(std::back_inserter(body),
                   R"({{"label":{},"url":"/services/data/v{}.0","version":"{}.0"}})",
                   jsonString(versionLabel(v)), v, v);
  }
  body += ']';
  return body;
}

std::string_view classicState(JobState s) {
  switch (s) {
    case JobState::Open:
      return "Open";
    case JobState::Aborted:
      return "Aborted";
    case JobState::Failed:
      return "Failed";
    default:
      return "Closed";  // a Closed job may still have batches in progress
  }
}

namespace {

// XML text content: & < > escaped; control characters dropped.
void appendXmlEscaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;
    }
  }
}

// 1.0 dates: 2018-12-18T16:15:31.000Z.
std::string classicTimestamp(int64_t ms) {
  std::string t = formatTimestamp(ms);
  return t.substr(0, t.size() - 5) + "Z";
}

}  // namespace

std::string classicInfo(const StoredJob& job, const JobView& v, bool json) {
  const bool done = v.state == JobState::JobComplete;
  const int64_t processed = done ? job.numberRecords : 0;
  const int batches = done ? 1 : 0;
  const std::vector<std::pair<std::string_view, std::string>> fields = {
      {"id", job.id},
      {"operation", job.operation},
      {"object", job.object},
      {"createdById", job.createdById},
      {"createdDate", classicTimestamp(job.createdMs)},
      {"systemModstamp", classicTimestamp(v.modstampMs)},
      {"state", std::string(classicState(v.state))},
      {"concurrencyMode", "Parallel"},
      {"contentType", "CSV"},
      {"numberBatchesQueued", "0"},
      {"numberBatchesInProgress", v.state == JobState::InProgress ? "1" : "0"},
      {"numberBatchesCompleted", std::to_string(batches)},
      {"numberBatchesFailed", v.state == JobState::Failed ? "1" : "0"},
      {"numberBatchesTotal",
       std::to_string(batches + (v.state == JobState::InProgress || v.state == JobState::Failed))},
      {"numberRecordsProcessed", std::to_string(processed)},
      {"numberRetries", "0"},
      {"apiVersion", fmt::format("{:.1f}", job.apiVersion)},
      {"numberRecordsFailed", "0"},
      {"totalProcessingTime", "0"},
      {"apiActiveProcessingTime", "0"},
      {"apexProcessingTime", "0"}};
  auto numeric = [](std::string_view name) {
    return name.rfind("number", 0) == 0 || name == "apiVersion" ||
           name.find("ProcessingTime") != std::string_view::npos;
  };
  std::string out;
  if (json) {
    out += '{';
    for (const auto& [name, value] : fields) {
      if (out.size() > 1) out += ',';
      fmt::format_to(std::back_inserter(out), "\"{}\":", name);
      if (numeric(name)) {
        out += value;
      } else {
        out += jsonString(value);
      }
    }
    out += '}';
    return out;
  }
  out +=
      R"(<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="http://www.force.com/2009/06/asyncapi/dataload">)";
  for (const auto& [name, value] : fields) {
    fmt::format_to(std::back_inserter(out), "<{}>", name);
    appendXmlEscaped(out, value);
    fmt::format_to(std::back_inserter(out), "</{}>", name);
  }
  out += "</jobInfo>";
  return out;
}

SimResponse classicError(std::string_view code, std::string_view message, bool json) {
  SimResponse r;
  r.status = 400;
  if (json) {
    r.body = fmt::format(R"({{"exceptionCode":{},"exceptionMessage":{}}})", jsonString(code),
                         jsonString(message));
    return r;
  }
  r.contentType = "application/xml;charset=UTF-8";
  r.body =
      R"(<?xml version="1.0" encoding="UTF-8"?><error xmlns="http://www.force.com/2009/06/asyncapi/dataload"><exceptionCode>)";
  appendXmlEscaped(r.body, code);
  r.body += "</exceptionCode><exceptionMessage>";
  appendXmlEscaped(r.body, message);
  r.body += "</exceptionMessage></error>";
  return r;
}

std::string_view stateWord(JobState s) {
  switch (s) {
    case JobState::JobComplete:
      return "Completed";
    case JobState::Failed:
      return "Failed";
    case JobState::Aborted:
      return "Aborted";
    default:
      return "Active";
  }
}

}  // namespace bulkwarden::sim::render
