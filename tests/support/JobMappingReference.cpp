// The list-page mapping as it was before the streaming handler: POCO's document tree (the strict
// parser of salesforce/StrictJson.h, which classify() still uses), then the checks on it. Kept only
// as an oracle for fuzz_job_list_diff, which requires the streaming mapping in
// daemon/salesforce/JobMapping.cpp to give the same jobs, skip reasons and errors for every input.
// Not linked into bulkwarden.
#include "JobMappingReference.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <fmt/format.h>

#include <cmath>
#include <set>
#include <variant>
#include <vector>

namespace bulkwarden::salesforce {
namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

// apiVersion arrives as 46.0, 53 or "62.0" (docs/salesforce.md 1, 12.7).
std::optional<std::string> apiVersionText(const Object& o) {
  if (!o.has("apiVersion")) return std::string();
  Var v = o.get("apiVersion");
  if (v.isEmpty()) return std::string();
  if (v.isString()) return v.extract<std::string>();
  if (v.isBoolean()) return std::nullopt;
  try {
    if (v.isInteger()) return fmt::format("{}.0", v.convert<Poco::Int64>());
    if (v.isNumeric()) {
      double d = v.convert<double>();
      if (!std::isfinite(d) || d < 0 || d > 1e6) return std::nullopt;
      return fmt::format("{:.1f}", d);
    }
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
  return std::nullopt;
}

std::string idOf(const Object& o) {
  if (!o.has("id")) return {};
  Var v = o.get("id");
  if (!v.isString()) return {};
  std::string id = v.extract<std::string>();
  if (id.size() > 64) id.resize(64);  // a reason, not a payload
  return id;
}

// A trusted job, or the reason the record was skipped.
std::variant<model::Job, std::string> parseRecord(const Var& v, model::ResourceKind kind) {
  Object::Ptr o = asObject(v);
  if (!o) return std::string("record is not an object");

  if (!o->has("id")) return std::string("missing id");
  Var idVar = o->get("id");
  if (!idVar.isString()) return std::string("id is not a string");
  model::Job job;
  job.kind = kind;
  job.id = idVar.extract<std::string>();
  if (!isJobId(job.id)) return std::string("id is not a Bulk job id (750...)");

  auto jobType = optionalText(*o, "jobType");
  if (!jobType) return std::string("jobType is not a string");
  if (*jobType == "Classic" || *jobType == "BigObjectIngest") {
    return std::string("not a Bulk API 2.0 job");
  }
  if ((kind == model::ResourceKind::Query && *jobType == "V2Ingest") ||
      (kind == model::ResourceKind::Ingest && *jobType == "V2Query")) {
    return fmt::format("jobType {} in a {} listing", *jobType, model::resourcePath(kind));
  }
  job.jobType = std::move(*jobType);

  if (!o->has("state") || !o->get("state").isString()) return std::string("missing state");
  auto stateText = o->get("state").extract<std::string>();
  auto state = model::parseJobState(stateText);
  if (!state) return fmt::format("unknown state \"{:.40}\"", stateText);
  job.state = *state;

  if (!o->has("createdDate") || !o->get("createdDate").isString()) {
    return std::string("missing createdDate");
  }
  auto created = model::parseTimestamp(o->get("createdDate").extract<std::string>());
  if (!created) return std::string("unparsable createdDate");
  job.createdDate = *created;

  // Filters may age jobs by systemModstamp; a made-up value could make a job look old enough to
  // act on, so a record without a valid one is not trusted either.
  if (!o->has("systemModstamp") || !o->get("systemModstamp").isString()) {
    return std::string("missing systemModstamp");
  }
  auto modstamp = model::parseTimestamp(o->get("systemModstamp").extract<std::string>());
  if (!modstamp) return std::string("unparsable systemModstamp");
  job.systemModstamp = *modstamp;

  auto version = apiVersionText(*o);
  if (!version) return std::string("apiVersion is neither a number nor a string");
  job.apiVersion = std::move(*version);

  struct TextField {
    const char* name;
    std::string model::Job::*member;
  };
  static const TextField kText[] = {
      {"operation", &model::Job::operation},
      {"object", &model::Job::object},
      {"createdById", &model::Job::createdById},
      {"concurrencyMode", &model::Job::concurrencyMode},
      {"contentType", &model::Job::contentType},
      {"lineEnding", &model::Job::lineEnding},
      {"columnDelimiter", &model::Job::columnDelimiter},
  };
  for (const auto& f : kText) {
    auto text = optionalText(*o, f.name);
    if (!text) return fmt::format("{} is not a string", f.name);
    job.*(f.member) = std::move(*text);
  }
  if (auto why = overlongField(job)) return *why;
  return job;
}

}  // namespace

Result<ListPage> referenceParseJobList(std::string_view body, model::ResourceKind kind) {
  auto parsed = parseStrictJson(body);
  if (auto* why = std::get_if<std::string>(&parsed)) return malformedReply("job list: " + *why);
  Object::Ptr top = asObject(std::get<Var>(parsed));
  if (!top) return malformedReply("job list: top level is not an object");

  if (!top->has("done")) return malformedReply("job list: `done` is missing");
  Var done = top->get("done");
  if (!done.isBoolean()) return malformedReply("job list: `done` is not a boolean");

  if (!top->has("records")) return malformedReply("job list: `records` is missing");
  Array::Ptr records = asArray(top->get("records"));
  if (!records) return malformedReply("job list: `records` is not an array");

  ListPage out;
  out.done = done.extract<bool>();
  if (top->has("nextRecordsUrl")) {
    Var next = top->get("nextRecordsUrl");
    if (next.isString()) {
      out.nextRecordsUrl = next.extract<std::string>();
    } else if (!next.isEmpty()) {
      return malformedReply("job list: `nextRecordsUrl` is neither a string nor null");
    }
  }

  out.page.jobs.reserve(records->size());
  for (std::size_t i = 0; i < records->size(); ++i) {
    Var record = records->get(static_cast<unsigned>(i));
    auto r = parseRecord(record, kind);
    if (auto* job = std::get_if<model::Job>(&r)) {
      out.page.jobs.push_back(std::move(*job));
    } else {
      Object::Ptr o = asObject(record);
      out.page.skipped.push_back({o ? idOf(*o) : std::string(), std::get<std::string>(r)});
    }
  }
  return out;
}

Result<model::Job> referenceParseJob(std::string_view body, model::ResourceKind kind) {
  auto parsed = parseStrictJson(body);
  if (auto* why = std::get_if<std::string>(&parsed)) return malformedReply("job: " + *why);
  auto r = parseRecord(std::get<Var>(parsed), kind);
  if (auto* why = std::get_if<std::string>(&r)) return malformedReply("job: " + *why);
  return std::get<model::Job>(std::move(r));
}

namespace {

std::optional<std::string> jobDifference(const model::Job& a, const model::Job& b) {
  for (auto field : model::kAllJobFields) {
    if (a.text(field) != b.text(field)) {
      return fmt::format("{}: \"{}\" vs \"{}\"", model::fieldName(field), a.text(field),
                         b.text(field));
    }
  }
  if (a.kind != b.kind) return std::string("kind");
  return std::nullopt;
}

template <class T>
std::optional<std::string> refusalDifference(const Result<T>& a, const Result<T>& b) {
  if (a.ok() != b.ok()) return fmt::format("accepted: {} vs {}", a.ok(), b.ok());
  if (a.ok()) return std::nullopt;
  if (a.error().kind != b.error().kind) return std::string("error kind");
  // POCO's document builder refuses a scalar at the top level with a message of its own ("empty
  // stack"), before or instead of the parser's; refusing it is what matters.
  if (b.error().message.find("empty stack") == std::string::npos &&
      a.error().message != b.error().message) {
    return fmt::format("error: \"{}\" vs \"{}\"", a.error().message, b.error().message);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> differenceFromReference(std::string_view body,
                                                   model::ResourceKind kind) {
  auto page = parseJobList(body, kind);
  auto expected = referenceParseJobList(body, kind);
  if (auto d = refusalDifference(page, expected)) return "list " + *d;
  if (page.ok()) {
    const ListPage& a = page.value();
    const ListPage& b = expected.value();
    if (a.done != b.done) return std::string("list done");
    if (a.nextRecordsUrl != b.nextRecordsUrl) return std::string("list nextRecordsUrl");
    if (a.page.jobs.size() != b.page.jobs.size()) return std::string("list job count");
    for (size_t i = 0; i < a.page.jobs.size(); ++i) {
      if (auto d = jobDifference(a.page.jobs[i], b.page.jobs[i])) return "list job " + *d;
    }
    if (a.page.skipped.size() != b.page.skipped.size()) return std::string("skipped count");
    for (size_t i = 0; i < a.page.skipped.size(); ++i) {
      const auto& x = a.page.skipped[i];
      const auto& y = b.page.skipped[i];
      if (x.id != y.id || x.reason != y.reason) {
        return fmt::format("skipped: {} {} vs {} {}", x.id, x.reason, y.id, y.reason);
      }
    }
  }
  auto job = parseJob(body, kind);
  auto expectedJob = referenceParseJob(body, kind);
  if (auto d = refusalDifference(job, expectedJob)) return "job " + *d;
  if (job.ok()) {
    if (auto d = jobDifference(job.value(), expectedJob.value())) return "job " + *d;
  }
  return std::nullopt;
}

}  // namespace bulkwarden::salesforce
