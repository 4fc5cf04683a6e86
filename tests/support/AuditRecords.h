// Reads an audit trail in tests through the daemon's own reader (audit/Records.h), so that a test
// asserts what `audit verify`, `audit show` and recovery see, not what a string search finds.
// A line the reader refuses fails the test. Plain functions: thread-safe on distinct trails.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "audit/AuditLog.h"
#include "audit/Records.h"

namespace bulkwarden::testing {

// Every record of the audit file at `path` (that file only, not its rotated ones), or of `type`
// only; none when there is no such file yet.
inline std::vector<audit::Record> auditRecords(
    const std::string& path, std::optional<audit::RecordType> type = std::nullopt) {
  std::vector<audit::Record> out;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return out;  // not written yet: no records
  std::string why = audit::readRecords(
      {path},
      [&](const audit::Record& r) {
        if (!type || r.type == type) out.push_back(r);
      },
      [&](const std::string& file, const audit::ParsedLine& bad) {
        ADD_FAILURE() << file << ": not an audit record: " << bad.error;
      });
  EXPECT_TRUE(why.empty()) << why;
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
