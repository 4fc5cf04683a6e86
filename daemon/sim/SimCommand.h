// `bulkwarden sim`: serves a simulated org until SIGINT or SIGTERM. Call from the main thread
// before any other thread exists (it blocks those signals for the threads it starts).
#pragma once

#include <string>
#include <vector>

namespace bulkwarden::sim {

// `bulkwarden sim [--listen HOST:PORT] [--seed N] [--time-scale X] [--page-size N] [--api-max N]
// [--jobs SPEC]... [--empty] [--token T] [--next-url-on-ingest-path] [--not-found-as-400] [--help]`
// `args` excludes "sim". Prints `bulkwarden sim: URL token TOKEN` as the first stdout line.
// Returns 0, or 64 on a usage error, 70 when the server cannot start.
int simCommand(const std::vector<std::string>& args);

}  // namespace bulkwarden::sim
