// A Bulk API 2.0 job as listed by Salesforce, and the enums that describe it.
// Plain values; safe to copy between threads.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "model/Time.h"

namespace bulkwarden::model {

// Which job list a job comes from: /jobs/query or /jobs/ingest.
enum class ResourceKind { Query, Ingest };

// The config spelling: "query-jobs" | "ingest-jobs".
std::string_view resourceName(ResourceKind kind);
std::optional<ResourceKind> parseResourceName(std::string_view name);
// The URL path segment and audit `kind`: "query" | "ingest".
std::string_view resourcePath(ResourceKind kind);

// Job states of docs/salesforce.md 2.2 and 3 (both kinds share one set).
enum class JobState { Open, UploadComplete, InProgress, JobComplete, Failed, Aborted };
inline constexpr std::array<JobState, 6> kAllJobStates = {
    JobState::Open,        JobState::UploadComplete, JobState::InProgress,
    JobState::JobComplete, JobState::Failed,         JobState::Aborted};

std::string_view toString(JobState state);
std::optional<JobState> parseJobState(std::string_view text);
// JobComplete, Failed and Aborted: Salesforce will not move the job again.
bool isTerminal(JobState state);

// The fields a policy can match on: the list-record field set of docs/salesforce.md 4.
enum class JobField {
  Id,
  Operation,
  Object,
  CreatedById,
  CreatedDate,
  SystemModstamp,
  State,
  ConcurrencyMode,
  ContentType,
  ApiVersion,
  JobType,
  LineEnding,
  ColumnDelimiter,
};
inline constexpr std::array<JobField, 13> kAllJobFields = {JobField::Id,
                                                           JobField::Operation,
                                                           JobField::Object,
                                                           JobField::CreatedById,
                                                           JobField::CreatedDate,
                                                           JobField::SystemModstamp,
                                                           JobField::State,
                                                           JobField::ConcurrencyMode,
                                                           JobField::ContentType,
                                                           JobField::ApiVersion,
                                                           JobField::JobType,
                                                           JobField::LineEnding,
                                                           JobField::ColumnDelimiter};

// Salesforce's JSON spelling, e.g. "createdById".
std::string_view fieldName(JobField field);
std::optional<JobField> parseFieldName(std::string_view name);
// createdDate and systemModstamp hold timestamps; every other field is text.
bool isTimeField(JobField field);

struct Job {
  ResourceKind kind = ResourceKind::Query;
  std::string id;
  std::string operation;
  std::string object;
  std::string createdById;
  Timestamp createdDate{};
  Timestamp systemModstamp{};
  JobState state = JobState::UploadComplete;
  std::string concurrencyMode;
  std::string contentType;
  std::string apiVersion;  // "62.0": normalised from a JSON number or string
  std::string jobType;
  std::string lineEnding;
  std::string columnDelimiter;

  // The text of a field as Salesforce would show it (timestamps in the +0000 form).
  std::string text(JobField field) const;
  // A text field without copying; empty for the two time fields (use createdDate/systemModstamp).
  std::string_view view(JobField field) const;
  // A Bulk API 1.0 job (jobType "Classic"): listed by the 2.0 endpoints, but read and aborted
  // only through the 1.0 resource /services/async/{ver}/job/{id}, and never deleted.
  bool isClassic() const { return jobType == "Classic"; }
  // createdDate or systemModstamp; `field` must be a time field.
  Timestamp time(JobField field) const {
    return field == JobField::SystemModstamp ? systemModstamp : createdDate;
  }
};

}  // namespace bulkwarden::model
