#include "model/Job.h"

#include "model/Names.h"

namespace bulkwarden::model {

namespace {

constexpr std::array<Named<ResourceKind>, 2> kResourceNames{{
    {ResourceKind::Query, "query-jobs"},
    {ResourceKind::Ingest, "ingest-jobs"},
}};

constexpr std::array<Named<JobState>, 6> kJobStateNames{{
    {JobState::Open, "Open"},
    {JobState::UploadComplete, "UploadComplete"},
    {JobState::InProgress, "InProgress"},
    {JobState::JobComplete, "JobComplete"},
    {JobState::Failed, "Failed"},
    {JobState::Aborted, "Aborted"},
}};
static_assert(kJobStateNames.size() == kAllJobStates.size());

constexpr std::array<Named<JobField>, 13> kJobFieldNames{{
    {JobField::Id, "id"},
    {JobField::Operation, "operation"},
    {JobField::Object, "object"},
    {JobField::CreatedById, "createdById"},
    {JobField::CreatedDate, "createdDate"},
    {JobField::SystemModstamp, "systemModstamp"},
    {JobField::State, "state"},
    {JobField::ConcurrencyMode, "concurrencyMode"},
    {JobField::ContentType, "contentType"},
    {JobField::ApiVersion, "apiVersion"},
    {JobField::JobType, "jobType"},
    {JobField::LineEnding, "lineEnding"},
    {JobField::ColumnDelimiter, "columnDelimiter"},
}};
static_assert(kJobFieldNames.size() == kAllJobFields.size());

}  // namespace

std::string_view resourceName(ResourceKind kind) { return nameOf(kResourceNames, kind); }

std::optional<ResourceKind> parseResourceName(std::string_view name) {
  return valueNamed(kResourceNames, name);
}

std::string_view resourcePath(ResourceKind kind) {
  return kind == ResourceKind::Query ? "query" : "ingest";
}

std::string_view toString(JobState state) { return nameOf(kJobStateNames, state); }

std::optional<JobState> parseJobState(std::string_view text) {
  return valueNamed(kJobStateNames, text);
}

bool isTerminal(JobState state) {
  return state == JobState::JobComplete || state == JobState::Failed || state == JobState::Aborted;
}

std::string_view fieldName(JobField field) { return nameOf(kJobFieldNames, field); }

std::optional<JobField> parseFieldName(std::string_view name) {
  return valueNamed(kJobFieldNames, name);
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
