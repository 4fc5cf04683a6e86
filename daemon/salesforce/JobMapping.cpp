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
#include <map>
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
// An empty reason: a record of the listing that belongs to the other resource (a 1.0 job of the
// other kind in a Classic listing): dropped without a warning.
std::variant<model::Job, std::string> toJob(std::array<Value, kRecordSlots>& f,
                                            model::ResourceKind kind, Listing listing) {
  if (f[kId].type == Value::Type::Missing) return std::string("missing id");
  if (f[kId].type != Value::Type::String) return std::string("id is not a string");
  if (!isJobId(f[kId].text)) return std::string("id is not a Bulk job id (750...)");

  auto jobType = optionalText(f[kJobType]);
  if (!jobType) return std::string("jobType is not a string");
  if (listing == Listing::Classic) {
    if (*jobType != "Classic") {
      return fmt::format("jobType \"{:.40}\" in a Classic listing", *jobType);
    }
  } else if (*jobType == "Classic" || *jobType == "BigObjectIngest") {
    return std::string("not a Bulk API 2.0 job");
  } else if ((kind == model::ResourceKind::Query && *jobType == "V2Ingest") ||
             (kind == model::ResourceKind::Ingest && *jobType == "V2Query")) {
    return fmt::format("jobType {} in a {} listing", *jobType, model::resourcePath(kind));
  }

  if (f[kState].type != Value::Type::String) return std::string("missing state");
  // Which names a 1.0 job carries in the 2.0 lists is undocumented: its 1.0 names are accepted
  // as well as the 2.0 ones (docs/salesforce.md 14.6).
  auto state = listing == Listing::Classic ? classicJobState(f[kState].text)
                                           : model::parseJobState(f[kState].text);
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
  // /jobs/query and /jobs/ingest both list every 1.0 job with jobType=Classic: each listing
  // keeps its own kind, told by the operation, so that a job is governed by one resource.
  if (listing == Listing::Classic && classicKind(job.operation) != kind) return std::string();
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

  JobStreamHandler(Shape shape, model::ResourceKind kind, Listing listing = Listing::V2)
      : shape_(shape), kind_(kind), listing_(listing) {}

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
    auto r = toJob(fields_, kind_, listing_);
    if (shape_ == Shape::SingleJob) {
      single = std::move(r);
    } else if (auto* job = std::get_if<model::Job>(&r)) {
      page.jobs.push_back(std::move(*job));
    } else if (std::get<std::string>(r).empty()) {
      // the other resource's 1.0 job: its own listing governs it
    } else {
      std::string id;
      if (fields_[kId].type == Value::Type::String) id = fields_[kId].text.substr(0, 64);
      page.skipped.push_back({std::move(id), std::get<std::string>(std::move(r))});
    }
  }

  Shape shape_;
  model::ResourceKind kind_;
  Listing listing_;
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

Result<ListPage> parseJobList(std::string_view body, model::ResourceKind kind, Listing listing) {
  Poco::SharedPtr<JobStreamHandler> handler =
      new JobStreamHandler(JobStreamHandler::Shape::ListPage, kind, listing);
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
  } else if (status == 403 && code == "REQUESTLIMITEXCEEDED") {
    e.kind = K::LimitExceeded;
  } else if (status == 404 || (status == 400 && code == "NOTFOUND")) {
    e.kind = K::NotFound;
  } else if (status == 400 && code == "INVALIDJOBSTATE") {
    e.kind = K::InvalidState;
  } else if (status == 400 && code == "APIERROR" && containsNoCase(e.message, "not terminated")) {
    e.kind = K::InvalidState;
  } else if ((status >= 500 && status <= 599) || status == 406 || status == 420 || status == 429) {
    // 429: the request was throttled, not processed; undocumented for REST, and no sign of the
    // daily allowance (that is 403 TotalRequests): retried after Retry-After, never a pause.
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

model::ResourceKind classicKind(std::string_view operation) {
  return operation == "query" || operation == "queryAll" ? model::ResourceKind::Query
                                                         : model::ResourceKind::Ingest;
}

std::optional<model::JobState> classicJobState(std::string_view name) {
  if (name == "Closed") return model::JobState::UploadComplete;
  return model::parseJobState(name);
}

namespace {

// A flat XML element as the 1.0 API writes it: the root's name and its children's text.
struct FlatXml {
  std::string root;
  std::map<std::string, std::string, std::less<>> children;
};

constexpr std::size_t kMaxXmlChildren = 100;

bool isXmlNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool isXmlNameChar(char c) {
  return isXmlNameStart(c) || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':';
}

// The flat element, or why it was refused. Only what the 1.0 API sends is accepted: an optional
// `<?xml ...?>` declaration, one root element with quoted attributes (xmlns), children that hold
// text only, and the five predefined and numeric character references. No `<!` construct at all
// (a DTD could declare entities that expand without bound), no nesting, no duplicate child.
std::variant<FlatXml, std::string> parseFlatXml(std::string_view in) {
  std::size_t pos = 0;
  auto ws = [&] {
    while (pos < in.size() &&
           (in[pos] == ' ' || in[pos] == '\t' || in[pos] == '\n' || in[pos] == '\r')) {
      ++pos;
    }
  };
  auto name = [&]() -> std::optional<std::string> {
    if (pos >= in.size() || !isXmlNameStart(in[pos])) return std::nullopt;
    std::size_t start = pos;
    while (pos < in.size() && isXmlNameChar(in[pos]) && pos - start < 100) ++pos;
    if (pos < in.size() && isXmlNameChar(in[pos])) return std::nullopt;  // over 100 bytes
    return std::string(in.substr(start, pos - start));
  };
  if (in.find("<!") != std::string_view::npos) {
    return std::string("a DTD, comment or CDATA section");
  }
  ws();
  if (in.substr(pos, 5) == "<?xml") {
    auto end = in.find("?>", pos);
    if (end == std::string_view::npos || end - pos > 200 ||
        in.substr(pos + 2, end - pos - 2).find('<') != std::string_view::npos) {
      return std::string("a bad XML declaration");
    }
    pos = end + 2;
    ws();
  }
  if (pos >= in.size() || in[pos] != '<') return std::string("no root element");
  ++pos;
  FlatXml out;
  auto root = name();
  if (!root) return std::string("a bad root element name");
  out.root = *root;
  // Attributes: name="value" or name='value', values without < or &.
  for (int n = 0;; ++n) {
    ws();
    if (pos < in.size() && in[pos] == '>') {
      ++pos;
      break;
    }
    if (n >= 8) return std::string("too many attributes");
    if (!name()) return std::string("a bad attribute");
    ws();
    if (pos >= in.size() || in[pos] != '=') return std::string("a bad attribute");
    ++pos;
    ws();
    if (pos >= in.size() || (in[pos] != '"' && in[pos] != '\'')) {
      return std::string("an unquoted attribute");
    }
    const char quote = in[pos++];
    auto end = in.find(quote, pos);
    if (end == std::string_view::npos ||
        in.substr(pos, end - pos).find_first_of("<&") != std::string_view::npos) {
      return std::string("a bad attribute value");
    }
    pos = end + 1;
  }
  auto text = [&](std::string& into) -> std::optional<std::string> {
    while (pos < in.size() && in[pos] != '<') {
      if (in[pos] != '&') {
        into.push_back(in[pos++]);
        continue;
      }
      auto semi = in.find(';', pos);
      if (semi == std::string_view::npos || semi - pos > 10) return std::string("a bad reference");
      std::string_view ref = in.substr(pos + 1, semi - pos - 1);
      pos = semi + 1;
      if (ref == "amp") {
        into.push_back('&');
      } else if (ref == "lt") {
        into.push_back('<');
      } else if (ref == "gt") {
        into.push_back('>');
      } else if (ref == "quot") {
        into.push_back('"');
      } else if (ref == "apos") {
        into.push_back('\'');
      } else if (ref.size() >= 2 && ref[0] == '#') {
        const bool hex = ref[1] == 'x';
        std::string_view digits = ref.substr(hex ? 2 : 1);
        uint32_t cp = 0;
        auto [p, ec] =
            std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
        if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() ||
            cp < 0x20 || cp > 0x7e) {
          // Only printable ASCII: what a job field holds; anything else is not worth decoding.
          return std::string("an unexpected character reference");
        }
        into.push_back(static_cast<char>(cp));
      } else {
        return fmt::format("an undeclared entity &{:.10};", ref);
      }
    }
    return std::nullopt;
  };
  while (true) {
    ws();
    if (pos + 1 >= in.size() || in[pos] != '<') return std::string("unterminated root element");
    ++pos;
    if (in[pos] == '/') {
      ++pos;
      auto closing = name();
      if (!closing || *closing != out.root) return std::string("a mismatched closing tag");
      ws();
      if (pos >= in.size() || in[pos] != '>') return std::string("a bad closing tag");
      ++pos;
      ws();
      if (pos != in.size()) return std::string("content after the root element");
      return out;
    }
    auto child = name();
    if (!child) return std::string("a bad element name");
    ws();
    std::string value;
    if (in.substr(pos, 2) == "/>") {
      pos += 2;  // <name/>: empty text
    } else {
      if (pos >= in.size() || in[pos] != '>') return std::string("attributes on a child element");
      ++pos;
      if (auto why = text(value)) return *why;
      if (in.substr(pos, 2) != "</") return std::string("a nested element");
      pos += 2;
      auto closing = name();
      if (!closing || *closing != *child) return std::string("a mismatched closing tag");
      ws();
      if (pos >= in.size() || in[pos] != '>') return std::string("a bad closing tag");
      ++pos;
    }
    if (out.children.size() >= kMaxXmlChildren) return std::string("too many elements");
    if (!out.children.emplace(*child, std::move(value)).second) {
      return fmt::format("a duplicate element <{}>", *child);
    }
  }
}

// The 1.0 reply's fields as text, from JSON or XML, or why the body was refused. `root` is the
// XML root element expected (jobInfo, error).
std::variant<std::map<std::string, std::string, std::less<>>, std::string> classicFields(
    std::string_view body, std::string_view root) {
  if (body.size() > kMaxClassicReply) {
    return fmt::format("{} bytes, over the {} accepted", body.size(), kMaxClassicReply);
  }
  if (!isValidUtf8(body)) return std::string("body is not valid UTF-8");
  std::string_view t = trim(body);
  std::map<std::string, std::string, std::less<>> out;
  if (!t.empty() && t.front() == '<') {
    auto xml = parseFlatXml(t);
    if (auto* why = std::get_if<std::string>(&xml)) return "XML with " + *why;
    auto& flat = std::get<FlatXml>(xml);
    if (flat.root != root) return fmt::format("XML root <{:.40}>, not <{}>", flat.root, root);
    return std::move(flat.children);
  }
  auto parsed = parseStrictJson(t);
  if (auto* why = std::get_if<std::string>(&parsed)) return *why;
  Object::Ptr o = asObject(std::get<Var>(parsed));
  if (!o) return std::string("not a JSON object");
  for (const auto& [key, value] : *o) {
    if (value.isString()) {
      out.emplace(key, value.extract<std::string>());
    } else if (value.isNumeric() || value.isBoolean()) {
      out.emplace(key, value.convert<std::string>());
    } else if (!value.isEmpty()) {
      return fmt::format("`{:.40}` is neither text nor a number", key);
    }
  }
  return out;
}

}  // namespace

Result<model::Job> parseClassicJob(std::string_view body) {
  auto fields = classicFields(body, "jobInfo");
  if (auto* why = std::get_if<std::string>(&fields)) return malformedReply("1.0 job: " + *why);
  auto& f = std::get<0>(fields);
  auto get = [&f](std::string_view key) -> std::string {
    auto it = f.find(key);
    return it == f.end() ? std::string() : it->second;
  };
  model::Job job;
  job.id = get("id");
  if (!isJobId(job.id)) return malformedReply("1.0 job: missing or bad id");
  auto state = classicJobState(get("state"));
  if (!state) return malformedReply(fmt::format("1.0 job: unknown state \"{:.40}\"", get("state")));
  job.state = *state;
  if (get("state") == "Closed") {
    // Closed says only that no batch can be added; the JobInfo's batch counters tell whether
    // any is still queued or running. With none, the job is finished: an abort now is refused
    // for its state, and a read must say so rather than "still running".
    auto count = [&get](std::string_view key) -> std::optional<int64_t> {
      std::string text = get(key);
      int64_t n = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (text.empty() || ec != std::errc() || p != text.data() + text.size() || n < 0) {
        return std::nullopt;
      }
      return n;
    };
    auto queued = count("numberBatchesQueued");
    auto running = count("numberBatchesInProgress");
    if (running && *running > 0) {
      job.state = model::JobState::InProgress;
    } else if (queued && running && *queued == 0) {
      job.state = model::JobState::JobComplete;
    }
  }
  auto created = model::parseTimestamp(get("createdDate"));
  auto modstamp = model::parseTimestamp(get("systemModstamp"));
  if (!created || !modstamp)
    return malformedReply("1.0 job: missing or bad createdDate/systemModstamp");
  job.createdDate = *created;
  job.systemModstamp = *modstamp;
  job.jobType = "Classic";
  job.operation = get("operation");
  job.object = get("object");
  job.createdById = get("createdById");
  job.concurrencyMode = get("concurrencyMode");
  job.contentType = get("contentType");
  job.apiVersion = get("apiVersion");
  job.kind = classicKind(job.operation);
  if (auto why = overlongField(job)) return malformedReply("1.0 job: " + *why);
  return job;
}

ApiError classifyClassic(int status, std::string_view body) {
  auto fields = classicFields(body, "error");
  const auto* f = std::get_if<0>(&fields);
  if (f == nullptr || f->find("exceptionCode") == f->end()) {
    // Not a 1.0 error: an edge proxy's page, a 2.0-shaped array, an empty 5xx...
    ApiError e = classify(status, body.size() > kMaxClassicReply ? std::string_view() : body);
    if (e.kind == ApiError::Kind::Permanent && status == 400 && f == nullptr &&
        !trim(body).empty()) {
      e.message = fmt::format("unreadable 1.0 error body ({} bytes)", body.size());
    }
    return e;
  }
  ApiError e;
  e.http = status;
  e.sent = true;
  e.code = truncateUtf8(f->at("exceptionCode"), 100);
  if (auto m = f->find("exceptionMessage"); m != f->end()) {
    e.message = truncateUtf8(m->second, kMaxErrorMessage);
  }
  const std::string code = upperNoUnderscore(e.code);
  using K = ApiError::Kind;
  if (status == 401 || code == "INVALIDSESSIONID") {
    e.kind = K::Unauthorized;  // 1.0 says so with a 400, not a 401
  } else if (code == "INVALIDJOBSTATE") {
    e.kind = K::InvalidState;
  } else if (code == "INVALIDJOB" && (containsNoCase(e.message, "unable to find") ||
                                      containsNoCase(e.message, "not found"))) {
    e.kind = K::NotFound;
  } else if (code == "EXCEEDEDQUOTA" || (status == 403 && code == "REQUESTLIMITEXCEEDED")) {
    e.kind = K::LimitExceeded;
  } else if ((status >= 500 && status <= 599) || status == 406 || status == 420 || status == 429) {
    e.kind = K::Transient;
  } else if (status == 404) {
    e.kind = K::NotFound;
  } else {
    e.kind = K::Permanent;  // InvalidUser among them: isPermissionRefusal tells it apart
  }
  return e;
}

}  // namespace bulkwarden::salesforce
