// How the simulated org writes its replies: Bulk API 2.0 job JSON in the field sets Salesforce
// uses for create, list, single GET and PATCH replies, list pages, error arrays, the limits and
// versions resources. Pure functions of their arguments; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sim/JobStore.h"
#include "sim/SimMessages.h"

namespace bulkwarden::sim::render {

// [{"errorCode":...,"message":...}] with `status`.
SimResponse error(int status, std::string_view code, std::string_view message);

// A list record (13 fields, no counters), without the closing brace.
void appendListRecord(std::string& out, const StoredJob& job, const JobView& v);
// The PATCH reply: 10 fields.
std::string shortInfo(const StoredJob& job, const JobView& v);
// The single GET: the list fields plus counters and, for ingest, processing times.
std::string fullInfo(const StoredJob& job, const JobView& v, int64_t now);

// A listing page around records written by `appendListRecord` (each closed by the caller).
void beginPage(std::string& out, bool done);
// `nextUrl` empty: null.
void endPage(std::string& out, std::string_view nextUrl);

std::string limits(int64_t max, int64_t used);
std::string versions(int oldest, int newest);

// Bulk API 1.0: the job's 1.0 state (Open, Closed, Aborted, Failed), its JobInfo in JSON or XML
// (dates with Z), and the 1.0 error body with HTTP 400.
std::string_view classicState(JobState state);
std::string classicInfo(const StoredJob& job, const JobView& v, bool json);
SimResponse classicError(std::string_view code, std::string_view message, bool json);

// "Completed", "Failed", "Aborted" or "Active": the word in INVALIDJOBSTATE messages.
std::string_view stateWord(JobState state);

}  // namespace bulkwarden::sim::render
