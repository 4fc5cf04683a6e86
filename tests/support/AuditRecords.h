// Reads an audit trail in tests through the daemon's own reader (audit/Records.h), so that a test
// asserts what `audit verify`, `audit show` and recovery see, not what a string search finds.
// A line the reader refuses fails the test. Plain functions: thread-safe on distinct trails.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "audit/AuditLog.h"
#include "audit/Records.h"

namespace bulkwarden::testing {

// Every record of the audit file at `path` (that file only, not its rotated ones), or of `type`
// only; none when there is no such file yet. Safe while the daemon writes the trail: it reads a
// snapshot and stops at its last newline (a line still being written is not a record yet); any
// complete line the reader refuses fails the test.
inline std::vector<audit::Record> auditRecords(
    const std::string& path, std::optional<audit::RecordType> type = std::nullopt) {
  std::vector<audit::Record> out;
  std::ifstream in(path, std::ios::binary);
  if (!in) return out;  // not written yet: no records
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto end = text.rfind('\n');
  text.resize(end == std::string::npos ? 0 : end + 1);
  audit::RecordParser parser;
  size_t lineNo = 0;
  for (size_t at = 0; at < text.size();) {
    const size_t nl = text.find('\n', at);
    ++lineNo;
    auto parsed = parser.parse(std::string_view(text).substr(at, nl - at));
    at = nl + 1;
    if (!parsed) {
      ADD_FAILURE() << path << ":" << lineNo << ": not an audit record: " << parsed.error;
      continue;
    }
    if (!type || parsed.record->type == type) out.push_back(*parsed.record);
  }
  return out;
}

// The JSON objects of those records, for tests that read fields the reader has no accessor for.
inline std::vector<Poco::JSON::Object::Ptr> auditObjects(
    const std::string& path, std::optional<audit::RecordType> type = std::nullopt) {
  std::vector<Poco::JSON::Object::Ptr> out;
  for (auto& r : auditRecords(path, type)) out.push_back(r.object);
  return out;
}

// The type named `name` ("intent", "run-end"...); an unknown name fails the test.
inline std::optional<audit::RecordType> recordType(const std::string& name) {
  if (name.empty()) return std::nullopt;
  auto t = audit::parseRecordType(name);
  EXPECT_TRUE(t.has_value()) << "no record type named " << name;
  return t;
}

// Whether the trail holds an intent for job `id`. Safe while the trail is being written (a line
// still being written is not a record yet); only lines naming `id` are parsed.
inline bool intentFor(const std::string& path, const std::string& id) {
  audit::RecordParser parser;
  bool found = false;
  (void)audit::readTrailLines({path}, [&](const std::string&, std::string_view line) {
    if (found || line.find(id) == std::string_view::npos) return;
    auto parsed = parser.parse(line);
    if (!parsed || !parsed.record->is(audit::RecordType::Intent)) return;
    auto job = parsed.record->job();
    found = job && job->id == id;
  });
  return found;
}

// How many intents the trail holds so far (safe while it is being written, as intentFor).
inline int intentCount(const std::string& path) {
  audit::RecordParser parser;
  int n = 0;
  (void)audit::readTrailLines({path}, [&](const std::string&, std::string_view line) {
    if (line.find("\"intent\"") == std::string_view::npos) return;  // most records are not
    auto parsed = parser.parse(line);
    n += parsed && parsed.record->is(audit::RecordType::Intent);
  });
  return n;
}

}  // namespace bulkwarden::testing
