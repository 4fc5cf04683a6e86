// The list-page mapping before the streaming handler (POCO document tree): an oracle for
// differential fuzzing of parseJobList and parseJob. See JobMappingReference.cpp.
#pragma once

#include "salesforce/JobMapping.h"

namespace bulkwarden::salesforce {

Result<ListPage> referenceParseJobList(std::string_view body, model::ResourceKind kind);
Result<model::Job> referenceParseJob(std::string_view body, model::ResourceKind kind);

}  // namespace bulkwarden::salesforce
