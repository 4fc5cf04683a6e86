// The binary's path comes in as a compile definition on this file alone, so that compiler caches
// share every other test object between checkouts.
#include "support/BinaryPath.h"

namespace bulkwarden::testing {

const std::string& binaryPath() {
  static const std::string path = BULKWARDEN_BINARY;
  return path;
}

}  // namespace bulkwarden::testing
