// Builds the body of one JSON object, key by key, in the order written, so audit records are
// deterministic and hashable. Not thread-safe (one builder per record).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bulkwarden::audit {

class Fields {
 public:
  Fields& add(std::string_view key, std::string_view value);
  Fields& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  Fields& add(std::string_view key, const std::string& value) {
    return add(key, std::string_view(value));
  }
  Fields& add(std::string_view key, int64_t value);
  Fields& add(std::string_view key, int value) { return add(key, static_cast<int64_t>(value)); }
  Fields& add(std::string_view key, bool value);
  Fields& add(std::string_view key, const Fields& object);      // a nested object
  Fields& addRaw(std::string_view key, std::string_view json);  // trusted, already-valid JSON

  // `"k":v,"k2":v2` without braces; empty when nothing was added.
  const std::string& body() const { return body_; }
  // `{"k":v,...}`.
  std::string object() const { return "{" + body_ + "}"; }
  bool empty() const { return body_.empty(); }

 private:
  void key(std::string_view k);
  std::string body_;
};

// Appends `text` as a JSON string literal (with quotes) to `out`. Invalid UTF-8 bytes are
// replaced by U+FFFD so that a record is always valid JSON, whatever Salesforce sent.
void appendJsonString(std::string& out, std::string_view text);

}  // namespace bulkwarden::audit
