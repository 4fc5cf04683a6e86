// Where the built bulkwarden binary is, for tests that run it as a child process.
#pragma once

#include <string>

namespace bulkwarden::testing {

// Absolute path of the bulkwarden executable this test binary was built with.
const std::string& binaryPath();

}  // namespace bulkwarden::testing
