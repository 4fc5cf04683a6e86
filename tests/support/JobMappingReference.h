// The list-page mapping before the streaming handler (POCO document tree): an oracle for
// differential fuzzing of parseJobList and parseJob. See JobMappingReference.cpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "salesforce/JobMapping.h"

namespace bulkwarden::salesforce {

Result<ListPage> referenceParseJobList(std::string_view body, model::ResourceKind kind);
Result<model::Job> referenceParseJob(std::string_view body, model::ResourceKind kind);

// How parseJobList and parseJob on `body` differ from the reference: acceptance, error kind and
// message, done, next URL, every job field, every skipped id and reason. nullopt when they agree.
std::optional<std::string> differenceFromReference(std::string_view body, model::ResourceKind kind);

}  // namespace bulkwarden::salesforce
