// Jobs for engine unit tests: a query job of the integration user on Account, created at a
// given time. Pure helpers; thread-safe.
#pragma once

#include <string>
#include <utility>

#include "model/Job.h"
#include "model/Time.h"

namespace bulkwarden::testing {

inline model::Timestamp t(const char* iso) { return *model::parseTimestamp(iso); }

inline model::Job queryJob(std::string id, model::JobState state,
                           const char* created = "2026-11-29T10:00:00Z") {
  model::Job j;
  j.id = std::move(id);
  j.kind = model::ResourceKind::Query;
  j.state = state;
  j.object = "Account";
  j.operation = "query";
  j.createdById = "005R0000000GiwjIAC";
  j.createdDate = t(created);
  j.systemModstamp = j.createdDate;
  return j;
}

}  // namespace bulkwarden::testing
