#include "salesforce/StrictJson.h"

#include <Poco/Exception.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <fmt/format.h>

#include <set>
#include <vector>

namespace bulkwarden::salesforce {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

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

}  // namespace

bool isValidUtf8(std::string_view s) {
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

std::variant<Var, std::string> parseStrictJson(std::string_view body) {
  if (!isValidUtf8(body)) return std::string("body is not valid UTF-8");
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

std::optional<std::string> optionalText(const Object& o, const std::string& key) {
  if (!o.has(key)) return std::string();
  Var v = o.get(key);
  if (v.isEmpty()) return std::string();
  if (v.isString()) return v.extract<std::string>();
  return std::nullopt;
}

}  // namespace bulkwarden::salesforce
