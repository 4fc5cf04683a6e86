#include "model/Job.h"

namespace bulkwarden::model {

std::string_view resourceName(ResourceKind kind) {
  return kind == ResourceKind::Query ? "query-jobs" : "ingest-jobs";
}

std::optional<ResourceKind> parseResourceName(std::string_view name) {
  if (name == "query-jobs") return ResourceKind::Query;
  if (name == "ingest-jobs") return ResourceKind::Ingest;
  return std::nullopt;
}

std::string_view resourcePath(ResourceKind kind) {
  return kind == ResourceKind::Query ? "query" : "ingest";
}

std::string_view toString(JobState state) {
  switch (state) {
    case JobState::Open:
      return "Open";
    case JobState::UploadComplete:
      return "UploadComplete";
    case JobState::InProgress:
      return "InProgress";
    case JobState::JobComplete:
      return "JobComplete";
    case JobState::Failed:
      return "Failed";
    case JobState::Aborted:
      return "Aborted";
  }
  return "?";
}

std::optional<JobState> parseJobState(std::string_view text) {
  for (JobState s : kAllJobStates) {
    if (toString(s) == text) return s;
  }
  return std::nullopt;
}

bool isTerminal(JobState state) {
  return state == JobState::JobComplete || state == JobState::Failed || state == JobState::Aborted;
}

std::string_view fieldName(JobField field) {
  switch (field) {
    case JobField::Id:
      return "id";
    case JobField::Operation:
      return "operation";
    case JobField::Object:
      return "object";
    case JobField::CreatedById:
      return "createdById";
    case JobField::CreatedDate:
      return "createdDate";
    case JobField::SystemModstamp:
      return "systemModstamp";
    case JobField::State:
      return "state";
    case JobField::ConcurrencyMode:
      return "concurrencyMode";
    case JobField::ContentType:
      return "contentType";
    case JobField::ApiVersion:
      return "apiVersion";
    case JobField::JobType:
      return "jobType";
    case JobField::LineEnding:
      return "lineEnding";
    case JobField::ColumnDelimiter:
      return "columnDelimiter";
  }
  return "?";
}

std::optional<JobField> parseFieldName(std::string_view name) {
  for (JobField f : kAllJobFields) {
    if (fieldName(f) == name) return f;
  }
  return std::nullopt;
}

bool isTimeField(JobField field) {
  return field == JobField::CreatedDate || field == JobField::SystemModstamp;
}

std::string Job::text(JobField field) const {
  if (isTimeField(field)) return formatSalesforce(time(field));
  return std::string(view(field));
}

std::string_view Job::view(JobField field) const {
  switch (field) {
    case JobField::Id:
      return id;
    case JobField::Operation:
      return operation;
    case JobField::Object:
      return object;
    case JobField::CreatedById:
      return createdById;
    case JobField::CreatedDate:
    case JobField::SystemModstamp:
      return {};
    case JobField::State:
      return toString(state);
    case JobField::ConcurrencyMode:
      return concurrencyMode;
    case JobField::ContentType:
      return contentType;
    case JobField::ApiVersion:
      return apiVersion;
    case JobField::JobType:
      return jobType;
    case JobField::LineEnding:
      return lineEnding;
    case JobField::ColumnDelimiter:
      return columnDelimiter;
  }
  return {};
}

}  // namespace bulkwarden::model
