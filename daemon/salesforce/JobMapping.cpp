#include "salesforce/JobMapping.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>
#include <variant>
#include <vector>

namespace bulkwarden::salesforce {
namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

// POCO keeps the last of two equal keys silently; a record with two `state`s must not be trusted,
// so the handler refuses duplicates while parsing.
class StrictHandler : public Poco::JSON::ParseHandler {
 public:
  void reset() override {
    ParseHandler::reset();
    keys_.clear();
  }
  void startObject() override {
    keys_.emplace_back();
    ParseHandler::startObject();
  }
  void endObject() override {
    if (!keys_.empty()) keys_.pop_back();
    ParseHandler::endObject();
  }
  void key(const std::string& k) override {
    if (!keys_.empty() && !keys_.back().insert(k).second) {
      throw Poco::JSON::JSONException(fmt::format("duplicate key \"{}\"", k));
    }
    ParseHandler::key(k);
  }

 private:
  std::vector<std::set<std::string>> keys_;
};

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool validUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra = 0;
    unsigned cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= extra) return false;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += extra + 1;
  }
  return true;
}

ApiError malformed(std::string message) {
  ApiError e;
  e.kind = ApiError::Kind::Malformed;
  e.message = std::move(message);
  e.sent = true;
  return e;
}

// Parses JSON strictly; returns the value or the reason it was refused.
std::variant<Var, std::string> parseJson(std::string_view body) {
  if (!validUtf8(body)) return std::string("body is not valid UTF-8");
  try {
    Poco::JSON::Parser parser(new StrictHandler);
    parser.setDepth(kMaxJsonDepth);
    return parser.parse(std::string(body));
  } catch (const Poco::Exception& e) {
    return fmt::format("invalid JSON: {}", e.displayText());
  } catch (const std::exception& e) {
    return fmt::format("invalid JSON: {}", e.what());
  }
}

Object::Ptr asObject(const Var& v) {
  if (v.type() == typeid(Object::Ptr)) return v.extract<Object::Ptr>();
  return nullptr;
}

Array::Ptr asArray(const Var& v) {
  if (v.type() == typeid(Array::Ptr)) return v.extract<Array::Ptr>();
  return nullptr;
}

// A string member, "" when missing or null, nullopt when of another type.
std::optional<std::string> optionalText(const Object& o, const std::string& key) {
  if (!o.has(key)) return std::string();
  Var v = o.get(key);
  if (v.isEmpty()) return std::string();
  if (v.isString()) return v.extract<std::string>();
  return std::nullopt;
}

// apiVersion arrives as 46.0, 53 or "62.0" (BULK_API.md 1, 12.7).
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
  return job;
}

std::string upperNoUnderscore(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '_') continue;
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

bool containsNoCase(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

// Cuts to at most `max` bytes without splitting a UTF-8 sequence.
std::string truncateUtf8(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  s += "...";
  return s;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

bool isJobId(std::string_view id) {
  if (id.size() < 15 || id.size() > 18 || id.substr(0, 3) != "750") return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

Result<ListPage> parseJobList(std::string_view body, model::ResourceKind kind) {
  auto parsed = parseJson(body);
  if (auto* why = std::get_if<std::string>(&parsed)) return malformed("job list: " + *why);
  Object::Ptr top = asObject(std::get<Var>(parsed));
  if (!top) return malformed("job list: top level is not an object");

  if (!top->has("done")) return malformed("job list: `done` is missing");
  Var done = top->get("done");
  if (!done.isBoolean()) return malformed("job list: `done` is not a boolean");

  if (!top->has("records")) return malformed("job list: `records` is missing");
  Array::Ptr records = asArray(top->get("records"));
  if (!records) return malformed("job list: `records` is not an array");

  ListPage out;
  out.done = done.extract<bool>();
  if (top->has("nextRecordsUrl")) {
    Var next = top->get("nextRecordsUrl");
    if (next.isString()) {
      out.nextRecordsUrl = next.extract<std::string>();
    } else if (!next.isEmpty()) {
      return malformed("job list: `nextRecordsUrl` is neither a string nor null");
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

Result<model::Job> parseJob(std::string_view body, model::ResourceKind kind) {
  auto parsed = parseJson(body);
  if (auto* why = std::get_if<std::string>(&parsed)) return malformed("job: " + *why);
  auto r = parseRecord(std::get<Var>(parsed), kind);
  if (auto* why = std::get_if<std::string>(&r)) return malformed("job: " + *why);
  return std::get<model::Job>(std::move(r));
}

std::optional<std::string> parseReplyState(std::string_view body) {
  auto parsed = parseJson(body);
  if (!std::holds_alternative<Var>(parsed)) return std::nullopt;
  Object::Ptr o = asObject(std::get<Var>(parsed));
  if (!o || !o->has("state") || !o->get("state").isString()) return std::nullopt;
  return o->get("state").extract<std::string>();
}

ApiError classify(int status, std::string_view body) {
  ApiError e;
  e.http = status;
  e.sent = true;

  std::string trimmed(trim(body));
  if (trimmed.empty()) {
    // Nothing to keep.
  } else if (auto parsed = parseJson(trimmed); std::holds_alternative<Var>(parsed)) {
    Var v = std::get<Var>(parsed);
    Object::Ptr o;
    if (Array::Ptr a = asArray(v); a && a->size() > 0) {
      o = asObject(a->get(0));
    } else {
      o = asObject(v);
    }
    if (o) {
      auto code = optionalText(*o, "errorCode");
      auto message = optionalText(*o, "message");
      if (code && !code->empty()) {
        e.code = *code;
        e.message = message ? *message : std::string();
      } else if (auto oauth = optionalText(*o, "error"); oauth && !oauth->empty()) {
        e.code = *oauth;
        auto desc = optionalText(*o, "error_description");
        e.message = desc ? *desc : std::string();
      } else if (message) {
        e.message = *message;
      }
    }
    if (e.code.empty() && e.message.empty()) {
      e.message = fmt::format("error body without errorCode ({} bytes)", body.size());
    }
  } else {
    e.message = fmt::format("non-JSON error body ({} bytes)", body.size());
  }
  e.code = truncateUtf8(e.code, 100);
  e.message = truncateUtf8(e.message, kMaxErrorMessage);

  const std::string code = upperNoUnderscore(e.code);
  using K = ApiError::Kind;
  if (status == 401) {
    e.kind = K::Unauthorized;
  } else if (status == 429 || (status == 403 && code == "REQUESTLIMITEXCEEDED")) {
    e.kind = K::LimitExceeded;
  } else if (status == 404 || (status == 400 && code == "NOTFOUND")) {
    e.kind = K::NotFound;
  } else if (status == 400 && code == "INVALIDJOBSTATE") {
    e.kind = K::InvalidState;
  } else if (status == 400 && code == "APIERROR" && containsNoCase(e.message, "not terminated")) {
    e.kind = K::InvalidState;
  } else if ((status >= 500 && status <= 599) || status == 406 || status == 420) {
    e.kind = K::Transient;
  } else {
    e.kind = K::Permanent;
  }
  return e;
}

std::optional<ApiUsage> parseLimitInfo(std::string_view header) {
  while (!header.empty()) {
    auto semi = header.find(';');
    std::string_view part = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    constexpr std::string_view kKey = "api-usage=";
    if (part.substr(0, kKey.size()) != kKey) continue;
    part.remove_prefix(kKey.size());
    auto slash = part.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    ApiUsage u;
    auto used = part.substr(0, slash);
    auto max = part.substr(slash + 1);
    auto r1 = std::from_chars(used.data(), used.data() + used.size(), u.used);
    auto r2 = std::from_chars(max.data(), max.data() + max.size(), u.max);
    if (used.empty() || max.empty() || r1.ec != std::errc() || r2.ec != std::errc() ||
        r1.ptr != used.data() + used.size() || r2.ptr != max.data() + max.size() || u.used < 0 ||
        u.max <= 0) {
      return std::nullopt;
    }
    return u;
  }
  return std::nullopt;
}

}  // namespace bulkwarden::salesforce
