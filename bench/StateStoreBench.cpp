// The state store in steady state: observe of a 1,000-job list page against a state.sqlite that
// already holds the org's 100,000 jobs, every job seen before in the same state (a pass over an
// org that has not changed). Pages are taken in listing order, as a pass lists them, so that the
// SQLite page cache is not flattered. items_per_second = jobs observed per second. Pages are made
// as needed rather than held, so that the process's peak RSS is the store's.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "state/SqliteStateStore.h"

namespace bulkwarden {
namespace {

namespace fs = std::filesystem;

constexpr int kPages = 100;
constexpr int kPageSize = 1000;
const model::Timestamp kStart = *model::parseTimestamp("2026-11-29T12:00:00Z");

std::vector<model::Job> makePage(int p) {
  std::mt19937 rng(static_cast<unsigned>(p));
  std::vector<model::Job> jobs(kPageSize);
  for (int i = 0; i < kPageSize; ++i) {
    jobs[i].id = fmt::format("750R0{:06}{:06}A", p, i);
    jobs[i].state = model::kAllJobStates[rng() % model::kAllJobStates.size()];
  }
  return jobs;
}

// One database for the whole run, filled once by observing every page (as a first pass does).
struct Org {
  Org() : dir(fs::temp_directory_path() / fmt::format("bw-state-bench-{}", ::getpid())) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    state::SqliteStateStore store(db());
    for (int p = 0; p < kPages; ++p) {
      store.observe("acme", model::ResourceKind::Query, makePage(p), kStart);
    }
  }
  ~Org() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string db() const { return (dir / "state.sqlite").string(); }
  fs::path dir;
};

void BM_StateStoreObservePage(benchmark::State& state) {
  static Org org;
  state::SqliteStateStore store(org.db());
  auto now = kStart;
  // A store that has been running: whatever its first call costs is not the steady state.
  store.observe("acme", model::ResourceKind::Query, makePage(kPages - 1), now);
  int p = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto page = makePage(p);
    now += std::chrono::seconds(1);
    state.ResumeTiming();
    auto since = store.observe("acme", model::ResourceKind::Query, page, now);
    if (since.size() != kPageSize || since.front() != kStart) {
      state.SkipWithError("observe lost a first-seen time");
      break;
    }
    benchmark::DoNotOptimize(since.data());
    p = (p + 1) % kPages;
  }
  state.SetItemsProcessed(state.iterations() * kPageSize);
}
BENCHMARK(BM_StateStoreObservePage)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace bulkwarden
