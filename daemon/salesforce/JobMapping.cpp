#include "salesforce/JobMapping.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Handler.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <variant>
#include <vector>

namespace bulkwarden::salesforce {
namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

// The keys the mapping reads: a list record's fields (docs/salesforce.md 4) in the order they are
// checked, then the list page's own keys. Any other key is carried over and ignored.
enum Slot : uint8_t {
  kId,
  kJobType,
  kState,
  kCreatedDate,
  kSystemModstamp,
  kApiVersion,
  kOperation,
  kObject,
  kCreatedById,
  kConcurrencyMode,
  kContentType,
  kLineEnding,
  kColumnDelimiter,
  kRecordSlots,
  kDone = kRecordSlots,
  kRecords,
  kNextRecordsUrl,
  kSlots,
  kOther = kSlots,
};
constexpr std::array<std::string_view, kSlots> kSlotNames = {"id",
                                                             "jobType",
                                                             "state",
                                                             "createdDate",
                                                             "systemModstamp",
                                                             "apiVersion",
                                                             "operation",
                                                             "object",
                                                             "createdById",
                                                             "concurrencyMode",
                                                             "contentType",
                                                             "lineEnding",
                                                             "columnDelimiter",
                                                             "done",
                                                             "records",
                                                             "nextRecordsUrl"};

Slot slotOf(std::string_view key, Slot first, Slot last) {
  for (int i = first; i < last; ++i) {
    if (kSlotNames[i] == key) return static_cast<Slot>(i);
  }
  return kOther;
}

// One JSON value as the mapping needs it: its type, and its text or number.
struct Value {
  enum class Type : uint8_t { Missing, Null, String, Bool, Integer, Unsigned, Double, Container };
  Type type = Type::Missing;
  std::string text;  // String (the buffer is reused from record to record)
  bool flag = false;
  int64_t integer = 0;
  uint64_t unsignedInteger = 0;
  double real = 0;
};

// A string member: "" when missing or null, nullopt when of another type.
std::optional<std::string> optionalText(Value& v) {
  if (v.type == Value::Type::Missing || v.type == Value::Type::Null) return std::string();
  if (v.type == Value::Type::String) return std::move(v.text);
  return std::nullopt;
}

// apiVersion arrives as 46.0, 53 or "62.0" (docs/salesforce.md 1, 12.7).
std::optional<std::string> apiVersionText(Value& v) {
  switch (v.type) {
    case Value::Type::Missing:
    case Value::Type::Null:
      return std::string();
    case Value::Type::String:
      return std::move(v.text);
    case Value::Type::Integer:
      return fmt::format("{}.0", v.integer);
    case Value::Type::Unsigned:
      if (v.unsignedInteger > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) break;
      return fmt::format("{}.0", v.unsignedInteger);
    case Value::Type::Double:
      if (!std::isfinite(v.real) || v.real < 0 || v.real > 1e6) break;
      return fmt::format("{:.1f}", v.real);
    default:
      break;
  }
  return std::nullopt;
}

// A trusted job from one record's fields, or the reason the record was skipped. Consumes the
// fields' text.
std::variant<model::Job, std::string> toJob(std::array<Value, kRecordSlots>& f,
                                            model::ResourceKind kind) {
  if (f[kId].type == Value::Type::Missing) return std::string("missing id");
  if (f[kId].type != Value::Type::String) return std::string("id is not a string");
  if (!isJobId(f[kId].text)) return std::string("id is not a Bulk job id (750...)");

  auto jobType = optionalText(f[kJobType]);
  if (!jobType) return std::string("jobType is not a string");
  if (*jobType == "Classic" || *jobType == "BigObjectIngest") {
    return std::string("not a Bulk API 2.0 job");
  }
  if ((kind == model::ResourceKind::Query && *jobType == "V2Ingest") ||
      (kind == model::ResourceKind::Ingest && *jobType == "V2Query")) {
    return fmt::format("jobType {} in a {} listing", *jobType, model::resourcePath(kind));
  }

  if (f[kState].type != Value::Type::String) return std::string("missing state");
  auto state = model::parseJobState(f[kState].text);
  if (!state) return fmt::format("unknown state \"{:.40}\"", f[kState].text);

  if (f[kCreatedDate].type != Value::Type::String) return std::string("missing createdDate");
  auto created = model::parseTimestamp(f[kCreatedDate].text);
  if (!created) return std::string("unparsable createdDate");

  // Filters may age jobs by systemModstamp; a made-up value could make a job look old enough to
  // act on, so a record without a valid one is not trusted either.
  if (f[kSystemModstamp].type != Value::Type::String) return std::string("missing systemModstamp");
  auto modstamp = model::parseTimestamp(f[kSystemModstamp].text);
  if (!modstamp) return std::string("unparsable systemModstamp");

  auto version = apiVersionText(f[kApiVersion]);
  if (!version) return std::string("apiVersion is neither a number nor a string");

  model::Job job;
  job.kind = kind;
  job.jobType = std::move(*jobType);
  job.state = *state;
  job.createdDate = *created;
  job.systemModstamp = *modstamp;
  job.apiVersion = std::move(*version);

  struct TextField {
    Slot slot;
    std::string model::Job::*member;
  };
  static constexpr TextField kText[] = {
      {kOperation, &model::Job::operation},
      {kObject, &model::Job::object},
      {kCreatedById, &model::Job::createdById},
      {kConcurrencyMode, &model::Job::concurrencyMode},
      {kContentType, &model::Job::contentType},
      {kLineEnding, &model::Job::lineEnding},
      {kColumnDelimiter, &model::Job::columnDelimiter},
  };
  for (const auto& t : kText) {
    auto text = optionalText(f[t.slot]);
    if (!text) return fmt::format("{} is not a string", kSlotNames[t.slot]);
    job.*(t.member) = std::move(*text);
  }
  if (auto why = overlongField(job)) return std::move(*why);
  job.id = std::move(f[kId].text);  // last: a skipped record is reported with its id
  return job;
}

// Maps a list page (or one job) while POCO's parser reads it: no document tree, one record's
// fields at a time. Refuses duplicate keys in any object, as StrictHandler does. What does not
// fit the expected shape is noted and reported once the whole body has parsed, so that invalid
// JSON anywhere is reported as such first.
class JobStreamHandler : public Poco::JSON::Handler {
 public:
  enum class Shape { ListPage, SingleJob };

  JobStreamHandler(Shape shape, model::ResourceKind kind) : shape_(shape), kind_(kind) {}

  // What was found, once parse() returned.
  bool topIsObject = false;
  bool recordsIsArray = false;
  Value done;
  Value records;
  Value nextRecordsUrl;
  Page page;
  std::optional<std::variant<model::Job, std::string>> single;  // SingleJob: the record, if any
  std::optional<std::string> state;  // SingleJob: the record's `state`, valid record or not

  void reset() override {}
  void startObject() override { open(true); }
  void endObject() override { close(); }
  void startArray() override { open(false); }
  void endArray() override { close(); }

  void key(const std::string& k) override {
    Frame& f = frames_.back();
    Slot slot = kOther;
    if (f.kind == Frame::Kind::Top) slot = slotOf(k, kDone, kSlots);
    if (f.kind == Frame::Kind::Record) slot = slotOf(k, kId, kRecordSlots);
    bool fresh = slot == kOther ? f.otherKeys.insert(k).second : !(f.seen & (1u << slot));
    if (!fresh) throw Poco::JSON::JSONException(fmt::format("duplicate key \"{}\"", k));
    if (slot != kOther) f.seen |= 1u << slot;
    f.pending = slot;
  }

  void null() override { scalar(Value::Type::Null); }
  void value(bool b) override { scalar(Value::Type::Bool).flag = b; }
  void value(int v) override { scalar(Value::Type::Integer).integer = v; }
  void value(unsigned v) override { scalar(Value::Type::Integer).integer = v; }
  void value(Poco::Int64 v) override { scalar(Value::Type::Integer).integer = v; }
  void value(Poco::UInt64 v) override { scalar(Value::Type::Unsigned).unsignedInteger = v; }
  void value(double d) override { scalar(Value::Type::Double).real = d; }
  void value(const std::string& s) override { scalar(Value::Type::String).text = s; }

 private:
  struct Frame {
    enum class Kind : uint8_t { Top, Records, Record, Ignored };
    Kind kind = Kind::Ignored;
    uint32_t seen = 0;                // the known keys met so far (1 << Slot)
    std::set<std::string> otherKeys;  // every other key met so far
    Slot pending = kOther;            // the key whose value comes next
  };

  // Where a value that starts now goes: a field of the current record, a key of the page, or
  // nowhere (scratch).
  Value* slotForValue(Value::Type type) {
    if (frames_.empty()) return &scratch_;  // the top level: opened by open()
    Frame& f = frames_.back();
    switch (f.kind) {
      case Frame::Kind::Top:
        if (f.pending == kDone) return &done;
        if (f.pending == kRecords) return &records;
        if (f.pending == kNextRecordsUrl) return &nextRecordsUrl;
        return &scratch_;
      case Frame::Kind::Record:
        return f.pending == kOther ? &scratch_ : &fields_[f.pending];
      case Frame::Kind::Records:
        if (type != Value::Type::Container) {
          page.skipped.push_back({std::string(), "record is not an object"});
        }
        return &scratch_;
      case Frame::Kind::Ignored:
        return &scratch_;
    }
    return &scratch_;
  }

  Value& scalar(Value::Type type) {
    if (frames_.empty() && shape_ == Shape::SingleJob) {
      single = std::string("record is not an object");
    }
    Value* v = slotForValue(type);
    v->type = type;
    return *v;
  }

  void open(bool object) {
    Frame::Kind kind = Frame::Kind::Ignored;
    if (frames_.empty()) {
      if (object && shape_ == Shape::ListPage) {
        topIsObject = true;
        kind = Frame::Kind::Top;
      } else if (object) {
        kind = Frame::Kind::Record;
      } else if (shape_ == Shape::SingleJob) {
        single = std::string("record is not an object");
      }
    } else {
      Frame& parent = frames_.back();
      Value* v = slotForValue(Value::Type::Container);
      v->type = Value::Type::Container;
      if (parent.kind == Frame::Kind::Top && parent.pending == kRecords && !object) {
        recordsIsArray = true;
        kind = Frame::Kind::Records;
      } else if (parent.kind == Frame::Kind::Records) {
        if (object) {
          kind = Frame::Kind::Record;
        } else {
          page.skipped.push_back({std::string(), "record is not an object"});
        }
      }
    }
    if (kind == Frame::Kind::Record) {
      for (auto& f : fields_) f.type = Value::Type::Missing;
    }
    frames_.emplace_back().kind = kind;
  }

  void close() {
    if (frames_.empty()) return;  // the parser reports the imbalance
    Frame::Kind kind = frames_.back().kind;
    frames_.pop_back();
    if (kind != Frame::Kind::Record) return;
    if (shape_ == Shape::SingleJob && fields_[kState].type == Value::Type::String) {
      state = fields_[kState].text;
    }
    auto r = toJob(fields_, kind_);
    if (shape_ == Shape::SingleJob) {
      single = std::move(r);
    } else if (auto* job = std::get_if<model::Job>(&r)) {
      page.jobs.push_back(std::move(*job));
    } else {
      std::string id;
      if (fields_[kId].type == Value::Type::String) id = fields_[kId].text.substr(0, 64);
      page.skipped.push_back({std::move(id), std::get<std::string>(std::move(r))});
    }
  }

  Shape shape_;
  model::ResourceKind kind_;
  std::vector<Frame> frames_;
  std::array<Value, kRecordSlots> fields_;
  Value scratch_;
};

// Runs POCO's parser over `body` with `handler`; the reason it was refused, if it was.
std::optional<std::string> stream(std::string_view body, const Poco::JSON::Handler::Ptr& handler) {
  if (!isValidUtf8(body)) return std::string("body is not valid UTF-8");
  try {
    Poco::JSON::Parser parser(handler);
    parser.setDepth(kMaxJsonDepth);
    parser.parse(std::string(body));
    return std::nullopt;
  } catch (const Poco::Exception& e) {
    return fmt::format("invalid JSON: {}", e.displayText());
  } catch (const std::exception& e) {
    return fmt::format("invalid JSON: {}", e.what());
  }
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

std::optional<std::string> overlongField(const model::Job& job) {
  // Every regex and every log line that reads a field costs in its length: a value no real org
  // sends is refused here, once, rather than carried through the pass.
  struct Cap {
    std::string_view name;
    const std::string model::Job::*member;
    std::size_t max;
  };
  static constexpr Cap kCaps[] = {
      {"jobType", &model::Job::jobType, kMaxCodeField},
      {"apiVersion", &model::Job::apiVersion, kMaxCodeField},
      {"operation", &model::Job::operation, kMaxCodeField},
      {"object", &model::Job::object, kMaxNameField},
      {"createdById", &model::Job::createdById, kMaxIdField},
      {"concurrencyMode", &model::Job::concurrencyMode, kMaxCodeField},
      {"contentType", &model::Job::contentType, kMaxCodeField},
      {"lineEnding", &model::Job::lineEnding, kMaxCodeField},
      {"columnDelimiter", &model::Job::columnDelimiter, kMaxCodeField},
  };
  for (const Cap& c : kCaps) {
    std::size_t size = (job.*(c.member)).size();
    if (size > c.max) return fmt::format("{} is {} bytes, over {}", c.name, size, c.max);
  }
  return std::nullopt;
}

bool isJobId(std::string_view id) {
  if (id.size() < 15 || id.size() > 18 || id.substr(0, 3) != "750") return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

Result<ListPage> parseJobList(std::string_view body, model::ResourceKind kind) {
  Poco::SharedPtr<JobStreamHandler> handler =
      new JobStreamHandler(JobStreamHandler::Shape::ListPage, kind);
  if (auto why = stream(body, handler)) return malformedReply("job list: " + *why);
  JobStreamHandler& h = *handler;
  if (!h.topIsObject) return malformedReply("job list: top level is not an object");
  if (h.done.type == Value::Type::Missing) return malformedReply("job list: `done` is missing");
  if (h.done.type != Value::Type::Bool) return malformedReply("job list: `done` is not a boolean");
  if (h.records.type == Value::Type::Missing)
    return malformedReply("job list: `records` is missing");
  if (h.records.type != Value::Type::Container || !h.recordsIsArray) {
    return malformedReply("job list: `records` is not an array");
  }
  ListPage out;
  out.done = h.done.flag;
  if (h.nextRecordsUrl.type == Value::Type::String) {
    out.nextRecordsUrl = std::move(h.nextRecordsUrl.text);
  } else if (h.nextRecordsUrl.type != Value::Type::Missing &&
             h.nextRecordsUrl.type != Value::Type::Null) {
    return malformedReply("job list: `nextRecordsUrl` is neither a string nor null");
  }
  out.page = std::move(h.page);
  return out;
}

Result<model::Job> parseJob(std::string_view body, model::ResourceKind kind) {
  Poco::SharedPtr<JobStreamHandler> handler =
      new JobStreamHandler(JobStreamHandler::Shape::SingleJob, kind);
  if (auto why = stream(body, handler)) return malformedReply("job: " + *why);
  if (!handler->single) return malformedReply("job: record is not an object");
  if (auto* why = std::get_if<std::string>(&*handler->single))
    return malformedReply("job: " + *why);
  return std::get<model::Job>(std::move(*handler->single));
}

std::optional<std::string> parseReplyState(std::string_view body) {
  // The reply is a short JobInfo; the job kind does not matter for its state.
  Poco::SharedPtr<JobStreamHandler> handler =
      new JobStreamHandler(JobStreamHandler::Shape::SingleJob, model::ResourceKind::Query);
  if (stream(body, handler)) return std::nullopt;
  return handler->state;
}

ApiError classify(int status, std::string_view body) {
  ApiError e;
  e.http = status;
  e.sent = true;

  std::string trimmed(trim(body));
  if (trimmed.empty()) {
    // Nothing to keep.
  } else if (auto parsed = parseStrictJson(trimmed); std::holds_alternative<Var>(parsed)) {
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
