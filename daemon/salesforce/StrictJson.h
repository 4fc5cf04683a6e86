// Strict JSON for what Salesforce sends: valid UTF-8 only, no duplicate keys (POCO keeps the last
// one silently), nesting bounded. A document tree for small bodies (error replies); list pages and
// jobs are mapped while they parse (JobMapping.cpp). Thread-safe: no shared state.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace bulkwarden::salesforce {

// Largest JSON nesting accepted (the real shape is about three levels; docs/reliability.md).
inline constexpr std::size_t kMaxJsonDepth = 32;

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool isValidUtf8(std::string_view s);

// The document, or why it was refused ("body is not valid UTF-8", "invalid JSON: ...").
std::variant<Poco::Dynamic::Var, std::string> parseStrictJson(std::string_view body);

// The object or array a value holds; null when it holds something else.
Poco::JSON::Object::Ptr asObject(const Poco::Dynamic::Var& v);
Poco::JSON::Array::Ptr asArray(const Poco::Dynamic::Var& v);

// A string member: "" when missing or null, nullopt when of another type.
std::optional<std::string> optionalText(const Poco::JSON::Object& o, const std::string& key);

}  // namespace bulkwarden::salesforce
