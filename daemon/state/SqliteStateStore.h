// The state store on disk: one SQLite database (state-dir/state.sqlite) through POCO Data.
// Each (org, kind)'s rows are read once into memory on first use and kept in step, so a page of
// 1000 jobs costs one write transaction and no reads. Thread-safe (one mutex; passes of different
// orgs take turns for the few milliseconds a page takes).
#pragma once

#include <Poco/Data/Session.h>

#include <memory>
#include <set>

#include "state/StateStore.h"

namespace bulkwarden::state {

class SqliteStateStore : public MemoryStateStore {
 public:
  // Opens or creates `path`; throws StateError when it cannot.
  explicit SqliteStateStore(const std::string& path);
  ~SqliteStateStore() override;

  std::vector<model::Timestamp> observe(const std::string& org, model::ResourceKind kind,
                                        std::span<const model::Job> jobs,
                                        model::Timestamp now) override;
  void prune(const std::string& org, model::ResourceKind kind,
             model::Timestamp listingStarted) override;
  std::optional<model::Timestamp> lastPass(const std::string& org,
                                           const std::string& policy) override;
  void recordPass(const std::string& org, const std::string& policy,
                  model::Timestamp when) override;

 private:
  void loadLocked(const std::string& org, model::ResourceKind kind);

  std::string path_;
  std::unique_ptr<Poco::Data::Session> session_;
  std::set<std::pair<std::string, int>> loaded_;
};

}  // namespace bulkwarden::state
