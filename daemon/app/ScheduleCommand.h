// `bulkwarden schedule`: the next pass times of every policy, like `systemctl list-timers`.
// Reads the config (no secret is resolved, no org is called) and, when it can, a copy of the
// state store for the policies' last passes. Single-threaded.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/Time.h"
#include "policy/Policy.h"

namespace bulkwarden::app {

int scheduleCommand(const std::vector<std::string>& args);

// Per policy, its next `count` pass times from `from` (policy::Schedule::upcoming, the function
// the scheduler follows), ordered by the first. `last`: each policy's last pass, by name.
struct PolicyTimes {
  const policy::Policy* policy = nullptr;
  std::vector<model::Timestamp> next;
};
std::vector<PolicyTimes> policyTimes(const std::vector<policy::Policy>& policies,
                                     const std::map<std::string, model::Timestamp>& last,
                                     model::Timestamp from, size_t count);
// The JSON of `schedule --format json`: [{"policy": "name", "next": ["2026-12-02T01:00:00Z"]}].
std::string scheduleJson(const std::vector<PolicyTimes>& times);

// For `run --once`, which runs every policy now: one line for each policy that `now` is outside
// the schedule of (a cron policy with no fire time within its starting deadline before `now`),
// or outside the windows of (its matches are held back).
std::vector<std::string> outsideScheduleNotes(const std::vector<const policy::Policy*>& policies,
                                              model::Timestamp now);

}  // namespace bulkwarden::app
